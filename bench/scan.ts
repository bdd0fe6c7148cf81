// Benchmark: `driftgate scan` of 10,000 managed objects (10 namespaces of 1,000 ConfigMaps, 1% of
// them drifted) against the API test double, beside a plain paged LIST of the same objects with
// the same reader and rate limit: time, requests made and peak memory (maxRSS) of the process
// that scans. The API server runs in this process, each scan or list in a process of its own.
// Run alone: npx tsx bench/scan.ts
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadKubeConfigFile } from '../src/cluster/kubeconfig.js';
import { validateConfig } from '../src/config/config.js';
import { toRendered } from '../src/desired/manifest-parser.js';
import { buildSnapshot } from '../src/desired/snapshot.js';
import type { JsonObject } from '../src/kube/object.js';
import { readScanFacts } from '../src/scan/facts.js';
import { collectionPath, createClusterReader } from '../src/scan/reader.js';
import { scanCluster } from '../src/scan/scan.js';
import { resourceTypes, startFakeApiServer } from '../test/support/fake-apiserver.js';

const NAMESPACES = 10;
const PER_NAMESPACE = 1_000;
const QPS = 20;

function configMap(namespace: number, index: number, drifted: boolean): JsonObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: `settings-${String(index).padStart(4, '0')}`,
      namespace: `team-${String(namespace)}`,
      labels: { 'app.kubernetes.io/name': `app-${String(index % 50)}` },
    },
    data: {
      LOG_LEVEL: drifted ? 'debug' : 'info',
      'app.yaml': `server:\n  port: 8080\nfeature:\n  index: ${String(index)}\n`,
    },
  };
}

function* objects(drift: boolean): Generator<JsonObject> {
  for (let n = 0; n < NAMESPACES; n += 1) {
    for (let i = 0; i < PER_NAMESPACE; i += 1) yield configMap(n, i, drift && i % 100 === 0);
  }
}

interface ChildResult {
  readonly seconds: number;
  readonly requests: number;
  readonly maxRssBytes: number;
  readonly objects: number;
  readonly drifted?: number;
}

async function child(mode: 'scan' | 'list', kubeconfigFile: string): Promise<ChildResult> {
  const connection = await loadKubeConfigFile(kubeconfigFile, 'kubeconfig');
  const reader = createClusterReader(connection, { qps: QPS });
  const started = performance.now();
  if (mode === 'list') {
    let count = 0;
    for (let n = 0; n < NAMESPACES; n += 1) {
      for await (const page of reader.list(collectionPath('v1', 'configmaps', `team-${String(n)}`)))
        count += page.items.length;
    }
    return {
      seconds: (performance.now() - started) / 1000,
      requests: reader.requests,
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      objects: count,
    };
  }
  const result = validateConfig({
    sources: [{ name: 'teams', repoURL: 'https://git.example.com/ops.git', namespace: 'default' }],
  });
  if ('errors' in result) throw new Error(JSON.stringify(result.errors));
  const config = result.config;
  const snapshot = buildSnapshot(
    [
      {
        source: 'teams',
        commit: '3f9c2a1b4d5e6f708192a3b4c5d6e7f8091a2b3c',
        namespace: 'default',
        documents: [...objects(false)].map((object, i) =>
          toRendered({ file: `teams/${String(i)}.yaml`, line: 1, object }),
        ),
      },
    ],
    'rendered',
  );
  const scanStarted = performance.now();
  const { facts } = await readScanFacts(reader, config, { namespaces: [] });
  const report = await scanCluster({
    reader,
    snapshot,
    sources: config.sources,
    config,
    facts,
    now: new Date(),
  });
  return {
    seconds: (performance.now() - scanStarted) / 1000,
    requests: reader.requests,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    objects: report.summary.objects,
    drifted: report.summary.drifted,
  };
}

function runChild(mode: 'scan' | 'list', kubeconfigFile: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const process_ = spawn(
      process.execPath,
      [
        '--import',
        import.meta.resolve('tsx'),
        new URL(import.meta.url).pathname,
        'child',
        mode,
        kubeconfigFile,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    process_.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    process_.on('error', reject);
    process_.on('close', (code) => {
      if (code !== 0) reject(new Error(`bench/scan.ts child ${mode} exited ${String(code)}`));
      else resolve(JSON.parse(out) as ChildResult);
    });
  });
}

export interface ScanBenchResult {
  readonly name: string;
  readonly result: ChildResult;
}

export async function benchScan(rounds = 3): Promise<ScanBenchResult[]> {
  const api = await startFakeApiServer();
  const dir = mkdtempSync(join(tmpdir(), 'driftgate-bench-scan-'));
  try {
    for (let n = 0; n < NAMESPACES; n += 1) {
      api.put(resourceTypes.namespaces, {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: `team-${String(n)}` },
      });
    }
    for (const object of objects(true)) api.put(resourceTypes.configmaps, object);
    const kubeconfigFile = join(dir, 'kubeconfig.json');
    writeFileSync(kubeconfigFile, api.kubeconfigText());
    const runs: Record<'scan' | 'list', ChildResult[]> = { scan: [], list: [] };
    for (let round = 0; round < rounds; round += 1) {
      runs.list.push(await runChild('list', kubeconfigFile));
      runs.scan.push(await runChild('scan', kubeconfigFile));
    }
    const median = (results: ChildResult[]): ChildResult =>
      [...results].sort((a, b) => a.seconds - b.seconds)[
        Math.floor(results.length / 2)
      ] as ChildResult;
    return [
      { name: 'plain paged LIST (baseline)', result: median(runs.list) },
      { name: 'driftgate scan', result: median(runs.scan) },
    ];
  } finally {
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatScan(results: readonly ScanBenchResult[]): string {
  return results
    .map(
      ({ name, result }) =>
        `  ${name.padEnd(28)} ${result.seconds.toFixed(2).padStart(6)} s  ${String(result.requests).padStart(4)} requests  peak RSS ${(result.maxRssBytes / 1024 / 1024).toFixed(0).padStart(4)} MB  ${String(result.objects)} objects${result.drifted === undefined ? '' : `, ${String(result.drifted)} drifted`}`,
    )
    .join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] === 'child') {
    const mode = process.argv[3] === 'list' ? 'list' : 'scan';
    process.stdout.write(JSON.stringify(await child(mode, process.argv[4] ?? '')));
  } else {
    console.log(formatScan(await benchScan()));
  }
}
