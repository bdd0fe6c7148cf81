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
import { Slices } from './slices.js';

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

/**
 * A render's documents in order: one list, or several read one after the other (a render's
 * files, see DocumentsOfFiles). Loops over every document read the lists (listsOf): iterating
 * the documents one by one through a generator made a build of 100,000 a third slower.
 */
export type RenderDocuments = readonly RenderedDocument[] | DocumentLists;

export interface DocumentLists extends Iterable<RenderedDocument> {
  readonly length: number;
  /** The lists, in order: iterable again on each call. */
  lists(): Iterable<readonly RenderedDocument[]>;
}

export function listsOf(documents: RenderDocuments): Iterable<readonly RenderedDocument[]> {
  return isDocumentList(documents) ? [documents] : documents.lists();
}

function isDocumentList(documents: RenderDocuments): documents is readonly RenderedDocument[] {
  return Array.isArray(documents);
}

/** Everything one source contributed at one commit. */
export interface SourceRender {
  readonly source: string;
  readonly commit: string;
  readonly namespace: string;
  readonly documents: RenderDocuments;
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
  /**
   * The snapshot this one was built from, when it holds the same keys in the same order and
   * only the documents of some of them changed: `changedKinds` are those entries' `group/Kind`.
   * What is derived from keys alone (an index of them) carries over. Undefined when this
   * snapshot was built whole, or that one is gone.
   */
  derivedFrom():
    { readonly snapshot: DesiredSnapshot; readonly changedKinds: ReadonlySet<string> } | undefined;
}

/**
 * What a snapshot holds of one document, but its commit: unchanged, it is shared by the next
 * snapshot, even when that one is of a later commit of the source (see storedEntryOf).
 */
interface StoredEntry {
  readonly key: ResourceKey;
  /** mapKey(key) */
  readonly id: string;
  /** unscopedKey(key) when the kind's scope is unknown, else undefined. */
  readonly nameKey: string | undefined;
  readonly document: RenderedDocument;
  readonly source: string;
  /** What the key was worked out under: the source's default namespace, the CRDs' scopes. */
  readonly namespace: string;
  readonly scopes: Scopes;
}

class SnapshotEntry implements DesiredEntry {
  constructor(
    private readonly stored: StoredEntry,
    readonly commit: string,
  ) {}

  get key(): ResourceKey {
    return this.stored.key;
  }

  get source(): string {
    return this.stored.source;
  }

  get file(): string {
    return this.stored.document.file;
  }

  get line(): number {
    return this.stored.document.line;
  }

  get object(): KubeObject {
    return JSON.parse(this.stored.document.json) as KubeObject;
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

/** How a snapshot was derived from the one before it (see DesiredSnapshot.derivedFrom). */
interface Derivation {
  readonly from: WeakRef<IndexedSnapshot>;
  readonly changedKinds: ReadonlySet<string>;
}

/** What a build works out once and a build derived from it keeps. */
interface SnapshotParts {
  /** The renders the snapshot was built from. */
  readonly renders: readonly SourceRender[];
  readonly byKey: ReadonlyMap<string, StoredEntry>;
  /**
   * Entries of byKey (by the same id) whose documents a later commit changed: a snapshot
   * derived from another shares its byKey, which copied would take longer than a build.
   */
  readonly changed: ReadonlyMap<string, StoredEntry>;
  readonly conflicts: readonly KeyConflict[];
  readonly crds: ReadonlyMap<string, CustomResourceFacts>;
  readonly scopes: Scopes;
  /** Objects of kinds of unknown scope, by group, kind and name (the first declared). */
  readonly unscoped: ReadonlyMap<string, StoredEntry>;
}

class IndexedSnapshot implements DesiredSnapshot {
  readonly commits: Readonly<Record<string, string>>;

  constructor(
    readonly origin: DesiredSnapshot['origin'],
    readonly builtAt: Date,
    readonly parts: SnapshotParts,
    private readonly derivation?: Derivation,
  ) {
    const commits: Record<string, string> = {};
    for (const render of parts.renders) commits[render.source] = render.commit;
    this.commits = commits;
  }

  /** The entries get() has handed out, only those: most of a large snapshot is never asked for. */
  private readonly looked = new WeakMap<StoredEntry, DesiredEntry>();

  get size(): number {
    return this.parts.byKey.size;
  }

  get conflicts(): readonly KeyConflict[] {
    return this.parts.conflicts;
  }

  get(key: ResourceKey): DesiredEntry | undefined {
    const { byKey, unscoped } = this.parts;
    const stored =
      byKey.get(mapKey(key)) ?? (key.namespace === '' ? unscoped.get(unscopedKey(key)) : undefined);
    if (stored === undefined) return undefined;
    const current = this.current(stored);
    // The same entry for the same key: what decisions derive from an entry (its parsed manifest)
    // is kept by the entry, and a new one per lookup would parse the manifest on every review.
    let entry = this.looked.get(current);
    if (entry === undefined) {
      entry = this.entryOf(current);
      this.looked.set(current, entry);
    }
    return entry;
  }

  scopeOf(group: string, kind: string): Scope | undefined {
    return builtinScope(group, kind) ?? this.parts.crds.get(`${group}/${kind}`)?.scope;
  }

  customResource(group: string, kind: string): CustomResourceFacts | undefined {
    return this.parts.crds.get(`${group}/${kind}`);
  }

  *entries(): IterableIterator<DesiredEntry> {
    for (const stored of this.parts.byKey.values()) yield this.entryOf(this.current(stored));
  }

  derivedFrom(): ReturnType<DesiredSnapshot['derivedFrom']> {
    const snapshot = this.derivation?.from.deref();
    return snapshot === undefined || this.derivation === undefined
      ? undefined
      : { snapshot, changedKinds: this.derivation.changedKinds };
  }

  private current(stored: StoredEntry): StoredEntry {
    const { changed } = this.parts;
    return changed.size === 0 ? stored : (changed.get(stored.id) ?? stored);
  }

  private entryOf(stored: StoredEntry): DesiredEntry {
    return new SnapshotEntry(stored, this.commits[stored.source] ?? '');
  }
}

export function emptySnapshot(builtAt = new Date()): DesiredSnapshot {
  return new IndexedSnapshot('empty', builtAt, {
    renders: [],
    byKey: new Map(),
    changed: new Map(),
    conflicts: [],
    crds: new Map(),
    scopes: scopesFor(new Map()),
    unscoped: new Map(),
  });
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
  const steps = snapshotSteps(renders, origin, builtAt, { slice: Number.POSITIVE_INFINITY });
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

export interface BuildOptions {
  /** Documents per check of the clock. */
  readonly slice?: number;
  /** Time a slice may take before a turn of the event loop. */
  readonly sliceMs?: number;
  /**
   * The snapshot served until now. When the renders hold the same keys as its renders, in the
   * same order, and only the documents of a few changed (the common commit: a file edited), the
   * new snapshot is derived from it: only those documents are looked at, not every one.
   */
  readonly previous?: DesiredSnapshot;
}

/**
 * buildSnapshot, a slice at a time with a turn of the event loop between: indexing 100,000
 * documents in one go would hold up the reviews waiting meanwhile for over a hundred
 * milliseconds. A slice ends at the first multiple of `slice` documents once it has taken
 * `sliceMs`: under review load each turn waits for the reviews queued meanwhile, so slices as
 * short as the documents a commit left unchanged take would make a hundred turns of waiting.
 * The snapshot is built aside and returned whole, as buildSnapshot's is.
 */
export async function buildSnapshotInSlices(
  renders: readonly SourceRender[],
  origin: 'restored' | 'rendered',
  builtAt = new Date(),
  options: BuildOptions = {},
): Promise<DesiredSnapshot> {
  const steps = snapshotSteps(renders, origin, builtAt, options);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The work of buildSnapshotInSlices, pausing (yield) between slices. */
function* snapshotSteps(
  renders: readonly SourceRender[],
  origin: 'restored' | 'rendered',
  builtAt: Date,
  { slice = 1_000, sliceMs = 8, previous }: BuildOptions,
): Generator<void, DesiredSnapshot> {
  const slices = new Slices(sliceMs, slice);
  if (previous instanceof IndexedSnapshot) {
    const derived = yield* derivedSteps(renders, previous, slices);
    if (derived !== undefined) {
      return new IndexedSnapshot(origin, builtAt, derived.parts, {
        from: new WeakRef(previous),
        changedKinds: derived.changedKinds,
      });
    }
  }
  return new IndexedSnapshot(origin, builtAt, yield* wholeSteps(renders, slices));
}

/** Every document of every render keyed and indexed. */
function* wholeSteps(
  renders: readonly SourceRender[],
  slices: Slices,
): Generator<void, SnapshotParts> {
  const byKey = new Map<string, StoredEntry>();
  const conflicts: KeyConflict[] = [];
  const crds = new Map<string, CustomResourceFacts>();
  for (const render of renders) {
    for (const list of listsOf(render.documents)) {
      for (const document of list) {
        if (slices.due()) {
          yield;
          slices.resume();
        }
        addCustomResource(crds, document);
      }
    }
  }
  const scopes = scopesFor(crds);
  const scopeOf = (group: string, kind: string) =>
    builtinScope(group, kind) ?? crds.get(`${group}/${kind}`)?.scope;
  const unscoped = new Map<string, StoredEntry>();
  for (const render of renders) {
    for (const list of listsOf(render.documents)) {
      for (const document of list) {
        if (slices.due()) {
          yield;
          slices.resume();
        }
        const stored = storedEntryOf(document, render, scopes, scopeOf);
        const existing = byKey.get(stored.id);
        if (existing !== undefined) {
          conflicts.push({
            key: stored.key,
            kept: {
              source: existing.source,
              file: existing.document.file,
              line: existing.document.line,
            },
            dropped: { source: render.source, file: document.file, line: document.line },
          });
          continue;
        }
        byKey.set(stored.id, stored);
        // Keyed by the manifest's namespace, as a namespaced object would be; a write to it as a
        // cluster-scoped object (a review without a namespace) finds it here.
        if (stored.nameKey !== undefined && !unscoped.has(stored.nameKey)) {
          unscoped.set(stored.nameKey, stored);
        }
      }
    }
  }
  return { renders, byKey, changed: new Map(), conflicts, crds, scopes, unscoped };
}

/**
 * The parts of a snapshot of `renders` taken from `previous`'s, when each render holds, document
 * for document, the keys of `previous`'s render of its source, and the documents that are not
 * the same objects are few, none of them a CRD (which could change the scope of a kind, and so
 * keys) and none declared twice (a conflict names its declarations' lines). Undefined otherwise:
 * the snapshot is built whole. A render of a delta holds the same document objects for the files
 * it did not read again, so this looks at the documents of the changed files only, and at the
 * others only to see that they are the same.
 */
function* derivedSteps(
  renders: readonly SourceRender[],
  previous: IndexedSnapshot,
  slices: Slices,
): Generator<void, { parts: SnapshotParts; changedKinds: Set<string> } | undefined> {
  const before = previous.parts;
  if (renders.length !== before.renders.length) return undefined;
  // Past this many changed entries a build whole is as quick, and frees the documents replaced.
  const most = Math.max(MIN_CHANGED, before.byKey.size * MAX_CHANGED_SHARE);
  const changed = new Map(before.changed);
  const changedKinds = new Set<string>();
  const conflicted = new Set(before.conflicts.map((conflict) => mapKey(conflict.key)));
  const scopeOf = (group: string, kind: string) =>
    builtinScope(group, kind) ?? before.crds.get(`${group}/${kind}`)?.scope;
  for (const [index, render] of renders.entries()) {
    const was = before.renders[index];
    if (was === undefined || was.source !== render.source || was.namespace !== render.namespace)
      return undefined;
    if (render.documents === was.documents) continue;
    if (render.documents.length !== was.documents.length) return undefined;
    // A render taken whole: every document is a new object.
    if (isDocumentList(render.documents)) return undefined;
    for (const pair of pairsChanged(was.documents, render.documents)) {
      if (slices.due()) {
        yield;
        slices.resume();
      }
      if (pair === null) continue;
      const [old, document] = pair;
      if (isCrd(old) || isCrd(document)) return undefined;
      const stored = storedEntryOf(document, render, before.scopes, scopeOf);
      // The entry under the new document's key must be the old document's: the same key,
      // declared once.
      const served = changed.get(stored.id) ?? before.byKey.get(stored.id);
      if (served?.document !== old || conflicted.has(stored.id)) return undefined;
      changed.set(stored.id, stored);
      changedKinds.add(`${stored.key.group}/${stored.key.kind}`);
      if (changed.size > most) return undefined;
    }
  }
  return { parts: { ...before, renders, changed }, changedKinds };
}

/** Changed entries a derived snapshot may carry, at least; else a share of its entries. */
const MIN_CHANGED = 256;
const MAX_CHANGED_SHARE = 1 / 16;

function isCrd(document: RenderedDocument): boolean {
  return (
    document.kind === 'CustomResourceDefinition' &&
    isCustomResourceDefinition({ apiVersion: document.apiVersion, kind: document.kind })
  );
}

/**
 * The documents of two renders of equal length, position by position, read by their lists:
 * [before's, after's] where they are different objects. A list the two share whole (a file a
 * commit did not change) is passed over at once, as one `null`.
 */
function* pairsChanged(
  before: RenderDocuments,
  after: RenderDocuments,
): Generator<readonly [RenderedDocument, RenderedDocument] | null> {
  const lists = listsOf(before)[Symbol.iterator]();
  let list: readonly RenderedDocument[] = [];
  let at = 0;
  const nextList = (): boolean => {
    const next = lists.next();
    list = next.done === true ? [] : next.value;
    at = 0;
    return next.done !== true;
  };
  for (const own of listsOf(after)) {
    if (at === list.length && nextList() && list === own) {
      at = own.length;
      yield null;
      continue;
    }
    for (const document of own) {
      while (at === list.length) if (!nextList()) return;
      const old = list[at++] as RenderedDocument;
      if (old !== document) yield [old, document];
    }
  }
}

/**
 * The scopes the CRDs of a build give their kinds, as one value: a later build whose CRDs give
 * the same scopes gets the same value, so what an entry was keyed under is compared at once.
 */
interface Scopes {
  readonly signature: string;
}
let lastScopes: Scopes = { signature: '' };

function scopesFor(crds: ReadonlyMap<string, CustomResourceFacts>): Scopes {
  const signature = [...crds]
    .map(([id, facts]) => `${id}=${facts.scope}`)
    .sort()
    .join('\n');
  if (signature !== lastScopes.signature) lastScopes = { signature };
  return lastScopes;
}

/**
 * Each document's entry, kept for as long as a render holds the document: a commit that
 * changes one file of 20,000 leaves the other files' documents (the same objects) as they were,
 * and their keys need not be worked out again. Valid while the source, its default namespace
 * and the CRDs' scopes are the same.
 */
const entryCache = new WeakMap<RenderedDocument, StoredEntry>();

function storedEntryOf(
  document: RenderedDocument,
  render: SourceRender,
  scopes: Scopes,
  scopeOf: (group: string, kind: string) => Scope | undefined,
): StoredEntry {
  const cached = entryCache.get(document);
  if (
    cached !== undefined &&
    cached.scopes === scopes &&
    cached.namespace === render.namespace &&
    cached.source === render.source
  ) {
    return cached;
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
  const stored: StoredEntry = {
    key,
    id: mapKey(key),
    nameKey: scopeOf(key.group, key.kind) === undefined ? unscopedKey(key) : undefined,
    document,
    source: render.source,
    namespace: render.namespace,
    scopes,
  };
  entryCache.set(document, stored);
  return stored;
}

/**
 * Adds what a CRD among the renders' documents defines, by the `group/Kind` it defines: called
 * for every document in order, the first declaration wins.
 */
function addCustomResource(
  crds: Map<string, CustomResourceFacts>,
  document: RenderedDocument,
): void {
  // Read for every document of every build: most are not CRDs, and are passed over at once.
  if (document.kind !== 'CustomResourceDefinition') return;
  if (!isCustomResourceDefinition({ apiVersion: document.apiVersion, kind: document.kind })) return;
  const facts = customResourceFacts(JSON.parse(document.json) as KubeObject);
  const id = facts === undefined ? undefined : `${facts.group}/${facts.kind}`;
  if (facts !== undefined && id !== undefined && !crds.has(id)) crds.set(id, facts);
}

/** `apps/Deployment shop/web: declared by shop (a.yaml:3) and by web (b.yaml:1); shop's kept`. */
export function formatConflict(conflict: KeyConflict): string {
  const { kept, dropped } = conflict;
  return `${formatKey(conflict.key)}: declared by ${kept.source} (${kept.file}:${kept.line}) and by ${dropped.source} (${dropped.file}:${dropped.line}); ${kept.source}'s is used`;
}
