import { describe, expect, it } from 'vitest';
import { toRendered } from '../desired/manifest-parser.js';
import { buildSnapshot } from '../desired/snapshot.js';
import { indexSnapshot, indexSnapshotInSlices } from './snapshot-index.js';

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
        maxReplicas: 5,
      },
    },
  }),
];
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
    const plain = (i: typeof index) =>
      JSON.parse(
        JSON.stringify({
          ...i,
          kinds: [...i.kinds],
          kindByResource: [...i.kindByResource],
          hpaTargets: [...i.hpaTargets],
          objectsInNamespace: [...i.objectsInNamespace],
          customResourceDefinitions: [...i.customResourceDefinitions.keys()],
        }),
      ) as unknown;
    expect(plain(index)).toEqual(plain(indexSnapshot(snapshotOf())));
    // 834 ConfigMaps and the HPA.
    expect(index.objectsInNamespace.get('team-0')).toHaveLength(835);
    expect(index.hpaTargets.size).toBe(1);
  });
});
