// One reviewed write, whether driftgate's decision log or the API server's audit log recorded
// it: both are read into the same shape so they can be filtered, matched and summed up alike.
import { annotations as wellKnown } from '../../kube/well-known.js';
import { resourceOf } from '../../kube/resource-name.js';

export type EntryOrigin = 'decision-log' | 'audit-log';

export interface AuditEntry {
  /** ISO 8601, UTC: when the decision was logged, or when the API server received the request. */
  readonly time: string;
  readonly user: string;
  readonly groups: readonly string[];
  /** CREATE, UPDATE or DELETE, as in an AdmissionReview (audit `patch` and `update` → UPDATE). */
  readonly operation: string;
  readonly group: string | undefined;
  /** Known from the decision log; the audit log names the `resource` instead. */
  readonly kind: string | undefined;
  readonly resource: string | undefined;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly subresource: string | undefined;
  readonly dryRun: boolean;
  readonly decision: string;
  readonly drift: readonly string[];
  /** `source:file` of the Git manifest. */
  readonly source: string | undefined;
  readonly revision: string | undefined;
  readonly breakGlassReason: string | undefined;
  /** When the break-glass stamped on the object ends, when the audit log kept the object. */
  readonly breakGlassExpires: string | undefined;
  readonly message: string | undefined;
  readonly origin: EntryOrigin;
  /** Whether the API server stored the write; unknown (undefined) from a decision log alone. */
  readonly committed: boolean | undefined;
  /** The review uid (decision log) or the audit ID (audit log). */
  readonly id: string;
  /** Set when a decision log line and an audit event were found to be the same request. */
  readonly matchedId: string | undefined;
}

/** What one input line turned out to be. */
export type ParsedLine =
  | { readonly kind: 'entry'; readonly entry: AuditEntry }
  | { readonly kind: 'not-json' }
  | { readonly kind: 'other' }
  /** An audit event that carries no driftgate decision: other requests, other stages. */
  | { readonly kind: 'unrelated-audit-event' };

export const DEFAULT_WEBHOOK_NAME = 'validate.driftgate.io';

const DENIED_PREFIX = /^admission webhook "[^"]*" denied the request: /;

export function parseLine(line: string, webhookName = DEFAULT_WEBHOOK_NAME): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { kind: 'not-json' };
  }
  if (!isRecord(value)) return { kind: 'other' };
  if (value.msg === 'decision' && typeof value.v === 'number') {
    const entry = fromDecisionLine(value);
    return entry === undefined ? { kind: 'other' } : { kind: 'entry', entry };
  }
  if (value.kind === 'Event' && value.apiVersion === 'audit.k8s.io/v1') {
    const entry = fromAuditEvent(value, webhookName);
    return entry === undefined ? { kind: 'unrelated-audit-event' } : { kind: 'entry', entry };
  }
  return { kind: 'other' };
}

function fromDecisionLine(line: Record<string, unknown>): AuditEntry | undefined {
  const decision = str(line.decision);
  if (decision === undefined) return undefined;
  const time = typeof line.time === 'number' ? new Date(line.time) : new Date(str(line.time) ?? '');
  if (Number.isNaN(time.getTime())) return undefined;
  const source = str(line.source);
  const file = str(line.file);
  return {
    time: time.toISOString(),
    user: str(line.user) ?? '',
    groups: strings(line.groups),
    operation: str(line.operation) ?? '',
    group: str(line.group),
    kind: str(line.kind),
    resource: undefined,
    namespace: nonEmpty(str(line.namespace)),
    name: str(line.name),
    subresource: nonEmpty(str(line.subresource)),
    dryRun: line.dryRun === true,
    decision,
    drift: strings(line.drift),
    source: source === undefined ? undefined : file === undefined ? source : `${source}:${file}`,
    revision: str(line.commit),
    breakGlassReason: str(line.breakGlassReason),
    breakGlassExpires: undefined,
    message: str(line.message),
    origin: 'decision-log',
    committed: undefined,
    id: str(line.uid) ?? '',
    matchedId: undefined,
  };
}

const OPERATIONS: Readonly<Record<string, string>> = {
  create: 'CREATE',
  update: 'UPDATE',
  patch: 'UPDATE',
  delete: 'DELETE',
  deletecollection: 'DELETE',
};

function fromAuditEvent(
  event: Record<string, unknown>,
  webhookName: string,
): AuditEntry | undefined {
  // The API server writes a webhook's audit annotations on the ResponseComplete stage only.
  if (event.stage !== 'ResponseComplete') return undefined;
  const annotations = isRecord(event.annotations) ? event.annotations : {};
  const annotation = (key: string) => str(annotations[`${webhookName}/${key}`]);
  const decision = annotation('decision');
  if (decision === undefined) return undefined;
  const time = new Date(str(event.requestReceivedTimestamp) ?? str(event.stageTimestamp) ?? '');
  if (Number.isNaN(time.getTime())) return undefined;
  // With impersonation, `user` is who authenticated and `impersonatedUser` who was judged.
  const actor = isRecord(event.impersonatedUser)
    ? event.impersonatedUser
    : isRecord(event.user)
      ? event.user
      : {};
  const ref = isRecord(event.objectRef) ? event.objectRef : {};
  const status = isRecord(event.responseStatus) ? event.responseStatus : {};
  const code = typeof status.code === 'number' ? status.code : undefined;
  const verb = str(event.verb) ?? '';
  // A dry run looks like a real request in the audit log but for its request URI.
  const dryRun = /[?&]dryRun=All(&|$)/.test(str(event.requestURI) ?? '');
  const message = str(status.message);
  return {
    time: time.toISOString(),
    user: str(actor.username) ?? '',
    groups: strings(actor.groups),
    operation: OPERATIONS[verb] ?? verb.toUpperCase(),
    group: str(ref.apiGroup) ?? '',
    kind: undefined,
    resource: str(ref.resource),
    namespace: nonEmpty(str(ref.namespace)),
    name: str(ref.name),
    subresource: nonEmpty(str(ref.subresource)),
    dryRun,
    decision,
    drift: driftPaths(annotation('drift')),
    source: annotation('source'),
    revision: annotation('revision'),
    breakGlassReason: annotation('break-glass-reason'),
    breakGlassExpires: expiresOf(event),
    message: message?.replace(DENIED_PREFIX, ''),
    origin: 'audit-log',
    committed: code !== undefined && code < 300 && !dryRun,
    id: str(event.auditID) ?? '',
    matchedId: undefined,
  };
}

/** driftgate writes a JSON list; other webhooks may write one plain path. */
function driftPaths(value: string | undefined): string[] {
  if (value === undefined || value === '') return [];
  if (value.startsWith('[')) {
    try {
      return strings(JSON.parse(value));
    } catch {
      return [value];
    }
  }
  return [value];
}

function expiresOf(event: Record<string, unknown>): string | undefined {
  for (const object of [event.responseObject, event.requestObject]) {
    if (!isRecord(object) || !isRecord(object.metadata)) continue;
    const annotations = object.metadata.annotations;
    if (isRecord(annotations)) {
      const expires = str(annotations[wellKnown.breakGlassExpires]);
      if (expires !== undefined) return expires;
    }
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === '' ? undefined : value;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** `apps/Deployment shop/web`, `apps/deployments shop/web/scale`, `/ConfigMap shop/x` → `ConfigMap shop/x`. */
export function formatObject(entry: AuditEntry): string {
  const type = entry.kind ?? entry.resource ?? '?';
  const typed = entry.group === undefined || entry.group === '' ? type : `${entry.group}/${type}`;
  const path = [entry.namespace, entry.name ?? '?', entry.subresource].filter(
    (part) => part !== undefined,
  );
  return `${typed} ${path.join('/')}`;
}

/** The object without its subresource, in one form for both logs: for grouping and matching. */
export function objectKey(entry: AuditEntry): string {
  return [entry.group ?? '', entry.namespace ?? '', entry.name ?? ''].join('/');
}

/** `Deployment` and `deployments` name the same type; the audit log only has the resource. */
export function sameType(a: AuditEntry, b: AuditEntry): boolean {
  const typeOf = (e: AuditEntry) =>
    e.resource?.toLowerCase() ?? (e.kind === undefined ? undefined : resourceOf(e.kind));
  const [ta, tb] = [typeOf(a), typeOf(b)];
  return ta === undefined || tb === undefined || ta === tb;
}
