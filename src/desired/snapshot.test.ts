import { describe, expect, it } from 'vitest';
import { toRendered } from './manifest-parser.js';
import { buildSnapshot, buildSnapshotInSlices, type SourceRender } from './snapshot.js';

const configMap = (name: string, namespace?: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: namespace === undefined ? { name } : { name, namespace },
  data: { name },
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
      toRendered({
        file: 'crd.yaml',
        line: 1,
        object: {
          apiVersion: 'apiextensions.k8s.io/v1',
          kind: 'CustomResourceDefinition',
          metadata: { name: 'widgets.example.com' },
          spec: {
            group: 'example.com',
            scope: 'Cluster',
            names: { kind: 'Widget', plural: 'widgets' },
            versions: [{ name: 'v1', served: true, storage: true }],
          },
        },
      }),
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
});

describe('buildSnapshotInSlices', () => {
  it.each([1, 2, 5, 100])(
    'builds the snapshot buildSnapshot builds, in slices of %i documents',
    async (slice) => {
      const builtAt = new Date('2026-01-02T03:04:05Z');
      const whole = buildSnapshot(renders, 'rendered', builtAt);
      const sliced = await buildSnapshotInSlices(renders, 'rendered', builtAt, slice);
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
    const building = buildSnapshotInSlices(renders, 'rendered', new Date(), 3).then(() => {
      turns.push(turn);
    });
    await building;
    // 12 documents in slices of 3: the loop turned between them, not only after.
    expect(turns[0]).toBeGreaterThanOrEqual(3);
  });
});
