import { beforeAll, describe, expect, it } from 'vitest';
import { toRendered, type RenderedDocument } from './manifest-parser.js';
import { applyDeltaByFile, documentsByFile, DocumentsOfFiles } from './render.js';
import { buildSnapshot, buildSnapshotInSlices, type SourceRender } from './snapshot.js';

const configMap = (name: string, namespace?: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: namespace === undefined ? { name } : { name, namespace },
  data: { name },
});

/** The CRD of example.com's Widget, in crd.yaml. */
const widgetCrd = (scope: 'Cluster' | 'Namespaced') =>
  toRendered({
    file: 'crd.yaml',
    line: 1,
    object: {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'widgets.example.com' },
      spec: {
        group: 'example.com',
        scope,
        names: { kind: 'Widget', plural: 'widgets' },
        versions: [{ name: 'v1', served: true, storage: true }],
      },
    },
  });

// Two sources, the second declaring one of the first's objects again (a conflict), a CRD and an
// object of the kind it defines, and an object of a kind of unknown scope.
const renders: SourceRender[] = [
  {
    source: 'shop',
    commit: 'a'.repeat(40),
    namespace: 'shop',
    documents: [
      ...Array.from({ length: 7 }, (_, index) =>
        toRendered({ file: `cm-${index}.yaml`, line: 1, object: configMap(`cm-${index}`) }),
      ),
      widgetCrd('Cluster'),
      toRendered({
        file: 'widget.yaml',
        line: 1,
        object: { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } },
      }),
      toRendered({
        file: 'gadget.yaml',
        line: 1,
        object: {
          apiVersion: 'other.example.com/v1',
          kind: 'Gadget',
          metadata: { name: 'g', namespace: 'x' },
        },
      }),
    ],
  },
  {
    source: 'web',
    commit: 'b'.repeat(40),
    namespace: 'web',
    documents: [
      toRendered({ file: 'again.yaml', line: 3, object: configMap('cm-2', 'shop') }),
      toRendered({ file: 'web.yaml', line: 1, object: configMap('web') }),
    ],
  },
];

const plain = (snapshot: ReturnType<typeof buildSnapshot>) => ({
  origin: snapshot.origin,
  builtAt: snapshot.builtAt,
  size: snapshot.size,
  commits: snapshot.commits,
  conflicts: snapshot.conflicts,
  entries: [...snapshot.entries()].map((entry) => JSON.parse(JSON.stringify(entry)) as unknown),
  widget: snapshot.get({ group: 'example.com', kind: 'Widget', namespace: '', name: 'w' })?.file,
  gadget: snapshot.get({ group: 'other.example.com', kind: 'Gadget', namespace: '', name: 'g' })
    ?.file,
  widgetScope: snapshot.scopeOf('example.com', 'Widget'),
  gadgetScope: snapshot.scopeOf('other.example.com', 'Gadget'),
  gadgetLine: snapshot.get({
    group: 'other.example.com',
    kind: 'Gadget',
    namespace: 'x',
    name: 'g',
  })?.line,
});

describe('buildSnapshotInSlices', () => {
  it.each([1, 2, 5, 100])(
    'builds the snapshot buildSnapshot builds, in slices of %i documents',
    async (slice) => {
      const builtAt = new Date('2026-01-02T03:04:05Z');
      const whole = buildSnapshot(renders, 'rendered', builtAt);
      const sliced = await buildSnapshotInSlices(renders, 'rendered', builtAt, {
        slice,
        sliceMs: 0,
      });
      expect(plain(sliced)).toEqual(plain(whole));
      expect(plain(whole)).toMatchObject({
        size: 11,
        widget: 'widget.yaml',
        gadget: 'gadget.yaml',
        widgetScope: 'Cluster',
      });
      expect(whole.conflicts).toHaveLength(1);
    },
  );

  it('lets the event loop run between slices', async () => {
    const turns: number[] = [];
    let turn = 0;
    const tick = (): void => {
      turn += 1;
      if (turn < 50) setImmediate(tick);
    };
    setImmediate(tick);
    const building = buildSnapshotInSlices(renders, 'rendered', new Date(), {
      slice: 3,
      sliceMs: 0,
    }).then(() => {
      turns.push(turn);
    });
    await building;
    // 12 documents in slices of 3: the loop turned between them, not only after.
    expect(turns[0]).toBeGreaterThanOrEqual(3);
  });
});

/** The same documents as new objects: nothing a build of the originals worked out applies. */
const copied = (list: readonly SourceRender[]): SourceRender[] =>
  list.map((render) => ({
    ...render,
    documents: [...render.documents].map((document) => ({ ...document })),
  }));

const crd = (kind: string, scope: 'Cluster' | 'Namespaced') =>
  toRendered({
    file: 'crd-more.yaml',
    line: 1,
    object: {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `${kind.toLowerCase()}s.other.example.com` },
      spec: {
        group: 'other.example.com',
        scope,
        names: { kind, plural: `${kind.toLowerCase()}s` },
        versions: [{ name: 'v1', served: true, storage: true }],
      },
    },
  });

/**
 * A later commit of the first source: its documents of files the commit left alone are the
 * same objects as before (as a render taken as a delta gives them), the rest are new.
 */
const later = (
  change: (documents: readonly RenderedDocument[]) => SourceRender['documents'],
): SourceRender[] => {
  const [shop, web] = renders;
  if (shop === undefined || web === undefined) throw new Error('renders');
  return [{ ...shop, commit: 'c'.repeat(40), documents: change([...shop.documents]) }, web];
};

describe('a snapshot built after another from mostly the same documents', () => {
  const cm = (file: string, name: string, namespace?: string) =>
    toRendered({ file, line: 1, object: configMap(name, namespace) });
  it.each([
    {
      name: 'a changed file',
      change: (documents: readonly RenderedDocument[]) =>
        documents.map((d) => (d.file === 'cm-3.yaml' ? cm('cm-3.yaml', 'cm-3-renamed') : d)),
    },
    {
      name: 'an added file',
      change: (documents: readonly RenderedDocument[]) => [cm('a-new.yaml', 'new'), ...documents],
    },
    {
      name: 'a deleted file',
      change: (documents: readonly RenderedDocument[]) =>
        documents.filter((d) => d.file !== 'cm-4.yaml'),
    },
    {
      name: 'an object moved to another file',
      change: (documents: readonly RenderedDocument[]) => [
        ...documents.filter((d) => d.file !== 'cm-5.yaml'),
        cm('moved.yaml', 'cm-5'),
      ],
    },
    {
      name: 'a duplicate key appearing in an earlier file',
      change: (documents: readonly RenderedDocument[]) => [cm('a-dup.yaml', 'cm-6'), ...documents],
    },
    {
      name: 'the conflict with another source going away',
      change: (documents: readonly RenderedDocument[]) =>
        documents.filter((d) => d.file !== 'cm-2.yaml'),
    },
    {
      name: 'a CRD giving a kind of unknown scope one',
      change: (documents: readonly RenderedDocument[]) => [...documents, crd('Gadget', 'Cluster')],
    },
    {
      name: 'an object of unknown scope declared again under another namespace',
      change: (documents: readonly RenderedDocument[]) => [
        toRendered({
          file: 'a-gadget.yaml',
          line: 1,
          object: {
            apiVersion: 'other.example.com/v1',
            kind: 'Gadget',
            metadata: { name: 'g', namespace: 'y' },
          },
        }),
        ...documents,
      ],
    },
  ])('is the snapshot a build from scratch gives after $name', async ({ change }) => {
    const builtAt = new Date('2026-01-02T03:04:05Z');
    await buildSnapshotInSlices(renders, 'rendered', builtAt);
    const next = later(change);
    const after = await buildSnapshotInSlices(next, 'rendered', builtAt);
    const fromScratch = buildSnapshot(copied(next), 'rendered', builtAt);
    expect(plain(after)).toEqual(plain(fromScratch));
    // Every entry names the new commit, also those of documents the commit left alone.
    const shopCommits = [...after.entries()]
      .filter((entry) => entry.source === 'shop')
      .map((entry) => entry.commit);
    expect(new Set(shopCommits)).toEqual(new Set(['c'.repeat(40)]));
    // And the one before is as it was.
    expect(plain(buildSnapshot(renders, 'rendered', builtAt))).toEqual(
      plain(buildSnapshot(copied(renders), 'rendered', builtAt)),
    );
  });

  it('keys a document again when its source gives it another default namespace', () => {
    const builtAt = new Date('2026-01-02T03:04:05Z');
    buildSnapshot(renders, 'rendered', builtAt);
    const moved = renders.map((render) => ({ ...render, namespace: `${render.namespace}-2` }));
    expect(plain(buildSnapshot(moved, 'rendered', builtAt))).toEqual(
      plain(buildSnapshot(copied(moved), 'rendered', builtAt)),
    );
    expect(
      buildSnapshot(moved, 'rendered', builtAt).get({
        group: '',
        kind: 'ConfigMap',
        namespace: 'shop-2',
        name: 'cm-0',
      }),
    ).toBeDefined();
  });
});

describe('a snapshot looked up again', () => {
  it('hands out the same entry for the same key, each snapshot with its own commit', () => {
    const key = { group: '', kind: 'ConfigMap', namespace: 'shop', name: 'cm-1' };
    const first = buildSnapshot(renders, 'rendered');
    // What a decision derives from an entry (its parsed manifest) is kept by the entry.
    expect(first.get(key)).toBeDefined();
    expect(first.get(key)).toBe(first.get(key));
    const later = renders.map((render) => ({ ...render, commit: 'c'.repeat(40) }));
    const second = buildSnapshot(later, 'rendered');
    expect(second.get(key)).not.toBe(first.get(key));
    expect(second.get(key)?.commit).toBe('c'.repeat(40));
    expect(first.get(key)?.commit).toBe('a'.repeat(40));
  });
});

describe('a snapshot derived from the one before', () => {
  const builtAt = new Date('2026-01-02T03:04:05Z');
  /** A render's documents by file, as a render taken as a delta holds them. */
  const ofFiles = async (documents: readonly RenderedDocument[]): Promise<DocumentsOfFiles> =>
    new DocumentsOfFiles(await documentsByFile(documents), documents.length);
  /** The render of a commit that changed `file` to hold `replacement`: the others' lists kept. */
  const edited = async (
    documents: DocumentsOfFiles,
    file: string,
    replacement: readonly RenderedDocument[],
  ): Promise<DocumentsOfFiles> =>
    (
      await applyDeltaByFile(documents.byFile, replacement, {
        files: [...documents.byFile.keys()],
        reread: [file],
      })
    ).documents;
  const withShop = (documents: SourceRender['documents'], commit: string): SourceRender[] => {
    const [shop, web] = renders;
    if (shop === undefined || web === undefined) throw new Error('renders');
    return [{ ...shop, commit, documents }, web];
  };
  let first: DocumentsOfFiles;
  beforeAll(async () => {
    first = await ofFiles(renders[0]?.documents as RenderedDocument[]);
  });
  const cm = (file: string, name: string, line = 1, namespace?: string) =>
    toRendered({
      file,
      line,
      object: { ...configMap(name, namespace), data: { line: `${line}` } },
    });
  const gadget = (line: number) =>
    toRendered({
      file: 'gadget.yaml',
      line,
      object: {
        apiVersion: 'other.example.com/v1',
        kind: 'Gadget',
        metadata: { name: 'g', namespace: 'x' },
      },
    });

  it('takes an edited file from the documents changed, and is what a build from scratch gives', async () => {
    const before = await buildSnapshotInSlices(
      withShop(first, 'a'.repeat(40)),
      'rendered',
      builtAt,
    );
    const oneEdit = await edited(first, 'cm-3.yaml', [cm('cm-3.yaml', 'cm-3', 4)]);
    const after = await buildSnapshotInSlices(
      withShop(oneEdit, 'c'.repeat(40)),
      'rendered',
      builtAt,
      {
        previous: before,
      },
    );
    expect(after.derivedFrom()).toEqual({
      snapshot: before,
      changedKinds: new Set(['/ConfigMap']),
    });
    expect(plain(after)).toEqual(
      plain(buildSnapshot(copied(withShop(oneEdit, 'c'.repeat(40))), 'rendered', builtAt)),
    );
    const key = { group: '', kind: 'ConfigMap', namespace: 'shop', name: 'cm-3' };
    expect(after.get(key)?.line).toBe(4);
    expect(after.get(key)?.commit).toBe('c'.repeat(40));
    // The snapshot before is as it was.
    expect(before.get(key)?.line).toBe(1);
    expect(before.get(key)?.commit).toBe('a'.repeat(40));
    expect(plain(before)).toEqual(
      plain(buildSnapshot(copied(withShop(first, 'a'.repeat(40))), 'rendered', builtAt)),
    );
  });

  it('stays what a build from scratch gives over commits that each edit a file', async () => {
    let documents = first;
    let snapshot = await buildSnapshotInSlices(
      withShop(documents, 'a'.repeat(40)),
      'rendered',
      builtAt,
    );
    const edits: [string, RenderedDocument[]][] = [
      ['cm-3.yaml', [cm('cm-3.yaml', 'cm-3', 2)]],
      // An object of a kind of unknown scope, found also by its cluster-scoped key.
      ['gadget.yaml', [gadget(5)]],
      ['cm-3.yaml', [cm('cm-3.yaml', 'cm-3', 3)]],
      ['cm-6.yaml', [cm('cm-6.yaml', 'cm-6', 7)]],
    ];
    for (const [index, [file, replacement]] of edits.entries()) {
      documents = await edited(documents, file, replacement);
      const commit = `${index}`.repeat(40);
      const next = await buildSnapshotInSlices(withShop(documents, commit), 'rendered', builtAt, {
        previous: snapshot,
      });
      expect(next.derivedFrom()?.snapshot).toBe(snapshot);
      expect(plain(next)).toEqual(
        plain(buildSnapshot(copied(withShop(documents, commit)), 'rendered', builtAt)),
      );
      snapshot = next;
    }
    expect(plain(snapshot)).toMatchObject({ gadget: 'gadget.yaml', gadgetLine: 5 });
    expect(
      snapshot.get({ group: 'other.example.com', kind: 'Gadget', namespace: '', name: 'g' })?.line,
    ).toBe(5);
  });

  it.each([
    { name: 'a key renamed', file: 'cm-3.yaml', replacement: [cm('cm-3.yaml', 'cm-3-renamed')] },
    { name: 'a file emptied', file: 'cm-4.yaml', replacement: [] },
    {
      name: 'a file declaring one more object',
      file: 'cm-4.yaml',
      replacement: [cm('cm-4.yaml', 'cm-4'), cm('cm-4.yaml', 'cm-4b', 5)],
    },
    // Its conflict names the line of each declaration.
    {
      name: 'a key declared twice edited',
      file: 'cm-2.yaml',
      replacement: [cm('cm-2.yaml', 'cm-2', 9)],
    },
    // A CRD gives its kind a scope, which keys the objects of that kind.
    {
      name: 'a CRD edited',
      file: 'crd.yaml',
      replacement: [widgetCrd('Namespaced')],
    },
  ])('is built whole after $name, as from scratch', async ({ file, replacement }) => {
    const before = await buildSnapshotInSlices(
      withShop(first, 'a'.repeat(40)),
      'rendered',
      builtAt,
    );
    const documents = await edited(first, file, replacement);
    const after = await buildSnapshotInSlices(
      withShop(documents, 'c'.repeat(40)),
      'rendered',
      builtAt,
      {
        previous: before,
      },
    );
    expect(after.derivedFrom()).toBeUndefined();
    expect(plain(after)).toEqual(
      plain(buildSnapshot(copied(withShop(documents, 'c'.repeat(40))), 'rendered', builtAt)),
    );
  });

  it('is built whole from a render taken whole', async () => {
    const before = await buildSnapshotInSlices(
      withShop(first, 'a'.repeat(40)),
      'rendered',
      builtAt,
    );
    const whole = [...first];
    const after = await buildSnapshotInSlices(
      withShop(whole, 'c'.repeat(40)),
      'rendered',
      builtAt,
      {
        previous: before,
      },
    );
    expect(after.derivedFrom()).toBeUndefined();
    expect(plain(after)).toEqual(
      plain(buildSnapshot(withShop(whole, 'c'.repeat(40)), 'rendered', builtAt)),
    );
  });

  it('is built whole once the documents changed since the last whole build are many', async () => {
    const many = Array.from({ length: 1_000 }, (_, index) =>
      cm(`many-${index}.yaml`, `many-${index}`),
    );
    const start = await ofFiles(many);
    let snapshot = await buildSnapshotInSlices(
      withShop(start, 'a'.repeat(40)),
      'rendered',
      builtAt,
    );
    let documents = start;
    const derived: boolean[] = [];
    // 100 files edited per commit: 256 changed entries at most, past which a build is whole.
    for (let round = 0; round < 4; round += 1) {
      for (let index = round * 100; index < round * 100 + 100; index += 1) {
        const file = `many-${index}.yaml`;
        documents = await edited(documents, file, [cm(file, `many-${index}`, 2)]);
      }
      snapshot = await buildSnapshotInSlices(
        withShop(documents, 'a'.repeat(40)),
        'rendered',
        builtAt,
        {
          previous: snapshot,
        },
      );
      derived.push(snapshot.derivedFrom() !== undefined);
      expect(plain(snapshot)).toEqual(
        plain(buildSnapshot(copied(withShop(documents, 'a'.repeat(40))), 'rendered', builtAt)),
      );
    }
    // 100 and 200 changed entries derived; 300 built whole, which starts again from none.
    expect(derived).toEqual([true, true, false, true]);
  });
});
