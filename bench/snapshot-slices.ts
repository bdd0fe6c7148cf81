// Benchmark: the event loop while a snapshot of N documents is built, in one go as before
// (buildSnapshot, and the deletion guard's two key sets as it computed them) beside the slices
// the provider builds it in now, in one process, five rounds.
// Run alone: npx tsx bench/snapshot-slices.ts [documents, default 100000]
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { RenderedDocument } from '../src/desired/manifest-parser.js';
import { importCompiled } from './compiled.js';

const { buildSnapshot, buildSnapshotInSlices } =
  await importCompiled<typeof import('../src/desired/snapshot.js')>('desired/snapshot.js');
const { toRendered } = await importCompiled<typeof import('../src/desired/manifest-parser.js')>(
  'desired/manifest-parser.js',
);

const count = Number(process.argv[2] ?? 100_000);
const documents: RenderedDocument[] = Array.from({ length: count }, (_, index) =>
  toRendered({
    file: `team-${index % 100}/cm-${index}.yaml`,
    line: 1,
    object: {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `cm-${index}`, namespace: 'bench' },
      data: { index: String(index) },
    },
  }),
);
const renders = [{ source: 'shop', commit: 'c'.repeat(40), namespace: 'shop', documents }];
// The deletion guard as it was: a set of the new render's keys, then every served key looked up.
const guardKey = (d: RenderedDocument): string =>
  `${d.apiVersion.includes('/') ? d.apiVersion.split('/')[0] : ''}/${d.kind}/${d.namespace ?? ''}/${d.name}`;

for (let round = 1; round <= 5; round++) {
  let started = performance.now();
  buildSnapshot(renders, 'rendered');
  const whole = performance.now() - started;
  started = performance.now();
  const kept = new Set(documents.map(guardKey));
  const lost = documents.filter((document) => !kept.has(guardKey(document))).length;
  const guard = performance.now() - started;
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  started = performance.now();
  await buildSnapshotInSlices(renders, 'rendered');
  const sliced = performance.now() - started;
  delay.disable();
  console.log(
    `  round ${round}: in one go, buildSnapshot ${whole.toFixed(0)} ms and the guard ${guard.toFixed(0)} ms (${lost} lost); in slices ${sliced.toFixed(0)} ms in all, the longest event-loop delay meanwhile ${(delay.max / 1e6).toFixed(1)} ms`,
  );
}
