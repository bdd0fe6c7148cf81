// Reading an AdmissionReview off the wire and writing one back, in the shape of
// controller-runtime's admission package: small constructors for every kind of answer.
import type { AdmissionRequest, AdmissionResponse, AdmissionReview } from '../kube/admission.js';
import { isJsonObject } from '../kube/object.js';
import { parseReviewBody } from './review-body.js';

/** 7 MiB: object and oldObject can each approach the API server's 3 MiB object limit. */
export const MAX_REVIEW_BYTES = 7 * 1024 * 1024;

export type ParsedReview =
  | { readonly ok: true; readonly request: AdmissionRequest }
  | { readonly ok: false; readonly status: number; readonly message: string };

const OPERATIONS = new Set(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']);

/** Checks that a body is an admission.k8s.io/v1 AdmissionReview carrying a request. */
export function parseReview(body: Buffer | string): ParsedReview {
  let value: unknown;
  try {
    value = typeof body === 'string' ? JSON.parse(body) : parseReviewBody(body);
  } catch {
    return { ok: false, status: 400, message: 'the body is not JSON' };
  }
  if (!isJsonObject(value))
    return { ok: false, status: 400, message: 'the body is not a JSON object' };
  if (value.apiVersion !== 'admission.k8s.io/v1' || value.kind !== 'AdmissionReview') {
    return {
      ok: false,
      status: 400,
      message:
        'expected apiVersion admission.k8s.io/v1 and kind AdmissionReview (set admissionReviewVersions: [v1])',
    };
  }
  const request = value.request;
  if (!isJsonObject(request))
    return { ok: false, status: 400, message: 'the review has no request' };
  if (typeof request.uid !== 'string' || request.uid === '') {
    return { ok: false, status: 400, message: 'the review request has no uid' };
  }
  const problem = requestProblem(request);
  if (problem !== undefined) return { ok: false, status: 400, message: problem };
  return { ok: true, request: request as unknown as AdmissionRequest };
}

function requestProblem(request: Record<string, unknown>): string | undefined {
  if (typeof request.operation !== 'string' || !OPERATIONS.has(request.operation)) {
    return 'request.operation must be CREATE, UPDATE, DELETE or CONNECT';
  }
  for (const field of ['kind', 'resource'] as const) {
    const value = request[field];
    if (
      !isJsonObject(value) ||
      typeof value.group !== 'string' ||
      typeof value.version !== 'string'
    ) {
      return `request.${field} must have group and version`;
    }
  }
  if (!isJsonObject(request.userInfo)) return 'request.userInfo is required';
  // Who asks decides a lot (sync identity, break-glass): a mistyped identity is refused here
  // rather than becoming an internal error, which fails open.
  const { username, groups } = request.userInfo;
  if (username !== undefined && typeof username !== 'string')
    return 'request.userInfo.username must be a string';
  if (
    groups !== undefined &&
    groups !== null &&
    !(Array.isArray(groups) && groups.every((group) => typeof group === 'string'))
  )
    return 'request.userInfo.groups must be a list of strings';
  if (request.dryRun !== undefined && typeof request.dryRun !== 'boolean')
    return 'request.dryRun must be true or false';
  for (const field of ['object', 'oldObject'] as const) {
    const value = request[field];
    if (value !== undefined && value !== null && !isJsonObject(value))
      return `request.${field} must be an object`;
  }
  for (const field of ['name', 'namespace', 'subResource'] as const) {
    const value = request[field];
    if (value !== undefined && typeof value !== 'string')
      return `request.${field} must be a string`;
  }
  return undefined;
}

export function review(response: AdmissionResponse): AdmissionReview {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}

interface Extras {
  readonly warnings?: readonly string[];
  readonly auditAnnotations?: Readonly<Record<string, string>>;
}

function withExtras(response: AdmissionResponse, extras: Extras): AdmissionResponse {
  return {
    ...response,
    ...(extras.warnings !== undefined && extras.warnings.length > 0
      ? { warnings: extras.warnings }
      : {}),
    ...(extras.auditAnnotations !== undefined && Object.keys(extras.auditAnnotations).length > 0
      ? { auditAnnotations: extras.auditAnnotations }
      : {}),
  };
}

export function allowed(uid: string, extras: Extras = {}): AdmissionResponse {
  return withExtras({ uid, allowed: true }, extras);
}

export function denied(uid: string, message: string, extras: Extras = {}): AdmissionResponse {
  return withExtras(
    { uid, allowed: false, status: { code: 403, reason: 'Forbidden', message } },
    extras,
  );
}

export function patched(
  uid: string,
  patch: readonly unknown[],
  extras: Extras = {},
): AdmissionResponse {
  if (patch.length === 0) return allowed(uid, extras);
  return withExtras(
    {
      uid,
      allowed: true,
      patchType: 'JSONPatch',
      patch: Buffer.from(JSON.stringify(patch)).toString('base64'),
    },
    extras,
  );
}
