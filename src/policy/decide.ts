// The decision (DESIGN.md §3): one pure function from a request, the desired snapshot, what the
// cluster says and the config to an allow or a denial with its reasons. No I/O, no clock.
import type { Config, SourceConfig } from '../config/config.js';
import type { DesiredEntry, DesiredSnapshot } from '../desired/snapshot.js';
import { convertToVersion } from '../drift/convert.js';
import { diff, diffWrite, type FieldDrift } from '../drift/diff.js';
import { rulesFor } from '../drift/ignore.js';
import type { AdmissionRequest } from '../kube/admission.js';
import type { Scope } from '../kube/discovery.js';
import { formatKey, isJsonObject, type KubeObject, type ResourceKey } from '../kube/object.js';
import { DRIFTGATE_PREFIX } from '../kube/well-known.js';
import {
  isActive,
  readBreakGlass,
  type BreakGlass,
  reasonChanged,
  stampProblem,
  ticketProblem,
} from './break-glass.js';
import type { Decision, DecisionKind, DesiredOrigin, EffectiveMode } from './decision.js';
import {
  comparisonOptions,
  hpaOf,
  isExcludedKind,
  isManagedKind,
  replicasLeftToHpa,
  replicasOf,
  resolveMode,
  schemaOf,
  sourceNamed,
} from './comparison.js';
import { hpaMaySet, type ClusterFacts, type HelmReleaseFacts, type HpaScaling } from './facts.js';
import { describeIdentities, isOneOf } from './identity.js';
import { denialMessage, describeOrigin, driftWarnings } from './messages.js';
import {
  borrowedManager,
  describeOwner,
  describeRecord,
  ownershipTaken,
  SYNC_RECORD_MANAGERS,
  syncOwnerOf,
  syncRecordOf,
  syncRecordSettings,
  type SyncOwner,
  type SyncRecord,
} from './sync-record.js';
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
  const judgement = scope(request, snapshot, facts, config, now, sources, options);
  if (!(judgement instanceof Judgement)) return judgement;
  for (const step of STEPS) {
    const decision = step(judgement);
    if (decision !== undefined) return decision;
  }
  return byMode(judgement);
}

/** A step decides the request, or passes it on (`undefined`) to the next. */
type Step = (judgement: Judgement) => Decision | undefined;

/**
 * DESIGN.md §3, in its order. The kind is checked after identities and labels: driftgate's own
 * labels on a Namespace are guarded whatever kinds Git holds. `drift` passes on only writes
 * that move a declared field away from Git; `byMode` decides those.
 */
const STEPS: readonly Step[] = [
  identity,
  namespaceLabels,
  managedKind,
  subresource,
  unmanaged,
  breakGlassAnnotations,
  deletion,
  recordable,
  version,
  terminating,
  drift,
];

/** What every step reads about one request; the costly parts are worked out once, when asked. */
class Judgement {
  readonly dryRun: boolean;
  readonly username: string;
  /** The object's namespace; a Namespace's own name; '' for cluster-scoped objects. */
  readonly namespace: string;
  readonly subresource: string;
  readonly entry: DesiredEntry | undefined;
  /** The sync tool that deployed the object, where its record stands in for Git or beside it. */
  readonly owner: SyncOwner | undefined;
  /**
   * The discovered HelmRelease that deployed the object: its writers are sync identities for it.
   * On a CREATE, the one the new object's labels name (there is no stored object yet).
   */
  readonly release: HelmReleaseFacts | undefined;
  readonly source: SourceConfig | undefined;
  readonly mode: EffectiveMode;
  private recorded: { record: SyncRecord | undefined } | undefined;
  private breakGlass: { active: BreakGlass | undefined } | undefined;
  private found: DriftFound | undefined;
  private inWriteVersion: ReturnType<typeof convertToVersion> | undefined;

  constructor(
    readonly request: AdmissionRequest,
    readonly snapshot: DesiredSnapshot,
    readonly index: SnapshotIndex,
    readonly key: ResourceKey,
    readonly facts: ClusterFacts,
    readonly config: Config,
    readonly now: Date,
    sources: readonly SourceConfig[],
    readonly options: DecideOptions,
  ) {
    this.dryRun = request.dryRun === true;
    this.username = request.userInfo.username ?? '(unknown user)';
    this.namespace = isNamespace(key) ? key.name : key.namespace;
    this.subresource = request.subResource ?? '';
    this.entry = snapshot.get(key);
    // Only the tracking marks are read here (the identity step needs the owner's source); the
    // record itself, from the managed fields, only when a step asks for it.
    const recorded =
      config.syncRecords === 'always' || (config.syncRecords === 'fallback' && !this.entry);
    this.owner = recorded ? ownerBefore(request, config) : undefined;
    this.release = recorded
      ? releaseOf(this.owner ?? ownerCreated(request, config), facts)
      : undefined;
    this.source =
      this.entry === undefined
        ? this.owner && sourceOfOwner(this.owner, sources, config)
        : sourceNamed(sources, this.entry.source);
    this.mode = resolveMode(this.namespace, facts, config);
  }

  /** The sync tool's record on the object before the write (§8). */
  get record(): SyncRecord | undefined {
    if (this.recorded === undefined) {
      const { owner, request, key, index, facts, config } = this;
      this.recorded = {
        record: owner && recordBefore(owner, request, key, index, facts, config),
      };
    }
    return this.recorded.record;
  }

  /** Where the desired state came from: Git's file and commit, or the sync tool's record. */
  get origin(): DesiredOrigin | undefined {
    if (this.entry !== undefined) return originOf(this.entry);
    const record = this.record;
    return record && recordOrigin(record, this.release);
  }

  /** What a decision about a Git-managed object carries. */
  get common(): Pick<Decision, 'key' | 'origin' | 'mode'> {
    return { key: this.key, origin: this.origin, mode: this.mode };
  }

  /** May the requester set break-glass and act under it? */
  get authorised(): boolean {
    return isOneOf(this.request.userInfo, this.config.breakGlass);
  }

  /** The break-glass in force: on the object (for scale, its parent's) or on its namespace. */
  get activeBreakGlass(): BreakGlass | undefined {
    if (this.breakGlass === undefined) {
      const { request } = this;
      const annotations =
        this.subresource === 'scale'
          ? this.facts.parentAnnotations(this.key)
          : (request.operation === 'DELETE' ? request.oldObject : request.object)?.metadata
              ?.annotations;
      const own = readBreakGlass(annotations);
      const namespace = readBreakGlass(this.facts.namespace(this.namespace)?.annotations);
      this.breakGlass = {
        active: isActive(own, this.now)
          ? own
          : isActive(namespace, this.now)
            ? namespace
            : undefined,
      };
    }
    return this.breakGlass.active;
  }

  /**
   * The write's drift from Git — or from the sync tool's record — compared once (only managed
   * objects reach `drift`).
   */
  get drift(): DriftFound {
    if (this.found === undefined) {
      const { request, entry, record, key, index, facts, config, source } = this;
      const desired = this.desired;
      let found: DriftFound =
        desired === undefined || 'unconvertible' in desired
          ? { drift: [], preexisting: [] }
          : driftOf(request, desired.converted, key, index, facts, config, source);
      if (record !== undefined) found = withRecordDrift(found, driftFromRecord(this, record));
      const borrowed = borrowedManager(request.options, SYNC_RECORD_MANAGERS);
      if (borrowed !== undefined && (entry !== undefined || record !== undefined)) {
        found = {
          ...found,
          drift: [
            {
              path: 'metadata.managedFields',
              pointer: '/metadata/managedFields',
              desired: `written by a sync identity as ${borrowed}`,
              live: `written by ${this.username} as ${borrowed}`,
            },
            ...found.drift,
          ],
        };
      }
      this.found = found;
    }
    return this.found;
  }

  /** Git's manifest in the write's API version, or why it cannot be (§2); none without Git's. */
  get desired(): ReturnType<typeof convertToVersion> | undefined {
    if (this.entry === undefined) return undefined;
    this.inWriteVersion ??= inWriteVersion(this.request, manifestOf(this.entry), this.snapshot);
    return this.inWriteVersion;
  }

  decision(
    kind: DecisionKind,
    reason: string,
    message: string,
    extra: Partial<Decision> = {},
  ): Decision {
    return outcome(this.dryRun, kind, reason, message, extra);
  }

  quietly(reason: string, message: string): Decision {
    return outcome(this.dryRun, 'allowed', reason, message, { silent: true });
  }
}

function outcome(
  dryRun: boolean,
  kind: DecisionKind,
  reason: string,
  message: string,
  extra: Partial<Decision> = {},
): Decision {
  return {
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
  };
}

/** Out of scope (§3.1): CONNECT, the kill switch, nothing named, an excluded namespace. */
function scope(
  request: AdmissionRequest,
  snapshot: DesiredSnapshot,
  facts: ClusterFacts,
  config: Config,
  now: Date,
  sources: readonly SourceConfig[],
  options: DecideOptions,
): Decision | Judgement {
  const quietly = (reason: string, message: string) =>
    outcome(request.dryRun === true, 'allowed', reason, message, { silent: true });
  if (request.operation === 'CONNECT') return quietly('out-of-scope', 'CONNECT is not judged');
  if (facts.override === 'off')
    return quietly('kill-switch', 'the override ConfigMap turned driftgate off');
  const index = indexSnapshot(snapshot);
  const key = targetKey(request, index, snapshot, facts);
  if (key === undefined) return quietly('out-of-scope', 'no object to judge');
  const namespace = isNamespace(key) ? key.name : key.namespace;
  if (namespace !== '' && config.namespaces.exclude.includes(namespace)) {
    return quietly('out-of-scope', `namespace ${namespace} is excluded`);
  }
  return new Judgement(request, snapshot, index, key, facts, config, now, sources, options);
}

/** Sync identities (§3.2), globally or of the object's own source, and exempt ones (§3.3). */
function identity(j: Judgement): Decision | undefined {
  const user = j.request.userInfo;
  const { config, source } = j;
  if (
    isOneOf(user, config.syncIdentities) ||
    (source !== undefined && isOneOf(user, source.syncIdentities)) ||
    (j.release !== undefined && isOneOf(user, j.release.syncIdentities))
  ) {
    return j.decision('sync', 'sync-identity', `${j.username} is a sync identity`, {
      ...j.common,
      silent: j.entry === undefined,
    });
  }
  if (isOneOf(user, config.exemptIdentities)) {
    return j.decision('exempt', 'exempt-identity', `${j.username} is an exempt system identity`, {
      ...j.common,
      silent: j.entry === undefined,
    });
  }
  return undefined;
}

/** driftgate's own controls on a Namespace belong to GitOps and the cluster admins. */
function namespaceLabels(j: Judgement): Decision | undefined {
  const { request, key, config } = j;
  if (!isNamespace(key) || (request.operation !== 'CREATE' && request.operation !== 'UPDATE'))
    return undefined;
  const changed = changedDriftgateLabels(request.object, request.oldObject);
  if (changed.length === 0) return undefined;
  if ((request.userInfo.groups ?? []).some((g) => config.adminGroups.includes(g))) return undefined;
  return j.decision(
    'denied',
    'namespace-label',
    `driftgate denied ${request.operation} of Namespace ${key.name} by ${j.username}: the labels ${changed.join(', ')} may be changed only by the sync identity or members of ${config.adminGroups.join(', ')}`,
    j.common,
  );
}

/** A kind Git does not hold (or the config leaves out) is out of scope (§3.1). */
function managedKind(j: Judgement): Decision | undefined {
  const { key } = j;
  // Deleting a Namespace deletes what Git manages in it, whether Git declares the Namespace.
  if (isNamespaceDeletion(j)) return undefined;
  if (j.record !== undefined && !isExcludedKind(key, j.config)) return undefined;
  if (isManagedKind(key, j.index, j.config)) return undefined;
  return j.quietly('out-of-scope', `${key.group}/${key.kind} is not managed`);
}

/** `status` and other subresources are not judged; `scale` is (§3.5). */
function subresource(j: Judgement): Decision | undefined {
  if (j.subresource === '' || j.subresource === 'scale') return undefined;
  return j.quietly('subresource', `the ${j.subresource} subresource is not judged`);
}

/** Objects Git does not declare (§3.6): only their CREATE is judged, by `unmanaged`. */
function unmanaged(j: Judgement): Decision | undefined {
  if (j.entry !== undefined || j.record !== undefined || isNamespaceDeletion(j)) return undefined;
  const { request, config, key, namespace, mode } = j;
  if (request.operation !== 'CREATE' || j.subresource !== '')
    return j.quietly('unmanaged', 'not in Git');
  const policy = config.namespaces.overrides[namespace]?.unmanaged ?? config.unmanaged;
  if (policy === 'allow') return j.quietly('unmanaged', 'not in Git');
  const owners = request.object?.metadata?.ownerReferences;
  if (Array.isArray(owners) && owners.some((o) => isJsonObject(o) && o.controller === true)) {
    return j.quietly('unmanaged', 'created by a controller');
  }
  const text = `${formatKey(key)} is not in Git`;
  if (policy === 'warn' || mode === 'warn') {
    return j.decision('warned', 'unmanaged', text, { key, mode, warnings: [`driftgate: ${text}`] });
  }
  if (mode === 'audit') return j.decision('audited', 'unmanaged', text, { key, mode });
  return j.decision(
    'denied',
    'unmanaged',
    `driftgate denied CREATE of ${text} by ${j.username}: in namespace ${namespace || '(cluster)'} objects are created through Git only`,
    { key, mode },
  );
}

/** Who may set break-glass, the ticket pattern, and stamps only driftgate could have made (§4). */
function breakGlassAnnotations(j: Judgement): Decision | undefined {
  const { request, key, config, username } = j;
  if (j.subresource !== '' || (request.operation !== 'CREATE' && request.operation !== 'UPDATE'))
    return undefined;
  const settings = config.breakGlass;
  const newAnnotations = request.object?.metadata?.annotations;
  const oldAnnotations = request.oldObject?.metadata?.annotations;
  const denied = (reason: string, why: string) =>
    j.decision(
      'denied',
      reason,
      `driftgate denied ${request.operation} of ${formatKey(key)} by ${username}: ${why}`,
      j.common,
    );
  if (reasonChanged(newAnnotations, oldAnnotations)) {
    if (!j.authorised) {
      return denied(
        'break-glass-unauthorised',
        `only ${describeIdentities(settings)} may set driftgate.io/break-glass`,
      );
    }
    const problem = ticketProblem(readBreakGlass(newAnnotations)?.reason ?? '', settings);
    if (problem !== undefined) return denied('break-glass-ticket', problem);
  }
  const forged = stampProblem(newAnnotations, oldAnnotations, username, j.now, settings.ttlMs);
  return forged === undefined ? undefined : denied('break-glass-stamp', forged);
}

/** DELETE of a managed object, or of a Namespace that holds some (§3.7). */
function deletion(j: Judgement): Decision | undefined {
  const { request, key, index, origin, username, mode } = j;
  if (request.operation !== 'DELETE') return undefined;
  let what =
    j.entry === undefined && j.record !== undefined
      ? `${formatKey(key)}, which ${describeOwner(j.record.owner)} deployed`
      : `${formatKey(key)}, which is managed by Git`;
  if (isNamespace(key)) {
    const held = index.objectsInNamespace.get(key.name) ?? [];
    if (held.length === 0 && j.entry === undefined)
      return j.quietly('unmanaged', 'the namespace holds no managed objects');
    what = `Namespace ${key.name}, which holds ${held.length} object${held.length === 1 ? '' : 's'} managed by Git`;
  }
  const breakGlassReason = j.activeBreakGlass?.reason;
  const extra = { ...j.common, breakGlassReason };
  if (breakGlassReason !== undefined && j.authorised) {
    return j.decision(
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
    return j.decision('warned', 'delete', `DELETE of ${what} allowed in warn mode`, {
      ...extra,
      warnings: [`driftgate: ${what}; sync will recreate it`],
    });
  }
  if (mode === 'audit')
    return j.decision('audited', 'delete', `DELETE of ${what} allowed in audit mode`, extra);
  const where =
    origin === undefined
      ? ''
      : origin.by === 'sync-record'
        ? ` (${describeOrigin(origin)})`
        : ` (declared in ${origin.source}, file ${origin.file}, commit ${origin.commit.slice(0, 12)})`;
  return j.decision(
    'denied',
    'delete',
    `driftgate denied DELETE of ${what}${where} by ${username}. Remove it from Git instead, or during an incident set the annotation driftgate.io/break-glass: "<reason>" (allowed for ${describeIdentities(j.config.breakGlass)}).`,
    extra,
  );
}

/**
 * Deletion's own bookkeeping — finalizers, ownerReferences, deletionTimestamp, which are never
 * compared — is never drift, so namespace deletion and garbage collection never hang on
 * driftgate. A write to declared fields while the object waits on a finalizer is judged like any.
 */
function terminating(j: Judgement): Decision | undefined {
  const { request } = j;
  if (request.operation !== 'UPDATE' || request.object?.metadata?.deletionTimestamp == null)
    return undefined;
  const { drift, preexisting } = j.drift;
  if (drift.length > 0) return undefined;
  return j.decision(
    'allowed',
    'deleting',
    'the object is being deleted; the write moves no declared field away from Git',
    { ...j.common, preexisting, warnings: preexistingWarnings(preexisting) },
  );
}

/**
 * Git's manifest and the write are compared in one API version: where Kubernetes defines no
 * conversion driftgate can make, the write is not judged, and says so — never a silent allow.
 */
function version(j: Judgement): Decision | undefined {
  const desired = j.desired;
  if (desired === undefined || !('unconvertible' in desired)) return undefined;
  return j.decision('not-judged', 'version', desired.unconvertible, {
    ...j.common,
    warnings: [`driftgate: not judged: ${desired.unconvertible}`],
  });
}

/** For the mutating webhook: a write whose drift nothing would allow and record ends here. */
function recordable(j: Judgement): Decision | undefined {
  if (j.options.recordingOnly !== true || j.mode === 'warn') return undefined;
  if (j.activeBreakGlass !== undefined && j.authorised) return undefined;
  return j.quietly('not-recordable', 'no drift of this write would be allowed and recorded');
}

/** A write that moves no declared field away from Git is allowed (§3.8). */
function drift(j: Judgement): Decision | undefined {
  const { drift, preexisting, replicasLeftToHpa } = j.drift;
  if (drift.length > 0) return undefined;
  const hpaNote =
    replicasLeftToHpa === undefined
      ? ''
      : `; spec.replicas is left to HorizontalPodAutoscaler ${replicasLeftToHpa}`;
  return j.decision(
    'allowed',
    'no-drift',
    `the write moves no declared field away from Git${hpaNote}`,
    {
      ...j.common,
      preexisting,
      warnings: preexistingWarnings(preexisting),
    },
  );
}

/** Drift: allowed under an authorised break-glass, else as the mode says (§3.8). */
function byMode(j: Judgement): Decision {
  const { drift, preexisting } = j.drift;
  const { request, key, origin, username, mode } = j;
  const active = j.activeBreakGlass;
  const evidence = { ...j.common, drift, preexisting, breakGlassReason: active?.reason };
  const hpa = beyondHpa(j.drift);
  if (active !== undefined && j.authorised) {
    return j.decision('break-glass', 'break-glass', `allowed under break-glass: ${active.reason}`, {
      ...evidence,
      warnings: [
        `driftgate: allowed under break-glass (${active.reason}); this change is recorded`,
        ...driftWarnings('driftgate: differs from Git: ', drift),
      ],
    });
  }
  if (mode === 'warn') {
    return j.decision('warned', 'drift', 'drift allowed in warn mode', {
      ...evidence,
      warnings: [
        ...driftWarnings('driftgate: differs from Git: ', drift),
        ...(hpa === undefined ? [] : [`driftgate: ${hpa}`]),
        ...preexistingWarnings(preexisting),
      ],
    });
  }
  if (mode === 'audit')
    return j.decision('audited', 'drift', 'drift allowed in audit mode', evidence);
  const settings = j.config.breakGlass;
  const advice =
    active !== undefined
      ? `Break-glass is active here (${active.reason}), but only ${describeIdentities(settings)} may act under it.`
      : `Change it in Git instead, or during an incident set the annotation driftgate.io/break-glass: "<reason>" (allowed for ${describeIdentities(settings)}).`;
  return j.decision(
    'denied',
    'drift',
    denialMessage({
      operation: request.operation,
      key,
      username,
      drift,
      // Only writes to objects Git declares come this far: the origin is known.
      origin: origin as DesiredOrigin,
      advice: hpa === undefined ? advice : `${hpa}\n${advice}`,
    }),
    { ...evidence, warnings: preexistingWarnings(preexisting) },
  );
}

/** Why an HPA target's replica count is drift: the write set one the HPA could not. */
function beyondHpa(found: DriftFound): string | undefined {
  const hpa = found.replicasBeyondHpa;
  if (hpa === undefined || !found.drift.some((d) => d.pointer === '/spec/replicas'))
    return undefined;
  return `HorizontalPodAutoscaler ${hpa.name} allows spec.replicas in [${hpa.minReplicas}, ${hpa.maxReplicas}] only; beyond that Git's count holds.`;
}

function preexistingWarnings(preexisting: readonly FieldDrift[]): string[] {
  return driftWarnings('driftgate: already drifted, sync will restore it: ', preexisting);
}

function isNamespaceDeletion(j: Judgement): boolean {
  return j.request.operation === 'DELETE' && isNamespace(j.key);
}

function isNamespace(key: ResourceKey): boolean {
  return key.group === '' && key.kind === 'Namespace';
}

function originOf(entry: DesiredEntry): DesiredOrigin {
  return { source: entry.source, file: entry.file, line: entry.line, commit: entry.commit };
}

function targetKey(
  request: AdmissionRequest,
  index: SnapshotIndex,
  snapshot: DesiredSnapshot,
  facts: ClusterFacts,
): ResourceKey | undefined {
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
  const namespace =
    scopeOf(request, group, kind, snapshot, facts) === 'Cluster' ? '' : (request.namespace ?? '');
  return { group, kind, namespace, name };
}

/**
 * Scope from the API: Kubernetes' own kinds and CRDs in Git (the snapshot), then the cluster's
 * discovery; for a kind none of them knows, the review itself, whose `namespace` the API server
 * sets for namespaced resources only.
 */
function scopeOf(
  request: AdmissionRequest,
  group: string,
  kind: string,
  snapshot: DesiredSnapshot,
  facts: ClusterFacts,
): Scope {
  const known = snapshot.scopeOf(group, kind) ?? facts.scopeOf?.(group, kind);
  if (known !== undefined) return known;
  return request.namespace === undefined || request.namespace === '' ? 'Cluster' : 'Namespaced';
}

/** Git's manifest in the API version of the write (`request.kind`), where it can be converted. */
function inWriteVersion(
  request: AdmissionRequest,
  manifest: KubeObject,
  snapshot: DesiredSnapshot,
): ReturnType<typeof convertToVersion> {
  // A Scale is compared as its parent's spec.replicas, whatever the parent's version.
  if (request.subResource === 'scale') return { converted: manifest };
  const { group, version, kind } = request.kind;
  return convertToVersion(manifest, { group, version, kind }, snapshot.customResource(group, kind));
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

interface DriftFound {
  /** Introduced by this write. */
  readonly drift: FieldDrift[];
  /** Already there, left alone by this write. */
  readonly preexisting: FieldDrift[];
  /** The HPA that is why a replica count other than Git's passes. */
  readonly replicasLeftToHpa?: string;
  /** The HPA whose target's replicas the write set beyond what the HPA could set. */
  readonly replicasBeyondHpa?: HpaScaling;
}

/**
 * The write's drift from Git's manifest (DESIGN.md §2): a CREATE by its declared fields, an
 * UPDATE by what it changed, after every ignore rule that applies to this writer.
 */
function driftOf(
  request: AdmissionRequest,
  manifest: KubeObject,
  key: ResourceKey,
  index: SnapshotIndex,
  facts: ClusterFacts,
  config: Config,
  source: SourceConfig | undefined,
): DriftFound {
  let desired = manifest;
  let live = request.object ?? undefined;
  let old = request.oldObject ?? undefined;
  if (request.subResource === 'scale') {
    // A Scale carries only replicas: judge it as the parent's spec.replicas. autoscaling/v1
    // omits replicas when 0: `kubectl scale --replicas=0` sends `spec: {}`.
    const asParent = (replicas: unknown): KubeObject => ({
      apiVersion: manifest.apiVersion ?? `${key.group}/v1`,
      kind: key.kind,
      metadata: { name: key.name, namespace: key.namespace },
      spec: { replicas },
    });
    desired = asParent(replicasOf(manifest));
    live = live === undefined ? undefined : asParent(replicasOf(live) ?? 0);
    old = old === undefined ? undefined : asParent(replicasOf(old) ?? 0);
  }
  if (live === undefined) return { drift: [], preexisting: [] };
  // The HPA's allowance covers only what it could set itself; beyond that, Git's count holds.
  const hpa = hpaOf(key, index, facts);
  const leftToHpa = hpa !== undefined && hpaMaySet(hpa, replicasOf(live));
  const options = comparisonOptions({
    key,
    desired: manifest,
    objects: [request.object, request.oldObject],
    allowancesOf: request.userInfo,
    replicasLeftToHpa: leftToHpa,
    apiVersion: request.object?.apiVersion,
    index,
    facts,
    config,
    source,
  });
  // Say so when the HPA is why a replica count other than Git's passes, or why it does not:
  // the audit trail must explain every difference.
  const explained =
    hpa === undefined
      ? {}
      : leftToHpa
        ? replicasOf(desired) !== undefined && replicasOf(desired) !== replicasOf(live)
          ? { replicasLeftToHpa: hpa.name }
          : {}
        : { replicasBeyondHpa: hpa };
  if (request.operation === 'CREATE' || old === undefined) {
    return { drift: diff(desired, live, options), preexisting: [], ...explained };
  }
  const result = diffWrite(desired, old, live, options);
  return { drift: result.introduced, preexisting: result.preexisting, ...explained };
}

// --- The sync tool's record (DESIGN.md §8) ------------------------------------------------------

/**
 * The sync tool that deployed the object, by its tracking marks: only an UPDATE or DELETE of the
 * object itself has a record to protect.
 */
function ownerBefore(request: AdmissionRequest, config: Config): SyncOwner | undefined {
  const old = request.oldObject ?? undefined;
  if (old === undefined || (request.subResource ?? '') !== '') return undefined;
  if (request.operation !== 'UPDATE' && request.operation !== 'DELETE') return undefined;
  return syncOwnerOf(old, syncRecordSettings(config));
}

/**
 * The sync tool a CREATE's own labels name: not yet a record to protect, but a HelmRelease's
 * writers install its objects. The labels are the client's, so they only ever widen who is a
 * sync identity to that release's own writers, for this object.
 */
function ownerCreated(request: AdmissionRequest, config: Config): SyncOwner | undefined {
  if (request.operation !== 'CREATE' || (request.subResource ?? '') !== '') return undefined;
  return syncOwnerOf(request.object, syncRecordSettings(config));
}

/** The discovered HelmRelease an owner names (by both of helm-controller's labels). */
function releaseOf(
  owner: SyncOwner | undefined,
  facts: ClusterFacts,
): HelmReleaseFacts | undefined {
  if (owner?.kind !== 'HelmRelease' || !owner.name.includes('/')) return undefined;
  return facts.helmRelease?.(owner.name);
}

/** The record the sync tool left on the object before this write. */
function recordBefore(
  owner: SyncOwner,
  request: AdmissionRequest,
  key: ResourceKey,
  index: SnapshotIndex,
  facts: ClusterFacts,
  config: Config,
): SyncRecord | undefined {
  const old = request.oldObject ?? undefined;
  if (old === undefined) return undefined;
  const schema = schemaOf(key, old.apiVersion, index, facts)?.root;
  return syncRecordOf(old, owner, syncRecordSettings(config), schema);
}

/**
 * The discovered source of the Application or Kustomization that deployed an object, though it
 * does not render the object: its sync identities (sync impersonation, a Kustomization's
 * service account) and ignore rules still apply to it.
 */
function sourceOfOwner(
  owner: SyncOwner,
  sources: readonly SourceConfig[],
  config: Config,
): SourceConfig | undefined {
  if (owner.tool === 'Flux') {
    return owner.kind === 'Kustomization' ? sourceNamed(sources, `flux:${owner.name}`) : undefined;
  }
  const name = owner.name.includes('/')
    ? owner.name
    : `${config.discovery.argocd?.namespace ?? 'argocd'}/${owner.name}`;
  return sourceNamed(sources, `argocd:${name}`) ?? sourceNamed(sources, `argocd:${name}#0`);
}

function recordOrigin(record: SyncRecord, release: HelmReleaseFacts | undefined): DesiredOrigin {
  return {
    source: describeOwner(record.owner),
    file: describeRecord(record),
    line: 0,
    // What the HelmRelease last released, where discovery knows it.
    commit: release?.revision ?? 'unknown',
    by: 'sync-record',
  };
}

/** What the write changed of what the record declares, and the fields it took from the sync tool. */
function driftFromRecord(j: Judgement, record: SyncRecord): DriftFound {
  const { request, key, index, facts, config } = j;
  const old = request.oldObject ?? undefined;
  const live = request.object ?? undefined;
  if (old === undefined || live === undefined) return { drift: [], preexisting: [] };
  const options = comparisonOptions({
    key,
    desired: record.desired,
    objects: [live, old],
    allowancesOf: request.userInfo,
    replicasLeftToHpa: replicasLeftToHpa(key, live, index, facts),
    apiVersion: live.apiVersion,
    index,
    facts,
    config,
    source: j.source,
  });
  // The record is the object's own: no default namespace, no tracking label to leave out.
  const { defaultNamespace: _namespace, trackingLabel: _label, ...recordOptions } = options;
  const ignore = options.ignore ?? [];
  const schema = options.schema;
  const result = diffWrite(record.desired, old, live, recordOptions);
  const changed = new Set(result.introduced.map((d) => d.path));
  // A field taken over is judged as a changed one is: ignore rules, allowances and the HPA's
  // replicas apply (cert-manager's cainjector taking a caBundle is no theft).
  const rules = rulesFor(ignore, key);
  const ignoredPointers = rules.flatMap((rule) => rule.jsonPointers ?? []);
  const ignoredManagers = new Set(rules.flatMap((rule) => rule.managedFieldsManagers ?? []));
  const taken = ownershipTaken(old, live, syncRecordSettings(config), schema?.root)
    .filter((d) => !changed.has(d.path))
    .filter((d) => d.newOwner === undefined || !ignoredManagers.has(d.newOwner))
    .filter((d) => !ignoredPointers.some((p) => d.pointer === p || d.pointer.startsWith(`${p}/`)))
    .map(({ newOwner: _newOwner, ...drift }) => drift);
  return { drift: [...result.introduced, ...taken], preexisting: result.preexisting };
}

/** Record drift beside Git's: each path once, Git's first. */
function withRecordDrift(found: DriftFound, fromRecord: DriftFound): DriftFound {
  const seen = new Set(found.drift.map((d) => d.path));
  const seenBefore = new Set(found.preexisting.map((d) => d.path));
  return {
    ...found,
    drift: [...found.drift, ...fromRecord.drift.filter((d) => !seen.has(d.path))],
    preexisting: [
      ...found.preexisting,
      ...fromRecord.preexisting.filter((d) => !seen.has(d.path) && !seenBefore.has(d.path)),
    ],
  };
}
