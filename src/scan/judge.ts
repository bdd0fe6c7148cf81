// One managed object compared with the cluster's copy, exactly as the validating webhook would
// compare a write of it (DESIGN.md §9): the same diff options, allowances of every configured
// writer (no one writes during a scan), HPA ownership and built-ins. Pure: no I/O, no clock.
import type { Config, SourceConfig } from '../config/config.js';
import type { DesiredEntry } from '../desired/snapshot.js';
import { diff } from '../drift/diff.js';
import type { KubeObject, ResourceKey } from '../kube/object.js';
import { isActive, readBreakGlass } from '../policy/break-glass.js';
import {
  comparisonOptions,
  isExcludedKind,
  replicasLeftToHpa,
  resolveMode,
  sourceNamed,
} from '../policy/comparison.js';
import type { EffectiveMode, Protection } from '../policy/decision.js';
import type { ClusterFacts } from '../policy/facts.js';
import type { SnapshotIndex } from '../policy/snapshot-index.js';

export type ScanStatus = 'in-sync' | 'drifted' | 'missing' | 'not-judged';

/** A field that differs: Git's value and the cluster's (Secret values are `<redacted>`). */
export interface ScanDrift {
  readonly path: string;
  /** Absent where Git does not declare the field. */
  readonly git?: unknown;
  /** Absent where the cluster's object lacks the field. */
  readonly live?: unknown;
}

export interface ScannedObject {
  readonly group: string;
  readonly kind: string;
  /** '' for cluster-scoped objects. */
  readonly namespace: string;
  readonly name: string;
  readonly status: ScanStatus;
  readonly source: string;
  readonly file: string;
  readonly commit: string;
  readonly mode: EffectiveMode;
  /** `git` where a write to it is judged against Git; `none` where it is out of scope. */
  readonly protection: Protection;
  readonly drift: readonly ScanDrift[];
  /** Why the object was not judged. */
  readonly reason?: string;
  /** An active break-glass covers the object: a write that keeps its drift is allowed. */
  readonly breakGlass?: string;
  /** Git's apiVersion of the object, and the cluster's uid of it where it was read. */
  readonly apiVersion?: string;
  readonly uid?: string;
}

export interface ScanContext {
  readonly index: SnapshotIndex;
  readonly facts: ClusterFacts;
  readonly config: Config;
  readonly sources: readonly SourceConfig[];
  readonly now: Date;
}

function base(entry: DesiredEntry, context: ScanContext) {
  return {
    ...entry.key,
    source: entry.source,
    file: entry.file,
    commit: entry.commit,
    mode: context.facts.override === 'off' ? ('off' as const) : modeOf(entry, context),
    protection: inScope(entry.key, context) ? ('git' as const) : ('none' as const),
    drift: [],
    ...(entry.object.apiVersion === undefined ? {} : { apiVersion: entry.object.apiVersion }),
  };
}

/** Whether a write to the object would be judged at all: its namespace and kind (§3.1). */
export function inScope(key: ResourceKey, context: ScanContext): boolean {
  const governing = governingNamespace(key);
  if (governing !== '' && context.config.namespaces.exclude.includes(governing)) return false;
  return !isExcludedKind(key, context.config);
}

/** The namespace whose settings apply: a Namespace's own, as for a write of it. */
export function governingNamespace(key: ResourceKey): string {
  return key.group === '' && key.kind === 'Namespace' ? key.name : key.namespace;
}

function modeOf(entry: DesiredEntry, context: ScanContext): EffectiveMode {
  return resolveMode(governingNamespace(entry.key), context.facts, context.config);
}

export function notJudged(
  entry: DesiredEntry,
  reason: string,
  context: ScanContext,
): ScannedObject {
  return { ...base(entry, context), status: 'not-judged', reason };
}

/** `live` is the cluster's object in Git's apiVersion, or undefined when the cluster lacks it. */
export function judgeObject(
  entry: DesiredEntry,
  manifest: KubeObject,
  live: KubeObject | undefined,
  context: ScanContext,
): ScannedObject {
  if (live === undefined) return { ...base(entry, context), status: 'missing' };
  const { key } = entry;
  const uid = live.metadata?.uid;
  const known = typeof uid === 'string' ? { uid } : {};
  const options = comparisonOptions({
    key,
    desired: manifest,
    objects: [live],
    allowancesOf: 'every',
    replicasLeftToHpa: replicasLeftToHpa(key, live, context.index, context.facts),
    apiVersion: live.apiVersion,
    index: context.index,
    facts: context.facts,
    config: context.config,
    source: sourceNamed(context.sources, entry.source),
  });
  const drift = diff(manifest, live, options).map((field) => ({
    path: field.path,
    ...('desired' in field ? { git: field.desired } : {}),
    ...('live' in field ? { live: field.live } : {}),
  }));
  if (drift.length === 0) return { ...base(entry, context), ...known, status: 'in-sync' };
  const own = readBreakGlass(live.metadata?.annotations);
  const namespaceWide = readBreakGlass(
    context.facts.namespace(governingNamespace(key))?.annotations,
  );
  const active = isActive(own, context.now)
    ? own
    : isActive(namespaceWide, context.now)
      ? namespaceWide
      : undefined;
  return {
    ...base(entry, context),
    ...known,
    status: 'drifted',
    drift,
    ...(active === undefined ? {} : { breakGlass: active.reason }),
  };
}
