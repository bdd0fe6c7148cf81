// Benchmark: `decide` per request on captured reviews, with snapshots of 100, 10,000 and 100,000
// objects, beside the cost of a Map lookup of the same key in a snapshot of the same size.
// Run alone: npx tsx bench/decide.ts
import { pathToFileURL } from 'node:url';
import type { AdmissionRequest } from '../src/kube/admission.js';
import type { KubeObject } from '../src/kube/object.js';
import { decide } from '../src/policy/decide.js';
import { indexSnapshot } from '../src/policy/snapshot-index.js';
import { review } from '../test/support/fixtures.js';
import { config, facts, SHOP_MANIFESTS, snapshot } from '../test/support/policy.js';
import { importCompiled } from './compiled.js';
import { measure, type BenchResult } from './measure.js';

export const SNAPSHOT_SIZES = [100, 10_000, 100_000] as const;

/** Generated ConfigMaps that fill a snapshot up to `size` beside the captured manifests. */
function filler(size: number): KubeObject[] {
  const objects: KubeObject[] = [];
  for (let i = SHOP_MANIFESTS.length; i < size; i++) {
    objects.push({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `filler-${i}`, namespace: `team-${i % 100}` },
      data: { index: String(i) },
    });
  }
  return objects;
}

/** The reviews a busy cluster sends most, each with the outcome it must have. */
function reviews(): { name: string; request: AdmissionRequest; allowed: boolean }[] {
  const create = review('02-apply-create-configmap-by-argocd');
  const unmanagedObject = structuredClone(create.object) as KubeObject & {
    metadata: { name: string };
  };
  unmanagedObject.metadata.name = 'not-in-git';
  return [
    {
      name: 'Deployment UPDATE by a person (denied)',
      request: review('20-set-image-deployment-by-alice'),
      allowed: false,
    },
    {
      name: 'Deployment UPDATE by the sync identity',
      request: review('11-apply-unchanged-deployment-by-argocd'),
      allowed: true,
    },
    {
      name: 'scale by the HPA controller',
      request: review('controller-50-horizontal-pod-autoscaler-deployments-scale-update'),
      allowed: true,
    },
    {
      name: 'unmanaged ConfigMap CREATE by a person',
      request: {
        ...create,
        name: 'not-in-git',
        object: unmanagedObject,
        userInfo: { username: 'alice@example.com', groups: ['system:authenticated'] },
      },
      allowed: true,
    },
  ];
}

export interface DecideResults {
  readonly size: number;
  readonly results: readonly BenchResult[];
  /** Median of five: indexing a new snapshot, in one go (the server does it in slices before serving it). */
  readonly indexMillis: number;
}

function indexMillis(size: number): number {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const fresh = snapshot(SHOP_MANIFESTS, filler(size));
    const started = process.hrtime.bigint();
    indexSnapshot(fresh);
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return times.sort((a, b) => a - b)[2] ?? NaN;
}

const DENIED = 'Deployment UPDATE by a person (denied)';

/**
 * Every review through `decide` as `npm run build` compiles it, and the denial also as tsx runs
 * it (the sources as they are, with tsx's per-closure `__name()` calls), for comparison.
 */
export async function benchDecide(
  sizes: readonly number[] = SNAPSHOT_SIZES,
): Promise<DecideResults[]> {
  const compiled = (await importCompiled<{ decide: typeof decide }>('policy/decide.js')).decide;
  const cfg = config();
  const clusterFacts = facts();
  const now = new Date('2026-01-01T00:00:00Z');
  const cases = reviews();
  // Every review through decide before anything is timed: otherwise the first snapshot size is
  // measured while V8 is still optimising and looks slower than the larger ones.
  const warm = snapshot(SHOP_MANIFESTS, filler(100));
  for (let i = 0; i < 5000; i++) {
    for (const { request } of cases) compiled(request, warm, clusterFacts, cfg, now);
  }
  return sizes.map((size) => {
    const desired = snapshot(SHOP_MANIFESTS, filler(size));
    const deploymentKey = { group: 'apps', kind: 'Deployment', namespace: 'shop', name: 'web' };
    const results: BenchResult[] = [
      // The floor: finding the object in the snapshot, and nothing else.
      measure('baseline: snapshot.get(key)', () => desired.get(deploymentKey)),
    ];
    // Long enough a warm-up for V8 to have optimised decide before the clock starts.
    const options = { batches: 200, batchSize: 20, warmup: 5000 };
    for (const { name, request, allowed } of cases) {
      const decision = compiled(request, desired, clusterFacts, cfg, now);
      const decidedAllowed = decision.kind !== 'denied';
      if (decidedAllowed !== allowed) {
        throw new Error(`${name}: decided ${decision.kind}, expected allowed=${String(allowed)}`);
      }
      results.push(
        measure(name, () => compiled(request, desired, clusterFacts, cfg, now), options),
      );
    }
    const denial = cases.find((c) => c.name === DENIED)?.request;
    if (denial !== undefined) {
      results.push(
        measure(
          `${DENIED}, under tsx`,
          () => decide(denial, desired, clusterFacts, cfg, now),
          options,
        ),
      );
    }
    return { size, results, indexMillis: indexMillis(size) };
  });
}

export function formatDecide(all: readonly DecideResults[]): string {
  const rows: string[] = [];
  for (const { size, results, indexMillis: index } of all) {
    rows.push(
      `  snapshot of ${size.toLocaleString('en')} objects (indexed once per snapshot, before it is served: ${index.toFixed(1)} ms in one go)`,
    );
    for (const r of results) {
      rows.push(
        `    ${r.name.padEnd(44)} median ${r.medianMicros.toFixed(2).padStart(8)} µs  p99 ${r.p99Micros.toFixed(2).padStart(8)} µs`,
      );
    }
  }
  const denials = all.map(
    ({ size, results }) =>
      [size, results.find((r) => r.name === DENIED)?.medianMicros ?? NaN] as const,
  );
  const met = denials.every(([, micros]) => micros < 50);
  const [first, last] = [denials[0]?.[1] ?? NaN, denials.at(-1)?.[1] ?? NaN];
  rows.push(
    `  Deployment UPDATE (denied), median: ${denials.map(([size, micros]) => `${micros.toFixed(1)} µs at ${size.toLocaleString('en')}`).join(', ')} objects (target < 50 µs: ${met ? 'met' : 'MISSED'}); largest / smallest snapshot ${(last / first).toFixed(2)}×`,
  );
  return rows.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatDecide(await benchDecide()));
}
