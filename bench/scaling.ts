// Benchmark: latency and memory as reviews grow. A ConfigMap and a custom resource of about
// 10 KB, 100 KB and 1 MB each (a review carries object and oldObject, so twice that), declared in
// Git beside 10,000 other objects; a person changes one value of each (denied). One connection at
// a time, against the no-op server with the same bodies, in the same run.
// Run alone: npx tsx bench/scaling.ts [seconds]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { load, startServer, type HttpResult } from './http.js';

export const REVIEW_SIZES = [
  { label: '10 KB', bytes: 10 * 1024 },
  { label: '100 KB', bytes: 100 * 1024 },
  { label: '1 MB', bytes: 1024 * 1024 },
] as const;

type Shape = 'ConfigMap' | 'custom resource';

export interface ScalingResult {
  readonly shape: Shape;
  readonly size: string;
  readonly reviewBytes: number;
  /** No-op server, then driftgate. */
  readonly results: readonly HttpResult[];
  /** Resident memory of the driftgate server after this size's load. */
  readonly driftgateRssBytes: number;
}

type Json = Record<string, unknown>;

/** A ConfigMap with `bytes` of data in 1 KB values, and a custom resource with a list of rules. */
function largeObjects(label: string, bytes: number): Record<Shape, Json> {
  const suffix = label.replace(/\W/g, '').toLowerCase();
  const data: Record<string, string> = {};
  for (let i = 0; i * 1024 < bytes; i++) data[`key-${i}`] = 'x'.repeat(1000);
  const rules: Json[] = [];
  for (let i = 0; i * 128 < bytes; i++) {
    rules.push({ name: `rule-${i}`, match: { path: `/api/v1/items/${i}` }, weight: i % 7 });
  }
  return {
    ConfigMap: {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `large-${suffix}`, namespace: 'shop' },
      data,
    },
    'custom resource': {
      apiVersion: 'example.com/v1',
      kind: 'Widget',
      metadata: { name: `large-${suffix}`, namespace: 'shop' },
      spec: { size: 3, rules },
    },
  };
}

/** The UPDATE the API server would send when alice changes one value of `desired`. */
function reviewOf(desired: Json, shape: Shape): string {
  const object = structuredClone(desired) as Json & { data?: Json; spec?: { size: number } };
  if (shape === 'ConfigMap' && object.data !== undefined) object.data['key-0'] = 'changed';
  if (shape === 'custom resource' && object.spec !== undefined) object.spec.size = 4;
  const metadata = desired['metadata'] as { name: string; namespace: string };
  const [group, version] = (desired['apiVersion'] as string).includes('/')
    ? (desired['apiVersion'] as string).split('/')
    : ['', desired['apiVersion'] as string];
  const kind = desired['kind'] as string;
  const resource = `${kind.toLowerCase()}s`;
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `00000000-0000-4000-8000-${String(JSON.stringify(desired).length).padStart(12, '0')}`,
      kind: { group, version, kind },
      resource: { group, version, resource },
      name: metadata.name,
      namespace: metadata.namespace,
      operation: 'UPDATE',
      userInfo: { username: 'alice@example.com', groups: ['developers', 'system:authenticated'] },
      object,
      oldObject: desired,
      dryRun: false,
    },
  });
}

function rssOf(pid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) * 1024;
  } catch {
    return NaN;
  }
}

export async function benchScaling(seconds = 3, objects = 10_000): Promise<ScalingResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'driftgate-bench-scaling-'));
  const manifests: Record<string, string> = {};
  const cases: { shape: Shape; size: string; body: string }[] = [];
  for (const { label, bytes } of REVIEW_SIZES) {
    for (const [shape, object] of Object.entries(largeObjects(label, bytes)) as [Shape, Json][]) {
      const name = `${shape === 'ConfigMap' ? 'cm' : 'widget'}-${label.replace(/\W/g, '')}`;
      manifests[`${name}.json`] = JSON.stringify(object);
      cases.push({ shape, size: label, body: reviewOf(object, shape) });
    }
  }
  const manifestFile = join(dir, 'manifests.json');
  writeFileSync(manifestFile, JSON.stringify(manifests));
  const servers = [
    await startServer('noop', objects),
    await startServer('driftgate', objects, manifestFile),
  ];
  const out: ScalingResult[] = [];
  try {
    for (const [index, { shape, size, body }] of cases.entries()) {
      const bodyFile = join(dir, `review-${index}.json`);
      writeFileSync(bodyFile, body);
      const results: HttpResult[] = [];
      for (const [i, server] of servers.entries()) {
        const name = i === 0 ? 'no-op express HTTPS' : 'driftgate /validate';
        await load('warm-up', server.url, bodyFile, 1, 'validate', server.child.pid, 1);
        results.push(
          await load(name, server.url, bodyFile, seconds, 'validate', server.child.pid, 1),
        );
      }
      out.push({
        shape,
        size,
        reviewBytes: Buffer.byteLength(body),
        results,
        driftgateRssBytes: rssOf(servers[1]?.child.pid),
      });
    }
  } finally {
    for (const server of servers) server.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

export function formatScaling(results: readonly ScalingResult[]): string {
  return results
    .map(({ shape, size, reviewBytes, results: [base, driftgate], driftgateRssBytes }) => {
      if (base === undefined || driftgate === undefined) return '';
      return `  ${`${shape}, ${size}`.padEnd(26)} review ${(reviewBytes / 1024).toFixed(0).padStart(5)} KB  no-op mean ${base.meanMs.toFixed(2).padStart(6)} ms p99 ${base.p99Ms.toFixed(2).padStart(6)} ms  driftgate mean ${driftgate.meanMs.toFixed(2).padStart(6)} ms p99 ${driftgate.p99Ms.toFixed(2).padStart(6)} ms  (${(driftgate.meanMs / base.meanMs).toFixed(2)}× mean)  driftgate RSS ${mb(driftgateRssBytes)}  errors ${driftgate.errors + driftgate.non2xx}`;
    })
    .join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatScaling(await benchScaling(Number(process.argv[2] ?? 3))));
}
