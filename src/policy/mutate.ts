// The mutating webhook's work (DESIGN.md §4): stamp a break-glass, keep stamps honest, and
// record drift that was allowed. It never decides drift and has no side effects: it may see
// writes that never happen (409 conflicts after mutation) and may be called again (IfNeeded).
import type { Config, SourceConfig } from '../config/config.js';
import type { DesiredSnapshot } from '../desired/snapshot.js';
import type { AdmissionRequest } from '../kube/admission.js';
import type { KubeObject } from '../kube/object.js';
import { annotations as keys } from '../kube/well-known.js';
import { escapePointerToken } from '../drift/path.js';
import {
  readBreakGlass,
  reasonChanged,
  rfc3339,
  stampProblem,
  stampsMadeNow,
} from './break-glass.js';
import { decide } from './decide.js';
import type { ClusterFacts } from './facts.js';
import { isOneOf } from './identity.js';

export type JsonPatchOperation =
  | { readonly op: 'add'; readonly path: string; readonly value: unknown }
  | { readonly op: 'remove'; readonly path: string };

const STAMPS = [keys.breakGlassBy, keys.breakGlassAt, keys.breakGlassExpires] as const;
const DRIFT_RECORD = [keys.drift, keys.driftBy, keys.driftAt, keys.revision] as const;
// The record is for people reading the object; the full list is in the audit trail.
const DRIFT_RECORD_LIMIT = 1024;

/** The JSON patch for this write; empty when nothing is to change. */
export function mutate(
  request: AdmissionRequest,
  snapshot: DesiredSnapshot,
  facts: ClusterFacts,
  config: Config,
  now: Date,
  /** Every source, discovered ones included (see `decide`). */
  sources: readonly SourceConfig[] = config.sources,
): JsonPatchOperation[] {
  const object = request.object;
  if (
    object == null ||
    (request.operation !== 'CREATE' && request.operation !== 'UPDATE') ||
    (request.subResource ?? '') !== '' ||
    facts.override === 'off'
  ) {
    return [];
  }
  const current: Readonly<Record<string, string>> = object.metadata?.annotations ?? {};
  const old = request.oldObject?.metadata?.annotations ?? {};
  const wanted: Record<string, string | undefined> = { ...current };
  const user = request.userInfo;
  const username = user.username ?? '';

  // Break-glass stamps: fresh when an authorised user sets or changes the reason; otherwise
  // exactly the old object's, so stamps can neither be written by hand nor lost by a replace.
  const stampsValidNow =
    stampProblem(current, old, username, now, config.breakGlass.ttlMs) === undefined &&
    STAMPS.every((key) => current[key] !== undefined);
  if (readBreakGlass(current) === undefined) {
    for (const key of STAMPS) wanted[key] = undefined;
  } else if (reasonChanged(current, old) && isOneOf(user, config.breakGlass)) {
    // Called again for the same write: keep the stamps made the first time.
    if (!stampsValidNow)
      Object.assign(wanted, stampsMadeNow(username, now, config.breakGlass.ttlMs));
  } else {
    for (const key of STAMPS) wanted[key] = old[key];
  }

  // The drift record: judged on the object as it will be once stamped.
  const stamped = withAnnotations(object, wanted);
  const decision = decide({ ...request, object: stamped }, snapshot, facts, config, now, sources, {
    recordingOnly: true,
  });
  if (decision.kind === 'sync') {
    for (const key of DRIFT_RECORD) wanted[key] = undefined;
  } else if (
    (decision.kind === 'warned' || decision.kind === 'break-glass') &&
    decision.drift.length > 0
  ) {
    wanted[keys.drift] = driftRecord(decision.drift.map((d) => d.path));
    wanted[keys.driftBy] = username;
    wanted[keys.driftAt] = rfc3339(now);
    if (decision.origin !== undefined) wanted[keys.revision] = decision.origin.commit;
  }
  return annotationPatch(object, current, wanted);
}

function driftRecord(paths: readonly string[]): string {
  const kept: string[] = [];
  for (const path of paths) {
    if (JSON.stringify([...kept, path, '…']).length > DRIFT_RECORD_LIMIT) {
      kept.push('…');
      break;
    }
    kept.push(path);
  }
  return JSON.stringify(kept);
}

function withAnnotations(
  object: KubeObject,
  wanted: Record<string, string | undefined>,
): KubeObject {
  const annotations: Record<string, string> = {};
  for (const [key, value] of Object.entries(wanted))
    if (value !== undefined) annotations[key] = value;
  return { ...object, metadata: { ...object.metadata, annotations } };
}

// JSON patch that the API server always accepts: add the whole map when the object has none,
// never remove a key that is not there, escape `~` and `/` in keys.
function annotationPatch(
  object: KubeObject,
  current: Readonly<Record<string, string>>,
  wanted: Readonly<Record<string, string | undefined>>,
): JsonPatchOperation[] {
  const changed = Object.keys(wanted).filter((key) => wanted[key] !== current[key]);
  if (changed.length === 0) return [];
  if (object.metadata?.annotations === undefined) {
    const value: Record<string, string> = {};
    for (const [key, v] of Object.entries(wanted)) if (v !== undefined) value[key] = v;
    if (Object.keys(value).length === 0) return [];
    const patch: JsonPatchOperation[] = [];
    if (object.metadata === undefined) patch.push({ op: 'add', path: '/metadata', value: {} });
    patch.push({ op: 'add', path: '/metadata/annotations', value });
    return patch;
  }
  return changed.map((key) => {
    const path = `/metadata/annotations/${escapePointerToken(key)}`;
    const value = wanted[key];
    return value === undefined ? { op: 'remove', path } : { op: 'add', path, value };
  });
}
