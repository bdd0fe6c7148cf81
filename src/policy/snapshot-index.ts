// Facts derived from a desired snapshot once, not per request: which kinds Git manages, which
// objects HPAs declared in Git scale, which namespaces hold managed objects.
import { Slices } from '../desired/slices.js';
import type { DesiredEntry, DesiredSnapshot } from '../desired/snapshot.js';
import { customResourceSchema, type KindSchema } from '../drift/schema.js';
import { customResourceFacts } from '../kube/crd.js';
import { resourceOf } from '../kube/resource-name.js';
import { groupOf, isJsonObject, type ResourceKey } from '../kube/object.js';
import { hpaScaling, type HpaScaling } from './facts.js';

export interface SnapshotIndex {
  /** `group/Kind` of every kind in the snapshot. */
  readonly kinds: ReadonlySet<string>;
  /** Lower-case plural resource name → kind, for `scale` writes that name only the resource. */
  readonly kindByResource: ReadonlyMap<string, { group: string; kind: string }>;
  /** Scale target (`keyString`) → the HPA declared in Git that scales it. */
  readonly hpaTargets: ReadonlyMap<string, HpaScaling>;
  /** Managed objects per namespace. */
  readonly objectsInNamespace: ReadonlyMap<string, readonly ResourceKey[]>;
  /** CustomResourceDefinitions declared in Git, by the `group/Kind` they define. */
  readonly customResourceDefinitions: ReadonlyMap<string, DesiredEntry>;
}

export function keyString(key: ResourceKey): string {
  return `${key.group}/${key.kind}/${key.namespace}/${key.name}`;
}

function isCustomResourceDefinition(key: ResourceKey): boolean {
  return key.group === 'apiextensions.k8s.io' && key.kind === 'CustomResourceDefinition';
}

function isHpa(key: ResourceKey): boolean {
  return key.group === 'autoscaling' && key.kind === 'HorizontalPodAutoscaler';
}

const cache = new WeakMap<DesiredSnapshot, SnapshotIndex>();

export function indexSnapshot(snapshot: DesiredSnapshot): SnapshotIndex {
  const cached = cache.get(snapshot) ?? carriedOver(snapshot);
  if (cached !== undefined) return cached;
  const steps = indexSteps(snapshot, Number.POSITIVE_INFINITY);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/**
 * indexSnapshot done ahead, before the snapshot is served: the first decision on a snapshot of
 * 100,000 objects would otherwise index it, holding up every review for tens of milliseconds.
 * A slice of about `sliceMs` per turn of the event loop.
 */
export async function indexSnapshotInSlices(snapshot: DesiredSnapshot, sliceMs = 8): Promise<void> {
  if (cache.has(snapshot) || carriedOver(snapshot) !== undefined) return;
  const steps = indexSteps(snapshot, sliceMs);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * The index of the snapshot `snapshot` was derived from, when its changes leave the index as it
 * was: the same keys (so the same kinds and namespaces), no HPA and no CRD changed. Cached as
 * this snapshot's.
 */
function carriedOver(snapshot: DesiredSnapshot): SnapshotIndex | undefined {
  const derived = snapshot.derivedFrom();
  const before = derived === undefined ? undefined : cache.get(derived.snapshot);
  if (derived === undefined || before === undefined) return undefined;
  const { changedKinds } = derived;
  if (changedKinds.has('autoscaling/HorizontalPodAutoscaler')) return undefined;
  if (changedKinds.has('apiextensions.k8s.io/CustomResourceDefinition')) return undefined;
  // The entries of this snapshot, which name its commit.
  const customResourceDefinitions = new Map<string, DesiredEntry>();
  for (const [id, entry] of before.customResourceDefinitions) {
    const now = snapshot.get(entry.key);
    if (now !== undefined) customResourceDefinitions.set(id, now);
  }
  const index = { ...before, customResourceDefinitions };
  cache.set(snapshot, index);
  return index;
}

/** The work of indexSnapshot, pausing (yield) every 1,000 entries once `sliceMs` has passed. */
function* indexSteps(snapshot: DesiredSnapshot, sliceMs: number): Generator<void, SnapshotIndex> {
  const kinds = new Set<string>();
  const kindByResource = new Map<string, { group: string; kind: string }>();
  const hpaTargets = new Map<string, HpaScaling>();
  const objectsInNamespace = new Map<string, ResourceKey[]>();
  const customResourceDefinitions = new Map<string, DesiredEntry>();
  const slices = new Slices(sliceMs, 1_000);
  for (const entry of snapshot.entries()) {
    if (slices.due()) {
      yield;
      slices.resume();
    }
    const key = entry.key;
    // A snapshot holds few kinds and many objects: the plural is worked out once per kind.
    const kind = `${key.group}/${key.kind}`;
    if (!kinds.has(kind)) {
      kinds.add(kind);
      kindByResource.set(`${key.group}/${resourceOf(key.kind)}`, {
        group: key.group,
        kind: key.kind,
      });
    }
    if (key.namespace !== '') {
      const list = objectsInNamespace.get(key.namespace) ?? [];
      list.push(key);
      objectsInNamespace.set(key.namespace, list);
    }
    const defined = isCustomResourceDefinition(key) ? customResourceFacts(entry.object) : undefined;
    if (defined !== undefined) {
      customResourceDefinitions.set(`${defined.group}/${defined.kind}`, entry);
    }
    // Only HPAs and CRDs are read in full: reading an entry's object may parse it.
    const spec = isHpa(key) ? entry.object.spec : undefined;
    if (isJsonObject(spec)) {
      const target = spec.scaleTargetRef;
      const hpa = hpaScaling(`${key.namespace}/${key.name}`, spec);
      if (
        hpa !== undefined &&
        isJsonObject(target) &&
        typeof target.kind === 'string' &&
        typeof target.name === 'string'
      ) {
        const apiVersion = typeof target.apiVersion === 'string' ? target.apiVersion : undefined;
        hpaTargets.set(
          keyString({
            group: groupOf(apiVersion),
            kind: target.kind,
            namespace: key.namespace,
            name: target.name,
          }),
          hpa,
        );
      }
    }
  }
  const index = {
    kinds,
    kindByResource,
    hpaTargets,
    objectsInNamespace,
    customResourceDefinitions,
  };
  // Indexed meanwhile by a decision: that index is the one in use.
  const cached = cache.get(snapshot);
  if (cached !== undefined) return cached;
  cache.set(snapshot, index);
  return index;
}

// Compiled once per CRD entry and version: a snapshot's entries live as long as the snapshot.
const compiledSchemas = new WeakMap<DesiredEntry, Map<string, KindSchema | undefined>>();

/**
 * The schema of a custom resource whose CustomResourceDefinition Git declares, at the version of
 * `apiVersion`; undefined for built-in kinds and for custom resources Git does not define.
 */
export function customResourceSchemaOf(
  index: SnapshotIndex,
  key: ResourceKey,
  apiVersion: string | undefined,
): KindSchema | undefined {
  const entry = index.customResourceDefinitions.get(`${key.group}/${key.kind}`);
  if (entry === undefined) return undefined;
  const version = apiVersion?.slice(apiVersion.indexOf('/') + 1) ?? '';
  let byVersion = compiledSchemas.get(entry);
  if (byVersion === undefined) {
    byVersion = new Map();
    compiledSchemas.set(entry, byVersion);
  }
  if (!byVersion.has(version)) byVersion.set(version, customResourceSchema(entry.object, version));
  return byVersion.get(version);
}
