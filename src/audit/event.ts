// The Kubernetes Event a decision leaves (DESIGN.md §1): denials and break-glass uses, never
// dry-runs. Pure; src/cluster/events.ts writes it to the API server.
import type { AdmissionRequest } from '../kube/admission.js';
import { formatKey } from '../kube/object.js';
import type { Decision } from '../policy/decision.js';

/** The API server rejects a longer `note` (events.k8s.io/v1 validation counts bytes). */
export const EVENT_NOTE_LIMIT_BYTES = 1024;

export type DriftgateEventReason = 'DriftDenied' | 'BreakGlass';

/** The object an Event is about; `namespace` is '' for cluster-scoped objects. */
export interface EventRegarding {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
}

export interface DriftgateEvent {
  readonly reason: DriftgateEventReason;
  readonly type: 'Normal' | 'Warning';
  /** What driftgate did: `DenyUpdate`, `AllowDelete`… */
  readonly action: string;
  readonly regarding: EventRegarding;
  /** Human-readable; paths and names only, never field values (Secrets). */
  readonly note: string;
}

/** The Event a validating decision leaves, if any: denials and break-glass uses, never dry-runs. */
export function decisionEvent(
  request: AdmissionRequest,
  decision: Decision,
): DriftgateEvent | undefined {
  if (decision.dryRun || request.dryRun === true || decision.silent) return undefined;
  const key = decision.key;
  if (key === undefined) return undefined;
  const reason: DriftgateEventReason | undefined =
    decision.kind === 'denied'
      ? 'DriftDenied'
      : decision.kind === 'break-glass'
        ? 'BreakGlass'
        : undefined;
  if (reason === undefined) return undefined;

  // `scale` writes name the parent (key.kind) through the resource, not the Scale kind.
  const { group, version } = request.resource;
  const uid = (request.object ?? request.oldObject)?.metadata?.uid;
  const regarding: EventRegarding = {
    apiVersion: group === '' ? version : `${group}/${version}`,
    kind: key.kind,
    namespace: key.namespace,
    name: key.name,
    ...(typeof uid === 'string' && uid !== '' ? { uid } : {}),
  };
  const operation = request.operation.charAt(0) + request.operation.slice(1).toLowerCase();
  // The first line of a denial never carries a field's value; later lines may (Git's and the
  // request's), and a Secret's must not reach an Event that anyone with `get events` reads.
  const summary =
    reason === 'DriftDenied'
      ? (decision.message.split('\n', 1)[0] ?? '').replace(/:$/, '')
      : `${request.operation} of ${formatKey(key)} by ${request.userInfo.username ?? '(unknown user)'} allowed under break-glass: ${decision.breakGlassReason ?? ''}`;
  const paths = decision.drift.map((d) => d.path);
  const note = paths.length === 0 ? summary : `${summary}. Fields: ${paths.join(', ')}`;
  return {
    reason,
    // Break-glass is allowed, but it leaves the object away from Git until Git or sync catches
    // up: on call and reviewers look for it among the Warnings.
    type: 'Warning',
    action: `${decision.allowed ? 'Allow' : 'Deny'}${operation}`,
    regarding,
    note: boundNote(note),
  };
}

/** `text` cut to the API server's limit in UTF-8 bytes, marked with an ellipsis when cut. */
export function boundNote(text: string, limitBytes = EVENT_NOTE_LIMIT_BYTES): string {
  if (Buffer.byteLength(text) <= limitBytes) return text;
  const ellipsis = '…';
  let kept = '';
  let bytes = Buffer.byteLength(ellipsis);
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (bytes + size > limitBytes) break;
    kept += char;
    bytes += size;
  }
  return kept + ellipsis;
}
