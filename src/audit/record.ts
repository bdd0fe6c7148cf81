// What a decision leaves behind: the audit annotations the API server writes into its audit
// log, and the structured decision log line. Paths only, never values: nothing secret leaks.
import type { AdmissionRequest } from '../kube/admission.js';
import type { Decision } from '../policy/decision.js';

/** Bumped only when a field of the decision log line changes meaning or disappears. */
export const DECISION_LOG_VERSION = 1;

// The API server prefixes each key with the webhook's name (`validate.driftgate.io/decision`).
const DRIFT_ANNOTATION_LIMIT = 2048;

export function auditAnnotations(decision: Decision): Record<string, string> {
  if (decision.silent) return {};
  const annotations: Record<string, string> = { decision: decision.kind };
  if (decision.drift.length > 0)
    annotations.drift = boundedPathList(decision.drift.map((d) => d.path));
  if (decision.origin !== undefined) {
    annotations.source = `${decision.origin.source}:${decision.origin.file}`;
    annotations.revision = decision.origin.commit;
    annotations['protected-by'] = protectedBy(decision);
  }
  if (decision.breakGlassReason !== undefined && decision.kind === 'break-glass') {
    annotations['break-glass-reason'] = decision.breakGlassReason;
  }
  return annotations;
}

/** What the object was compared with: Git as rendered, or the sync tool's record on it. */
export function protectedBy(decision: Decision): 'git' | 'sync-record' | 'none' {
  if (decision.origin === undefined) return 'none';
  return decision.origin.by === 'sync-record' ? 'sync-record' : 'git';
}

function boundedPathList(paths: readonly string[]): string {
  const kept: string[] = [];
  for (const path of paths) {
    if (JSON.stringify([...kept, path]).length > DRIFT_ANNOTATION_LIMIT) {
      kept.push(`… ${paths.length - kept.length} more`);
      break;
    }
    kept.push(path);
  }
  return JSON.stringify(kept);
}

export interface DecisionLogLine {
  readonly v: number;
  readonly msg: 'decision';
  readonly webhook: 'validate' | 'mutate';
  readonly uid: string;
  readonly user: string;
  readonly groups: readonly string[];
  readonly operation: string;
  readonly subresource: string | undefined;
  readonly group: string | undefined;
  readonly kind: string | undefined;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly dryRun: boolean;
  readonly decision: Decision['kind'];
  readonly allowed: boolean;
  readonly reason: string;
  readonly mode: Decision['mode'];
  readonly drift: readonly string[];
  readonly preexisting: readonly string[];
  readonly source: string | undefined;
  readonly file: string | undefined;
  readonly commit: string | undefined;
  /** `git`, `sync-record` (the sync tool's record on the object), or `none`. */
  readonly protectedBy: 'git' | 'sync-record' | 'none';
  readonly breakGlassReason: string | undefined;
  readonly message: string;
}

export function decisionLogLine(
  request: AdmissionRequest,
  decision: Decision,
  webhook: 'validate' | 'mutate',
): DecisionLogLine {
  return {
    v: DECISION_LOG_VERSION,
    msg: 'decision',
    webhook,
    uid: request.uid,
    user: request.userInfo.username ?? '',
    groups: request.userInfo.groups ?? [],
    operation: request.operation,
    subresource: request.subResource,
    group: decision.key?.group,
    kind: decision.key?.kind,
    namespace: decision.key?.namespace,
    name: decision.key?.name,
    dryRun: decision.dryRun,
    decision: decision.kind,
    allowed: decision.allowed,
    reason: decision.reason,
    mode: decision.mode,
    drift: decision.drift.map((d) => d.path),
    preexisting: decision.preexisting.map((d) => d.path),
    source: decision.origin?.source,
    file: decision.origin?.file,
    commit: decision.origin?.commit,
    protectedBy: protectedBy(decision),
    breakGlassReason: decision.breakGlassReason,
    message: decision.message,
  };
}
