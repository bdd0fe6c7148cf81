// Errors raised where driftgate meets Git, renderers and the disk: a stable code for alerts and
// tests, and a message that tells a cluster admin which source failed and what to do.

export const errorCodes = {
  config: 'DRIFTGATE_ERR_CONFIG',
  unsafeSource: 'DRIFTGATE_ERR_UNSAFE_SOURCE',
  gitFetch: 'DRIFTGATE_ERR_GIT_FETCH',
  gitRevision: 'DRIFTGATE_ERR_GIT_REVISION',
  gitCheckout: 'DRIFTGATE_ERR_GIT_CHECKOUT',
  gitCredentials: 'DRIFTGATE_ERR_GIT_CREDENTIALS',
  render: 'DRIFTGATE_ERR_RENDER',
  renderTimeout: 'DRIFTGATE_ERR_RENDER_TIMEOUT',
  renderOutputLimit: 'DRIFTGATE_ERR_RENDER_OUTPUT_LIMIT',
  manifest: 'DRIFTGATE_ERR_MANIFEST',
  cache: 'DRIFTGATE_ERR_CACHE',
  /** A render held back by safety.maxDeletionShare; the previous one is served. */
  snapshotHeld: 'DRIFTGATE_ERR_SNAPSHOT_HELD',
  /** A certificate, key or CA file that cannot be read or used for TLS. */
  tlsFile: 'DRIFTGATE_ERR_TLS_FILE',
} as const;

export type ErrorCode = (typeof errorCodes)[keyof typeof errorCodes];

/** Where in a source a problem lies, when it lies in a file. */
export interface ErrorLocation {
  readonly source?: string;
  readonly file?: string;
  readonly line?: number;
}

export class DriftgateError extends Error {
  override readonly name = 'DriftgateError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly location: ErrorLocation = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isDriftgateError(error: unknown): error is DriftgateError {
  return error instanceof DriftgateError;
}

/** A message for any thrown value: never `{}` and never a stack trace. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
