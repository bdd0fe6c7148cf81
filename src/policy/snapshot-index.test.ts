import { describe, expect, it } from 'vitest';
import { toRendered, type RenderedDocument } from '../desired/manifest-parser.js';
import { applyDeltaByFile, documentsByFile, DocumentsOfFiles } from '../desired/render.js';
import { buildSnapshot, buildSnapshotInSlices } from '../desired/snapshot.js';
import { indexSnapshot, indexSnapshotInSlices, type SnapshotIndex } from './snapshot-index.js';

/** An HPA of team-0's Deployment web, in hpa.yaml. */
const hpa = (maxReplicas: number) =>
  toRendered({
    file: 'hpa.yaml',
    line: 1,
    object: {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'web', namespace: 'team-0' },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
        minReplicas: 2,
        maxReplicas,
      },
    },
  });

const documents = [
  ...Array.from({ length: 2_500 }, (_, index) =>
    toRendered({
      file: `cm-${index}.yaml`,
      line: 1,
      object: {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: `cm-${index}`, namespace: `team-${index % 3}` },
      },
    }),
  ),
  hpa(5),
];
/** An index as plain data, to compare. */
const plain = (i: SnapshotIndex) =>
  JSON.parse(
    JSON.stringify({
      ...i,
      kinds: [...i.kinds],
      kindByResource: [...i.kindByResource],
      hpaTargets: [...i.hpaTargets],
      objectsInNamespace: [...i.objectsInNamespace],
      customResourceDefinitions: [...i.customResourceDefinitions],
    }),
  ) as unknown;

const snapshotOf = () =>
  buildSnapshot(
    [{ source: 'shop', commit: 'a'.repeat(40), namespace: 'shop', documents }],
    'rendered',
  );

describe('indexSnapshotInSlices', () => {
  it('indexes ahead, in slices, what indexSnapshot would, and indexSnapshot then uses it', async () => {
    const ahead = snapshotOf();
    let turns = 0;
    const tick = (): void => {
      turns += 1;
      if (turns < 1_000) setImmediate(tick);
    };
    setImmediate(tick);
    await indexSnapshotInSlices(ahead, 0);
    // 2,501 entries, a slice per 1,000 of them: the event loop turned between slices.
    expect(turns).toBeGreaterThanOrEqual(2);
    const index = indexSnapshot(ahead);
    expect(indexSnapshot(ahead)).toBe(index);
    expect(plain(index)).toEqual(plain(indexSnapshot(snapshotOf())));
    // 834 ConfigMaps and the HPA.
    expect(index.objectsInNamespace.get('team-0')).toHaveLength(835);
    expect(index.hpaTargets.size).toBe(1);
  });
});

describe('the index of a snapshot derived from the one before', () => {
  const crd = toRendered({
    file: 'crd.yaml',
    line: 1,
    object: {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'widgets.example.com' },
      spec: {
        group: 'example.com',
        scope: 'Namespaced',
        names: { kind: 'Widget', plural: 'widgets' },
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: {} } }],
      },
    },
  });
  /** A render's documents by file, as a render taken as a delta holds them. */
  const ofFiles = async (documents: readonly RenderedDocument[]): Promise<DocumentsOfFiles> =>
    new DocumentsOfFiles(await documentsByFile(documents), documents.length);
  /** The render of a commit that changed `file` to hold `replacement`: the others' lists kept. */
  const edited = async (
    documents: DocumentsOfFiles,
    file: string,
    replacement: RenderedDocument,
  ): Promise<DocumentsOfFiles> =>
    (
      await applyDeltaByFile(documents.byFile, [replacement], {
        files: [...documents.byFile.keys()],
        reread: [file],
      })
    ).documents;
  const render = (documents: DocumentsOfFiles, commit: string) => [
    { source: 'shop', commit, namespace: 'shop', documents },
  ];

  it('is the index before when a commit edits an object that is neither an HPA nor a CRD', async () => {
    const first = await ofFiles([...documents, crd]);
    const before = await buildSnapshotInSlices(render(first, 'a'.repeat(40)), 'rendered');
    await indexSnapshotInSlices(before, 0);
    const edit = toRendered({
      file: 'cm-7.yaml',
      line: 2,
      object: {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'cm-7', namespace: 'team-1' },
      },
    });
    const second = await edited(first, 'cm-7.yaml', edit);
    const after = await buildSnapshotInSlices(
      render(second, 'b'.repeat(40)),
      'rendered',
      new Date(),
      {
        previous: before,
      },
    );
    await indexSnapshotInSlices(after, 0);
    const index = indexSnapshot(after);
    // Carried over: the same maps of keys, not worked out again over 2,500 entries.
    expect(index.objectsInNamespace).toBe(indexSnapshot(before).objectsInNamespace);
    expect(plain(index)).toEqual(
      plain(indexSnapshot(buildSnapshot(render(second, 'b'.repeat(40)), 'rendered'))),
    );
    // The CRD's entry is this snapshot's, naming its commit.
    expect(index.customResourceDefinitions.get('example.com/Widget')?.commit).toBe('b'.repeat(40));
  });

  it('is worked out again when a commit edits an HPA', async () => {
    const first = await ofFiles(documents);
    const before = await buildSnapshotInSlices(render(first, 'a'.repeat(40)), 'rendered');
    await indexSnapshotInSlices(before, 0);
    const second = await edited(first, 'hpa.yaml', hpa(9));
    const after = await buildSnapshotInSlices(
      render(second, 'b'.repeat(40)),
      'rendered',
      new Date(),
      {
        previous: before,
      },
    );
    expect(after.derivedFrom()?.changedKinds).toEqual(
      new Set(['autoscaling/HorizontalPodAutoscaler']),
    );
    const index = indexSnapshot(after);
    expect(index.hpaTargets.get('apps/Deployment/team-0/web')).toMatchObject({ maxReplicas: 9 });
    expect(indexSnapshot(before).hpaTargets.get('apps/Deployment/team-0/web')).toMatchObject({
      maxReplicas: 5,
    });
  });
});
