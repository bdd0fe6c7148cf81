// The decision (DESIGN.md §3): one pure function from a request, the desired snapshot, what the
// cluster says and the config to an allow or a denial with its reasons. No I/O, no clock.
import type { Config, SourceConfig } from '../config/config.js';
import type { DesiredEntry, DesiredSnapshot } from '../desired/snapshot.js';
import { diff, diffWrite, type FieldDrift } from '../drift/diff.js';
import type { AdmissionRequest } from '../kube/admission.js';
import {
  formatKey,
  isClusterScoped,
  isJsonObject,
  type KubeObject,
  type ResourceKey,
} from '../kube/object.js';
import { DRIFTGATE_PREFIX } from '../kube/well-known.js';
import {
  isActive,
  readBreakGlass,
  reasonChanged,
  stampProblem,
  ticketProblem,
} from './break-glass.js';
import {
  comparisonOptions,
  hpaScaling,
  isManagedKind,
  resolveMode,
  sourceNamed,
} from './comparison.js';
import type { Decision, DecisionKind, DesiredOrigin } from './decision.js';
import type { ClusterFacts } from './facts.js';
import { describeIdentities, isOneOf } from './identity.js';
import { denialMessage, driftWarnings } from './messages.js';
import { indexSnapshot, type SnapshotIndex } from './snapshot-index.js';

// Resources with a scale subresource whose kind the snapshot may not hold under that name.
const SCALE_KINDS: Readonly<Record<string, string>> = {
  'apps/deployments': 'Deployment',
  'apps/statefulsets': 'StatefulSet',
  'apps/replicasets': 'ReplicaSet',
  '/replicationcontrollers': 'ReplicationController',
};

export interface DecideOptions {
  /**
   * The caller (the mutating webhook) acts only on drift that is allowed and recorded — in warn
   * mode or under break-glass — and on sync writes: where neither can apply, the write is
   * answered `allowed` with reason `not-recordable` before the object is compared.
   */
  readonly recordingOnly?: boolean;
}

/**
 * `sources` are every source the snapshot's objects come from: the configured ones and, with
 * discovery, those found in the cluster (the provider's `sources()`). A source's sync identities,
 * ignore rules, tracking label and namespace apply to its own objects only.
 */
export function decide(
  request: AdmissionRequest,
  snapshot: DesiredSnapshot,
  facts: ClusterFacts,
  config: Config,
  now: Date,
  sources: readonly SourceConfig[] = config.sources,
  options: DecideOptions = {},
): Decision {
  const dryRun = request.dryRun === true;
  const outcome = (
    kind: DecisionKind,
    reason: string,
    message: string,
    extra: Partial<Decision> = {},
  ): Decision => ({
    kind,
    allowed: kind !== 'denied',
    silent: false,
    reason,
    message,
    key: undefined,
    origin: undefined,
    drift: [],
    preexisting: [],
    warnings: [],
    mode: 'enforce',
    breakGlassReason: undefined,
    dryRun,
    ...extra,
  });
  const quietly = (reason: string, message: string) =>
    outcome('allowed', reason, message, { silent: true });

  if (request.operation === 'CONNECT') return quietly('out-of-scope', 'CONNECT is not judged');
  if (facts.override === 'off')
    return quietly('kill-switch', 'the override ConfigMap turned driftgate off');

  const index = indexSnapshot(snapshot);
  const key = targetKey(request, index);
  if (key === undefined) return quietly('out-of-scope', 'no object to judge');
  const namespace = isNamespace(key) ? key.name : key.namespace;
  if (namespace !== '' && config.namespaces.exclude.includes(namespace)) {
    return quietly('out-of-scope', `namespace ${namespace} is excluded`);
  }

  const user = request.userInfo;
  const username = user.username ?? '(unknown user)';
  const entry = snapshot.get(key);
  const origin = entry && originOf(entry);
  const mode = resolveMode(namespace, facts, config);
  const common = { key, origin, mode } as const;

  const source = entry && sourceNamed(sources, entry.source);
  if (
    isOneOf(user, config.syncIdentities) ||
    (source !== undefined && isOneOf(user, source.syncIdentities))
  ) {
    return outcome('sync', 'sync-identity', `${username} is a sync identity`, {
      ...common,
      silent: entry === undefined,
    });
  }
  if (isOneOf(user, config.exemptIdentities)) {
    return outcome('exempt', 'exempt-identity', `${username} is an exempt system identity`, {
      ...common,
      silent: entry === undefined,
    });
  }

  // driftgate's own controls on a Namespace belong to GitOps and the cluster admins.
  if (isNamespace(key) && (request.operation === 'CREATE' || request.operation === 'UPDATE')) {
    const changed = changedDriftgateLabels(request.object, request.oldObject);
    if (changed.length > 0 && !(user.groups ?? []).some((g) => config.adminGroups.includes(g))) {
      return outcome(
        'denied',
        'namespace-label',
        `driftgate denied ${request.operation} of Namespace ${key.name} by ${username}: the labels ${changed.join(', ')} may be changed only by the sync identity or members of ${config.adminGroups.join(', ')}`,
        common,
      );
    }
  }

  const breakGlassSettings = config.breakGlass;
  const authorised = isOneOf(user, breakGlassSettings);
  const namespaceBreakGlass = readBreakGlass(facts.namespace(namespace)?.annotations);

  // Deleting a Namespace deletes every managed object in it.
  if (isNamespace(key) && request.operation === 'DELETE') {
    const held = index.objectsInNamespace.get(key.name) ?? [];
    if (held.length === 0 && entry === undefined)
      return quietly('unmanaged', 'the namespace holds no managed objects');
    const own = readBreakGlass(request.oldObject?.metadata?.annotations);
    const active = isActive(own, now)
      ? own
      : isActive(namespaceBreakGlass, now)
        ? namespaceBreakGlass
        : undefined;
    const what = `Namespace ${key.name}, which holds ${held.length} object${held.length === 1 ? '' : 's'} managed by Git`;
    return judgeDelete(what, active?.reason);
  }

  if (!isManagedKind(key, index, config))
    return quietly('out-of-scope', `${key.group}/${key.kind} is not managed`);
  const subresource = request.subResource ?? '';
  if (subresource !== '' && subresource !== 'scale') {
    return quietly('subresource', `the ${subresource} subresource is not judged`);
  }

  if (entry === undefined || origin === undefined) {
    if (request.operation !== 'CREATE' || subresource !== '')
      return quietly('unmanaged', 'not in Git');
    return judgeUnmanagedCreate(request.object ?? undefined);
  }

  // Break-glass: on the object (for scale, its parent's annotations) or on its namespace.
  const objectAnnotations =
    subresource === 'scale'
      ? facts.parentAnnotations(key)
      : (request.operation === 'DELETE' ? request.oldObject : request.object)?.metadata
          ?.annotations;
  if (subresource === '' && (request.operation === 'CREATE' || request.operation === 'UPDATE')) {
    const newAnnotations = request.object?.metadata?.annotations;
    const oldAnnotations = request.oldObject?.metadata?.annotations;
    if (reasonChanged(newAnnotations, oldAnnotations)) {
      if (!authorised) {
        return outcome(
          'denied',
          'break-glass-unauthorised',
          `driftgate denied ${request.operation} of ${formatKey(key)} by ${username}: only ${describeIdentities(breakGlassSettings)} may set driftgate.io/break-glass`,
          common,
        );
      }
      const problem = ticketProblem(
        readBreakGlass(newAnnotations)?.reason ?? '',
        breakGlassSettings,
      );
      if (problem !== undefined) {
        return outcome(
          'denied',
          'break-glass-ticket',
          `driftgate denied ${request.operation} of ${formatKey(key)} by ${username}: ${problem}`,
          common,
        );
      }
    }
    const forged = stampProblem(
      newAnnotations,
      oldAnnotations,
      username,
      now,
      breakGlassSettings.ttlMs,
    );
    if (forged !== undefined) {
      return outcome(
        'denied',
        'break-glass-stamp',
        `driftgate denied ${request.operation} of ${formatKey(key)} by ${username}: ${forged}`,
        common,
      );
    }
  }
  const objectBreakGlass = readBreakGlass(objectAnnotations);
  const activeBreakGlass = isActive(objectBreakGlass, now)
    ? objectBreakGlass
    : isActive(namespaceBreakGlass, now)
      ? namespaceBreakGlass
      : undefined;

  if (request.operation === 'DELETE') {
    return judgeDelete(`${formatKey(key)}, which is managed by Git`, activeBreakGlass?.reason);
  }

  // Namespace deletion and garbage collection must never hang on driftgate.
  if (request.operation === 'UPDATE' && request.object?.metadata?.deletionTimestamp != null) {
    return outcome('allowed', 'deleting', 'the object is being deleted', common);
  }

  if (
    options.recordingOnly === true &&
    mode !== 'warn' &&
    !(activeBreakGlass !== undefined && authorised)
  ) {
    return quietly('not-recordable', 'no drift of this write would be allowed and recorded');
  }

  const { drift, preexisting, replicasLeftToHpa } = driftOf(
    request,
    entry,
    key,
    index,
    facts,
    config,
    source,
  );
  const warningsForPreexisting = driftWarnings(
    'driftgate: already drifted, sync will restore it: ',
    preexisting,
  );
  if (drift.length === 0) {
    const hpaNote =
      replicasLeftToHpa === undefined
        ? ''
        : `; spec.replicas is left to HorizontalPodAutoscaler ${replicasLeftToHpa}`;
    return outcome(
      'allowed',
      'no-drift',
      `the write moves no declared field away from Git${hpaNote}`,
      {
        ...common,
        preexisting,
        warnings: warningsForPreexisting,
      },
    );
  }
  const evidence = { ...common, drift, preexisting, breakGlassReason: activeBreakGlass?.reason };
  if (activeBreakGlass !== undefined && authorised) {
    return outcome(
      'break-glass',
      'break-glass',
      `allowed under break-glass: ${activeBreakGlass.reason}`,
      {
        ...evidence,
        warnings: [
          `driftgate: allowed under break-glass (${activeBreakGlass.reason}); this change is recorded`,
          ...driftWarnings('driftgate: differs from Git: ', drift),
        ],
      },
    );
  }
  if (mode === 'warn') {
    return outcome('warned', 'drift', 'drift allowed in warn mode', {
      ...evidence,
      warnings: [
        ...driftWarnings('driftgate: differs from Git: ', drift),
        ...warningsForPreexisting,
      ],
    });
  }
  if (mode === 'audit') return outcome('audited', 'drift', 'drift allowed in audit mode', evidence);
  const advice =
    activeBreakGlass !== undefined
      ? `Break-glass is active here (${activeBreakGlass.reason}), but only ${describeIdentities(breakGlassSettings)} may act under it.`
      : `Change it in Git instead, or during an incident set the annotation driftgate.io/break-glass: "<reason>" (allowed for ${describeIdentities(breakGlassSettings)}).`;
  return outcome(
    'denied',
    'drift',
    denialMessage({ operation: request.operation, key, username, drift, origin, advice }),
    { ...evidence, warnings: warningsForPreexisting },
  );

  function judgeDelete(what: string, breakGlassReason: string | undefined): Decision {
    const extra = { ...common, breakGlassReason };
    if (breakGlassReason !== undefined && authorised) {
      return outcome(
        'break-glass',
        'delete',
        `DELETE of ${what} allowed under break-glass: ${breakGlassReason}`,
        {
          ...extra,
          warnings: [
            `driftgate: DELETE allowed under break-glass (${breakGlassReason}); this is recorded`,
          ],
        },
      );
    }
    if (mode === 'warn') {
      return outcome('warned', 'delete', `DELETE of ${what} allowed in warn mode`, {
        ...extra,
        warnings: [`driftgate: ${what}; sync will recreate it`],
      });
    }
    if (mode === 'audit')
      return outcome('audited', 'delete', `DELETE of ${what} allowed in audit mode`, extra);
    const where =
      origin === undefined
        ? ''
        : ` (declared in ${origin.source}, file ${origin.file}, commit ${origin.commit.slice(0, 12)})`;
    return outcome(
      'denied',
      'delete',
      `driftgate denied DELETE of ${what}${where} by ${username}. Remove it from Git instead, or during an incident set the annotation driftgate.io/break-glass: "<reason>" (allowed for ${describeIdentities(breakGlassSettings)}).`,
      extra,
    );
  }

  function judgeUnmanagedCreate(object: KubeObject | undefined): Decision {
    const policy = config.namespaces.overrides[namespace]?.unmanaged ?? config.unmanaged;
    if (policy === 'allow') return quietly('unmanaged', 'not in Git');
    const owners = object?.metadata?.ownerReferences;
    if (Array.isArray(owners) && owners.some((o) => isJsonObject(o) && o.controller === true)) {
      return quietly('unmanaged', 'created by a controller');
    }
    const text = `${formatKey(key as ResourceKey)} is not in Git`;
    if (policy === 'warn' || mode === 'warn') {
      return outcome('warned', 'unmanaged', text, { key, mode, warnings: [`driftgate: ${text}`] });
    }
    if (mode === 'audit') return outcome('audited', 'unmanaged', text, { key, mode });
    return outcome(
      'denied',
      'unmanaged',
      `driftgate denied CREATE of ${text} by ${username}: in namespace ${namespace || '(cluster)'} objects are created through Git only`,
      { key, mode },
    );
  }
}

function isNamespace(key: ResourceKey): boolean {
  return key.group === '' && key.kind === 'Namespace';
}

function originOf(entry: DesiredEntry): DesiredOrigin {
  return { source: entry.source, file: entry.file, line: entry.line, commit: entry.commit };
}

function targetKey(request: AdmissionRequest, index: SnapshotIndex): ResourceKey | undefined {
  const object = request.object ?? request.oldObject ?? undefined;
  const name = request.name ?? object?.metadata?.name;
  if (name === undefined || name === '') return undefined;
  let group = request.kind.group;
  let kind = request.kind.kind;
  if (request.subResource === 'scale') {
    const resource = `${request.resource.group}/${request.resource.resource}`;
    const parent = index.kindByResource.get(resource);
    group = request.resource.group;
    kind = parent?.kind ?? SCALE_KINDS[resource] ?? '';
    if (kind === '') return undefined;
  }
  const namespace = isClusterScoped(group, kind) ? '' : (request.namespace ?? '');
  return { group, kind, namespace, name };
}

function changedDriftgateLabels(
  object: KubeObject | null | undefined,
  old: KubeObject | null | undefined,
): string[] {
  const now = object?.metadata?.labels ?? {};
  const before = old?.metadata?.labels ?? {};
  const keys = new Set([...Object.keys(now), ...Object.keys(before)]);
  return [...keys].filter((k) => k.startsWith(DRIFTGATE_PREFIX) && now[k] !== before[k]).sort();
}

// A snapshot entry parses its manifest on every read (the snapshot keeps text, not object
// graphs, for memory). The objects written to most often are few: keep the latest parsed.
// Safe to share: nothing in the decision mutates a manifest.
const MANIFEST_CACHE_SIZE = 512;
const manifestCache = new Map<DesiredEntry, KubeObject>();
function manifestOf(entry: DesiredEntry): KubeObject {
  let manifest = manifestCache.get(entry);
  if (manifest === undefined) {
    manifest = entry.object;
    if (manifestCache.size >= MANIFEST_CACHE_SIZE) {
      const oldest = manifestCache.keys().next().value;
      if (oldest !== undefined) manifestCache.delete(oldest);
    }
  } else {
    manifestCache.delete(entry);
  }
  manifestCache.set(entry, manifest);
  return manifest;
}

function driftOf(
  request: AdmissionRequest,
  entry: DesiredEntry,
  key: ResourceKey,
  index: SnapshotIndex,
  facts: ClusterFacts,
  config: Config,
  source: SourceConfig | undefined,
): { drift: FieldDrift[]; preexisting: FieldDrift[]; replicasLeftToHpa?: string } {
  const manifest = manifestOf(entry);
  const options = comparisonOptions({
    key,
    desired: manifest,
    objects: [request.object, request.oldObject],
    allowancesOf: request.userInfo,
    apiVersion: request.object?.apiVersion,
    index,
    facts,
    config,
    source,
  });
  let desired = manifest;
  let live = request.object ?? undefined;
  let old = request.oldObject ?? undefined;
  if (request.subResource === 'scale') {
    // A Scale carries only replicas: judge it as the parent's spec.replicas.
    const asParent = (replicas: unknown): KubeObject => ({
      apiVersion: manifest.apiVersion ?? `${key.group}/v1`,
      kind: key.kind,
      metadata: { name: key.name, namespace: key.namespace },
      spec: { replicas },
    });
    const spec = (o: KubeObject | undefined) =>
      isJsonObject(o?.spec) ? o.spec.replicas : undefined;
    desired = asParent(spec(manifest));
    live = asParent(spec(live));
    old = old === undefined ? undefined : asParent(spec(old));
  }
  if (live === undefined) return { drift: [], preexisting: [] };
  // Say so when the HPA is why a replica count other than Git's passes: the audit trail must
  // explain every allowed difference.
  const hpa = hpaScaling(key, index, facts);
  const replicasOf = (o: KubeObject) => (isJsonObject(o.spec) ? o.spec.replicas : undefined);
  const leftToHpa =
    hpa !== undefined &&
    replicasOf(desired) !== undefined &&
    replicasOf(live) !== undefined &&
    replicasOf(desired) !== replicasOf(live)
      ? { replicasLeftToHpa: hpa }
      : {};
  if (request.operation === 'CREATE' || old === undefined) {
    return { drift: diff(desired, live, options), preexisting: [], ...leftToHpa };
  }
  const result = diffWrite(desired, old, live, options);
  return { drift: result.introduced, preexisting: result.preexisting, ...leftToHpa };
}
