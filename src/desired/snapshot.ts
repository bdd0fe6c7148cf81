// The desired state every admission decision reads: objects from Git keyed by ResourceKey,
// immutable once built, replaced whole when a source changes.
import { builtinScope } from '../kube/builtin.js';
import {
  customResourceFacts,
  isCustomResourceDefinition,
  type CustomResourceFacts,
} from '../kube/crd.js';
import type { Scope } from '../kube/discovery.js';
import { formatKey, keyOf, type KubeObject, type ResourceKey } from '../kube/object.js';
import type { RenderedDocument } from './manifest-parser.js';

export interface DesiredEntry {
  readonly key: ResourceKey;
  /**
   * The manifest as Git declares it. Parsed from its JSON on each access, so every caller gets
   * its own copy (mutating it cannot change the snapshot); keep the reference when reading it
   * more than once.
   */
  readonly object: KubeObject;
  /** Name of the source that declares the object. */
  readonly source: string;
  /** File (or renderer output) inside the repository, and its line. */
  readonly file: string;
  readonly line: number;
  /** Commit SHA the object was rendered from. */
  readonly commit: string;
}

/** Two declarations of one key: the first (in source order, then file order) is kept. */
export interface KeyConflict {
  readonly key: ResourceKey;
  readonly kept: { readonly source: string; readonly file: string; readonly line: number };
  readonly dropped: { readonly source: string; readonly file: string; readonly line: number };
}

/** Everything one source contributed at one commit. */
export interface SourceRender {
  readonly source: string;
  readonly commit: string;
  readonly namespace: string;
  readonly documents: readonly RenderedDocument[];
}

export interface DesiredSnapshot {
  /** `empty` until a render or the persisted snapshot is available; then `restored` or `rendered`. */
  readonly origin: 'empty' | 'restored' | 'rendered';
  /** When this snapshot was assembled. */
  readonly builtAt: Date;
  readonly size: number;
  readonly conflicts: readonly KeyConflict[];
  /** Commit of each source that contributed. */
  readonly commits: Readonly<Record<string, string>>;
  /**
   * The object Git declares under this key. A cluster-scoped key (namespace '') also finds an
   * object of a kind whose scope Git and Kubernetes' own kinds leave unknown, whatever namespace
   * its manifest gave it: the API server ignores a cluster-scoped object's namespace.
   */
  get(key: ResourceKey): DesiredEntry | undefined;
  entries(): IterableIterator<DesiredEntry>;
  /** Scope of a kind by Kubernetes' own discovery or by a CRD in the snapshot; else undefined. */
  scopeOf(group: string, kind: string): Scope | undefined;
  /** What a CustomResourceDefinition in the snapshot says of the kind it defines. */
  customResource(group: string, kind: string): CustomResourceFacts | undefined;
}

class SnapshotEntry implements DesiredEntry {
  constructor(
    readonly key: ResourceKey,
    private readonly json: string,
    readonly source: string,
    readonly file: string,
    readonly line: number,
    readonly commit: string,
  ) {}

  get object(): KubeObject {
    return JSON.parse(this.json) as KubeObject;
  }

  /** Serialised as a plain record with the object, e.g. by `driftgate render --output json`. */
  toJSON(): Omit<DesiredEntry, 'object'> & { object: KubeObject } {
    const { key, source, file, line, commit } = this;
    return { key, object: this.object, source, file, line, commit };
  }
}

// Kubernetes names and kinds never contain NUL, so this key cannot collide.
function mapKey(key: ResourceKey): string {
  return `${key.group}\u0000${key.kind}\u0000${key.namespace}\u0000${key.name}`;
}

function unscopedKey(key: ResourceKey): string {
  return `${key.group}\u0000${key.kind}\u0000${key.name}`;
}

class IndexedSnapshot implements DesiredSnapshot {
  constructor(
    readonly origin: DesiredSnapshot['origin'],
    readonly builtAt: Date,
    private readonly byKey: ReadonlyMap<string, DesiredEntry>,
    readonly conflicts: readonly KeyConflict[],
    readonly commits: Readonly<Record<string, string>>,
    private readonly crds: ReadonlyMap<string, CustomResourceFacts> = new Map(),
    /** Objects of kinds of unknown scope, by group, kind and name (the first declared). */
    private readonly unscoped: ReadonlyMap<string, DesiredEntry> = new Map(),
  ) {}

  get size(): number {
    return this.byKey.size;
  }

  get(key: ResourceKey): DesiredEntry | undefined {
    const entry = this.byKey.get(mapKey(key));
    if (entry !== undefined || key.namespace !== '') return entry;
    return this.unscoped.get(unscopedKey(key));
  }

  scopeOf(group: string, kind: string): Scope | undefined {
    return builtinScope(group, kind) ?? this.crds.get(`${group}/${kind}`)?.scope;
  }

  customResource(group: string, kind: string): CustomResourceFacts | undefined {
    return this.crds.get(`${group}/${kind}`);
  }

  entries(): IterableIterator<DesiredEntry> {
    return this.byKey.values();
  }
}

export function emptySnapshot(builtAt = new Date()): DesiredSnapshot {
  return new IndexedSnapshot('empty', builtAt, new Map(), [], {});
}

/**
 * Indexes the renders of all sources, in the order given (the config's order). A key declared
 * twice is a conflict: the first declaration is kept, the later one reported.
 */
export function buildSnapshot(
  renders: readonly SourceRender[],
  origin: 'restored' | 'rendered',
  builtAt = new Date(),
): DesiredSnapshot {
  const steps = snapshotSteps(renders, origin, builtAt, Number.POSITIVE_INFINITY);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/**
 * buildSnapshot, a slice of `slice` documents per turn of the event loop: indexing 100,000
 * documents in one go would hold up the reviews waiting meanwhile for over a hundred
 * milliseconds. The snapshot is built aside and returned whole, as buildSnapshot's is.
 */
export async function buildSnapshotInSlices(
  renders: readonly SourceRender[],
  origin: 'restored' | 'rendered',
  builtAt = new Date(),
  slice = 1_000,
): Promise<DesiredSnapshot> {
  const steps = snapshotSteps(renders, origin, builtAt, slice);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The work of buildSnapshot, pausing (yield) after every `slice` documents. */
function* snapshotSteps(
  renders: readonly SourceRender[],
  origin: 'restored' | 'rendered',
  builtAt: Date,
  slice: number,
): Generator<void, DesiredSnapshot> {
  const byKey = new Map<string, DesiredEntry>();
  const conflicts: KeyConflict[] = [];
  const commits: Record<string, string> = {};
  const crds = customResourcesOf(renders);
  const scopeOf = (group: string, kind: string) =>
    builtinScope(group, kind) ?? crds.get(`${group}/${kind}`)?.scope;
  const unscoped = new Map<string, DesiredEntry>();
  let sinceYield = 0;
  for (const render of renders) {
    commits[render.source] = render.commit;
    for (const document of render.documents) {
      if (++sinceYield >= slice) {
        sinceYield = 0;
        yield;
      }
      const metadata =
        document.namespace === null
          ? { name: document.name }
          : { name: document.name, namespace: document.namespace };
      const key = keyOf(
        { apiVersion: document.apiVersion, kind: document.kind, metadata },
        render.namespace,
        scopeOf,
      );
      const id = mapKey(key);
      const existing = byKey.get(id);
      if (existing !== undefined) {
        conflicts.push({
          key,
          kept: { source: existing.source, file: existing.file, line: existing.line },
          dropped: { source: render.source, file: document.file, line: document.line },
        });
        continue;
      }
      const entry = new SnapshotEntry(
        key,
        document.json,
        render.source,
        document.file,
        document.line,
        render.commit,
      );
      byKey.set(id, entry);
      // Keyed by the manifest's namespace, as a namespaced object would be; a write to it as a
      // cluster-scoped object (a review without a namespace) finds it here.
      const nameKey = unscopedKey(key);
      if (scopeOf(key.group, key.kind) === undefined && !unscoped.has(nameKey)) {
        unscoped.set(nameKey, entry);
      }
    }
  }
  return new IndexedSnapshot(origin, builtAt, byKey, conflicts, commits, crds, unscoped);
}

/** The CRDs the renders declare, by the `group/Kind` they define; the first declaration wins. */
function customResourcesOf(renders: readonly SourceRender[]): Map<string, CustomResourceFacts> {
  const crds = new Map<string, CustomResourceFacts>();
  for (const render of renders) {
    for (const document of render.documents) {
      const head = { apiVersion: document.apiVersion, kind: document.kind };
      if (!isCustomResourceDefinition(head)) continue;
      const facts = customResourceFacts(JSON.parse(document.json) as KubeObject);
      const id = facts === undefined ? undefined : `${facts.group}/${facts.kind}`;
      if (facts !== undefined && id !== undefined && !crds.has(id)) crds.set(id, facts);
    }
  }
  return crds;
}

/** `apps/Deployment shop/web: declared by shop (a.yaml:3) and by web (b.yaml:1); shop's kept`. */
export function formatConflict(conflict: KeyConflict): string {
  const { kept, dropped } = conflict;
  return `${formatKey(conflict.key)}: declared by ${kept.source} (${kept.file}:${kept.line}) and by ${dropped.source} (${dropped.file}:${dropped.line}); ${kept.source}'s is used`;
}
