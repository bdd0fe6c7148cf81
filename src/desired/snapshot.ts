// The desired state every admission decision reads: objects from Git keyed by ResourceKey,
// immutable once built, replaced whole when a source changes.
import { formatKey, keyOf, type KubeObject, type ResourceKey } from '../kube/object.js';

export interface DesiredEntry {
  readonly key: ResourceKey;
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
  readonly documents: readonly {
    readonly file: string;
    readonly line: number;
    readonly object: KubeObject;
  }[];
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
  get(key: ResourceKey): DesiredEntry | undefined;
  entries(): IterableIterator<DesiredEntry>;
}

// Kubernetes names and kinds never contain NUL, so this key cannot collide.
function mapKey(key: ResourceKey): string {
  return `${key.group}\u0000${key.kind}\u0000${key.namespace}\u0000${key.name}`;
}

class IndexedSnapshot implements DesiredSnapshot {
  constructor(
    readonly origin: DesiredSnapshot['origin'],
    readonly builtAt: Date,
    private readonly byKey: ReadonlyMap<string, DesiredEntry>,
    readonly conflicts: readonly KeyConflict[],
    readonly commits: Readonly<Record<string, string>>,
  ) {}

  get size(): number {
    return this.byKey.size;
  }

  get(key: ResourceKey): DesiredEntry | undefined {
    return this.byKey.get(mapKey(key));
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
  const byKey = new Map<string, DesiredEntry>();
  const conflicts: KeyConflict[] = [];
  const commits: Record<string, string> = {};
  for (const render of renders) {
    commits[render.source] = render.commit;
    for (const document of render.documents) {
      const key = keyOf(document.object, render.namespace);
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
      byKey.set(id, {
        key,
        object: document.object,
        source: render.source,
        file: document.file,
        line: document.line,
        commit: render.commit,
      });
    }
  }
  return new IndexedSnapshot(origin, builtAt, byKey, conflicts, commits);
}

/** `apps/Deployment shop/web: declared by shop (a.yaml:3) and by web (b.yaml:1); shop's kept`. */
export function formatConflict(conflict: KeyConflict): string {
  const { kept, dropped } = conflict;
  return `${formatKey(conflict.key)}: declared by ${kept.source} (${kept.file}:${kept.line}) and by ${dropped.source} (${dropped.file}:${dropped.line}); ${kept.source}'s is used`;
}
