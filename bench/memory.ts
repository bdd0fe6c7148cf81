// Benchmark: resident memory and readiness, each server in a process of its own, beside the
// floor it cannot go below: an empty Node process, one that loads the libraries `driftgate
// serve` loads, and one with a worker thread besides. Measures `driftgate serve` with the
// bundled example idle (as `npm start` runs it), 10,000 objects idle and under review load, and
// 100,000 objects: ready from a cold render and again from the persisted snapshot, and a
// one-file commit decided under review load with the longest event-loop stall meanwhile. The
// 10,000 objects once more watching a cluster (a loopback API server answering empty), as every
// replica in a cluster does. Then the young-generation limit serve sets, 2 MB against 16 MB,
// side by side, and each of serve's libraries' cost in processes of its own.
// Run alone: npx tsx bench/memory.ts [objects for the large case, default 100000]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startFakeApiServer } from '../test/support/fake-apiserver.js';
import { compiledDir, importCompiled } from './compiled.js';
import { load } from './http.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * The environment the container image gives driftgate (the `ENV` lines of the Dockerfile's last
 * stage, e.g. MALLOC_ARENA_MAX): a pod's memory is measured as the pod runs it. Read from the
 * Dockerfile, so that the servers run without what the image stops setting.
 */
export function imageEnvironment(
  dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8'),
): Record<string, string> {
  const lastStage = dockerfile.split(/^FROM /m).at(-1) ?? '';
  return Object.fromEntries(
    [...lastStage.matchAll(/^ENV ([A-Za-z_][A-Za-z0-9_]*)=(\S+)$/gm)].map(([, name, value]) => [
      name ?? '',
      value ?? '',
    ]),
  );
}
const reviewFile = fileURLToPath(
  new URL(
    '../test/fixtures/captured/reviews/20-set-image-deployment-by-alice.validating.json',
    import.meta.url,
  ),
);

export interface Row {
  readonly name: string;
  readonly rssBytes: number;
}

export interface LargeResult {
  readonly objects: number;
  readonly files: number;
  readonly coldReadyMs: number;
  readonly coldRssBytes: number;
  readonly restoredReadyMs: number;
  readonly restoredRssBytes: number;
  readonly loadPeakRssBytes: number;
  readonly commitMs: number;
  readonly commitStallMs: number;
  readonly idleStallMs: number;
  readonly reviewsPerSecond: number;
}

/** The 10,000-object server with one young-generation limit: idle, then under review load. */
export interface YoungGenerationRow {
  readonly limitMb: number;
  readonly idleRssBytes: number;
  readonly loadPeakRssBytes: number;
  readonly reviewsPerSecond: number;
  readonly p99Ms: number;
  readonly cpuMicrosPerReview: number;
}

export interface MemoryResult {
  readonly floors: readonly Row[];
  readonly example: Row;
  readonly tenThousand: {
    readonly readyMs: number;
    readonly restoredReadyMs: number;
    readonly idleRssBytes: number;
    readonly loadPeakRssBytes: number;
    readonly reviewsPerSecond: number;
  };
  readonly tenThousandWithCluster: MemoryResult['tenThousand'];
  readonly large: LargeResult;
  readonly youngGeneration: readonly YoungGenerationRow[];
  readonly libraries: readonly LibraryRow[];
}

/**
 * A benchmark server's file with its types stripped, beside the compiled sources: plain node
 * runs it without loading its own TypeScript stripper (some 16 MB resident) as it would for a
 * .ts file, so that the process holds what `driftgate serve` holds.
 */
function strippedScript(name: string): string {
  const file = join(compiledDir, '..', name.replace(/\.ts$/, '.mjs'));
  const source = readFileSync(new URL(name, import.meta.url), 'utf8');
  writeFileSync(file, stripTypeScriptTypes(source));
  return file;
}

function rssOf(pid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) * 1024;
  } catch {
    return NaN;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The largest of a few samples a second apart, once the process has settled. */
async function settledRss(pid: number | undefined, settleMs = 5_000): Promise<number> {
  await sleep(settleMs);
  let most = 0;
  for (let sample = 0; sample < 3; sample++) {
    most = Math.max(most, rssOf(pid));
    await sleep(1_000);
  }
  return most;
}

/** Starts `argv` and resolves once a line of its standard output matches `ready`. */
function startUntil(
  argv: readonly string[],
  ready: RegExp,
  cwd = root,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ child: ChildProcess; line: string; lines: () => string[] }> {
  const [program = process.execPath, ...args] = argv;
  const child = spawn(program, args, { cwd, env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${argv.join(' ')} was not ready within 10 minutes`));
    }, 600_000);
    child.stdout.on('data', (chunk: Buffer) => {
      const before = out.length;
      out += chunk.toString();
      const line = out
        .slice(before === 0 ? 0 : out.lastIndexOf('\n', before) + 1)
        .split('\n')
        .find((candidate) => ready.test(candidate));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve({ child, line, lines: () => out.split('\n') });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${argv.join(' ')} exited with ${String(code)}`));
    });
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) {
      resolve();
      return;
    }
    child.removeAllListeners('exit');
    child.on('exit', () => {
      resolve();
    });
    child.kill('SIGKILL');
  });
}

const FLOORS: readonly { name: string; code: string }[] = [
  { name: 'empty Node process', code: '' },
  {
    name: "Node with serve's libraries",
    code: "for (const m of ['express', 'prom-client', 'pino', 'js-yaml', 'simple-git', 'node-forge']) await import(m);",
  },
  {
    name: '  and an idle worker thread',
    code:
      "for (const m of ['express', 'prom-client', 'pino', 'js-yaml', 'simple-git', 'node-forge']) await import(m);" +
      "const { Worker } = await import('node:worker_threads');" +
      "new Worker(\"await import('js-yaml'); (await import('node:worker_threads')).parentPort.on('message', () => {});\", { eval: true }).unref();",
  },
  {
    name: '  and @kubernetes/client-node',
    code:
      "for (const m of ['express', 'prom-client', 'pino', 'js-yaml', 'simple-git', 'node-forge', '@kubernetes/client-node']) await import(m);" +
      "const { Worker } = await import('node:worker_threads');" +
      "new Worker(\"await import('js-yaml'); (await import('node:worker_threads')).parentPort.on('message', () => {});\", { eval: true }).unref();",
  },
];

/** A library's cost: alone beside an empty process, and last, beside serve's other libraries. */
export interface LibraryRow {
  readonly name: string;
  readonly aloneRssBytes: number;
  readonly aloneHeapBytes: number;
  readonly lastRssBytes: number;
  readonly lastHeapBytes: number;
}

/** The libraries `driftgate serve` imports. */
const SERVE_LIBRARIES = [
  'express',
  'prom-client',
  'pino',
  'js-yaml',
  'simple-git',
  'node-forge',
  'zod',
] as const;

/** RSS and heap in use of a process that imports `modules`, after full collections. */
function importedFootprint(modules: readonly string[]): { rss: number; heap: number } {
  const code =
    `for (const m of ${JSON.stringify(modules)}) await import(m);` +
    'await new Promise((r) => setTimeout(r, 1000)); gc(); gc();' +
    'await new Promise((r) => setTimeout(r, 1000));' +
    'console.log(JSON.stringify({ rss: process.memoryUsage().rss, heap: process.memoryUsage().heapUsed }));';
  const result = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', code], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (result.status !== 0) throw new Error(`importing ${modules.join(', ')} failed`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}') as {
    rss: number;
    heap: number;
  };
}

/**
 * Each of serve's libraries in processes of its own, three times each, the median: imported
 * alone against an empty process, and imported last against all the others.
 */
export function libraryMarginals(rounds = 3): LibraryRow[] {
  const median = (values: number[]): number =>
    values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
  const measure = (modules: readonly string[]) => {
    const runs = Array.from({ length: rounds }, () => importedFootprint(modules));
    return {
      rss: median(runs.map((run) => run.rss)),
      heap: median(runs.map((run) => run.heap)),
    };
  };
  const empty = measure([]);
  const all = measure(SERVE_LIBRARIES);
  return SERVE_LIBRARIES.map((name) => {
    const alone = measure([name]);
    const others = measure(SERVE_LIBRARIES.filter((other) => other !== name));
    return {
      name,
      aloneRssBytes: alone.rss - empty.rss,
      aloneHeapBytes: alone.heap - empty.heap,
      lastRssBytes: all.rss - others.rss,
      lastHeapBytes: all.heap - others.heap,
    };
  });
}

async function floor(code: string): Promise<number> {
  const { child } = await startUntil(
    [
      process.execPath,
      '--input-type=module',
      '-e',
      `${code}\nconsole.log('ready'); setInterval(() => {}, 1000);`,
    ],
    /^ready$/,
    root,
    { ...process.env, ...imageEnvironment() },
  );
  try {
    return await settledRss(child.pid, 3_000);
  } finally {
    await stop(child);
  }
}

/** `driftgate serve` without a config, as `npm start` runs it (after `npm run build`). */
async function example(): Promise<number> {
  const build = spawnSync(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
    { cwd: root, stdio: 'inherit' },
  );
  if (build.status !== 0) throw new Error('npm run build failed');
  const cwd = mkdtempSync(join(tmpdir(), 'driftgate-bench-example-'));
  try {
    const { child } = await startUntil(
      [
        process.execPath,
        join(root, 'dist', 'cli.js'),
        'serve',
        '--port',
        '0',
        '--host',
        '127.0.0.1',
      ],
      /driftgate is serving the example repository/,
      cwd,
    );
    try {
      return await settledRss(child.pid);
    } finally {
      await stop(child);
    }
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

interface Ready {
  readonly url: string;
  readonly pid: number;
  readonly readyMs: number;
  readonly objects: number;
}

export interface ServerOptions {
  /** A kubeconfig file: the server watches that cluster. */
  readonly kubeconfig?: string;
  /** driftgate compiled elsewhere (another revision), instead of this tree's. */
  readonly compiled?: string;
  /** serve's young-generation limit in MB, instead of its own. */
  readonly youngLimitMb?: number;
}

function startMemoryServer(
  dir: string,
  objects: number,
  perFile: number,
  options: ServerOptions = {},
): Promise<{ child: ChildProcess; ready: Ready; lines: () => string[] }> {
  const { KUBECONFIG: _ignored, ...inherited } = process.env;
  const env = { ...inherited, ...imageEnvironment() };
  return startUntil(
    [
      process.execPath,
      strippedScript('memory-server.ts'),
      options.compiled ?? compiledDir,
      dir,
      String(objects),
      String(perFile),
      ...(options.kubeconfig === undefined ? [] : ['cluster']),
      ...(options.youngLimitMb === undefined ? [] : [`young-mb=${String(options.youngLimitMb)}`]),
    ],
    /^\{"url"/,
    root,
    options.kubeconfig === undefined ? env : { ...env, KUBECONFIG: options.kubeconfig },
  ).then(({ child, line, lines }) => ({ child, ready: JSON.parse(line) as Ready, lines }));
}

/** Review load for `seconds` while RSS is sampled: the peak, and the reviews answered. */
async function underLoad(
  server: { child: ChildProcess; ready: Ready },
  seconds: number,
  during?: () => void,
): Promise<{ peak: number; reviewsPerSecond: number; p99Ms: number; cpuMicrosPerReview: number }> {
  let peak = rssOf(server.child.pid);
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssOf(server.child.pid));
  }, 250);
  const duringTimer = during === undefined ? undefined : setTimeout(during, 3_000);
  try {
    const result = await load(
      'driftgate',
      server.ready.url,
      reviewFile,
      seconds,
      'validate',
      server.child.pid,
    );
    return {
      peak,
      reviewsPerSecond: result.requestsPerSecond,
      p99Ms: result.p99Ms,
      cpuMicrosPerReview: result.cpuMicrosPerRequest,
    };
  } finally {
    clearInterval(sampler);
    clearTimeout(duringTimer);
  }
}

/**
 * 10,000 ConfigMaps, one to a file: cold, under load, and restarted on the persisted snapshot.
 * With `cluster`, each server watches a loopback API server that this process runs.
 */
export async function tenThousand(
  options: { readonly cluster?: boolean; readonly compiled?: string } = {},
): Promise<MemoryResult['tenThousand']> {
  const dir = mkdtempSync(join(tmpdir(), 'driftgate-bench-memory-'));
  const api = options.cluster === true ? await startFakeApiServer() : undefined;
  const serverOptions: ServerOptions = {
    ...(options.compiled === undefined ? {} : { compiled: options.compiled }),
    ...(api === undefined ? {} : { kubeconfig: join(dir, 'kubeconfig') }),
  };
  if (api !== undefined && serverOptions.kubeconfig !== undefined) {
    writeFileSync(serverOptions.kubeconfig, api.kubeconfigText());
  }
  try {
    const server = await startMemoryServer(dir, 10_000, 1, serverOptions);
    let idleRssBytes: number;
    let loaded: { peak: number; reviewsPerSecond: number };
    try {
      idleRssBytes = await settledRss(server.child.pid, 3_000);
      loaded = await underLoad(server, 10);
    } finally {
      await stop(server.child);
    }
    const restored = await startMemoryServer(dir, 10_000, 1, serverOptions);
    await stop(restored.child);
    if (api !== undefined && !api.requests.some((request) => request.query.has('watch'))) {
      throw new Error('the 10,000-object server did not watch the loopback cluster');
    }
    return {
      readyMs: server.ready.readyMs,
      restoredReadyMs: restored.ready.readyMs,
      idleRssBytes,
      loadPeakRssBytes: loaded.peak,
      reviewsPerSecond: loaded.reviewsPerSecond,
    };
  } finally {
    await api?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The young-generation limit serve sets, 2 MB against 16 MB: the 10,000-object server idle and
 * under review load with each, taking turns, `rounds` times; the median of each. Each server
 * starts on the snapshot a first, unmeasured one persisted, so every run starts alike.
 */
export async function youngGenerationLimits(
  rounds = 3,
  limits: readonly number[] = [2, 16],
): Promise<YoungGenerationRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'driftgate-bench-young-'));
  const runs = new Map<number, YoungGenerationRow[]>(limits.map((limit) => [limit, []]));
  try {
    await stop((await startMemoryServer(dir, 10_000, 1)).child);
    for (let round = 0; round < rounds; round++) {
      for (const limitMb of limits) {
        const server = await startMemoryServer(dir, 10_000, 1, { youngLimitMb: limitMb });
        try {
          const idleRssBytes = await settledRss(server.child.pid, 3_000);
          const loaded = await underLoad(server, 10);
          runs.get(limitMb)?.push({
            limitMb,
            idleRssBytes,
            loadPeakRssBytes: loaded.peak,
            reviewsPerSecond: loaded.reviewsPerSecond,
            p99Ms: loaded.p99Ms,
            cpuMicrosPerReview: loaded.cpuMicrosPerReview,
          });
        } finally {
          await stop(server.child);
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const median = (values: number[]): number =>
    values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
  return limits.map((limitMb) => {
    const rows = runs.get(limitMb) ?? [];
    return {
      limitMb,
      idleRssBytes: median(rows.map((row) => row.idleRssBytes)),
      loadPeakRssBytes: median(rows.map((row) => row.loadPeakRssBytes)),
      reviewsPerSecond: median(rows.map((row) => row.reviewsPerSecond)),
      p99Ms: median(rows.map((row) => row.p99Ms)),
      cpuMicrosPerReview: median(rows.map((row) => row.cpuMicrosPerReview)),
    };
  });
}

/** `objects` ConfigMaps, five to a file, cold and then restarted on the persisted snapshot. */
async function large(objects: number): Promise<LargeResult> {
  const dir = mkdtempSync(join(tmpdir(), 'driftgate-bench-memory-'));
  const perFile = 5;
  try {
    const cold = await startMemoryServer(dir, objects, perFile);
    let commit: { commitMs: number; stallMs: number; idleStallMs: number };
    let coldRssBytes: number;
    let loaded: { peak: number; reviewsPerSecond: number };
    try {
      coldRssBytes = await settledRss(cold.child.pid, 3_000);
      loaded = await underLoad(cold, 20, () => cold.child.kill('SIGUSR2'));
      for (let tries = 0; tries < 1200; tries++) {
        if (cold.lines().some((line) => line.startsWith('{"commitMs"'))) break;
        await sleep(100);
      }
      const line = cold.lines().find((candidate) => candidate.startsWith('{"commitMs"'));
      if (line === undefined) throw new Error('the one-file commit was not decided');
      commit = JSON.parse(line) as typeof commit;
    } finally {
      await stop(cold.child);
    }
    const restored = await startMemoryServer(dir, objects, perFile);
    try {
      const restoredRssBytes = await settledRss(restored.child.pid, 3_000);
      return {
        objects: cold.ready.objects,
        files: Math.ceil((objects - 1) / perFile) + 1,
        coldReadyMs: cold.ready.readyMs,
        coldRssBytes,
        restoredReadyMs: restored.ready.readyMs,
        restoredRssBytes,
        loadPeakRssBytes: loaded.peak,
        commitMs: commit.commitMs,
        commitStallMs: commit.stallMs,
        idleStallMs: commit.idleStallMs,
        reviewsPerSecond: loaded.reviewsPerSecond,
      };
    } finally {
      await stop(restored.child);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchMemory(objects = 100_000): Promise<MemoryResult> {
  // The servers run driftgate as `npm run build` compiles it: compiled here, once.
  await importCompiled('cli/young-generation.js');
  const floors: Row[] = [];
  for (const { name, code } of FLOORS) floors.push({ name, rssBytes: await floor(code) });
  return {
    floors,
    example: { name: 'driftgate serve, bundled example', rssBytes: await example() },
    tenThousand: await tenThousand(),
    tenThousandWithCluster: await tenThousand({ cluster: true }),
    large: await large(objects),
    youngGeneration: await youngGenerationLimits(),
    libraries: libraryMarginals(),
  };
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const mbDecimal = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const met = (ok: boolean): string => (ok ? 'met' : 'MISSED');

export function formatMemory(r: MemoryResult): string {
  const MB = 1024 * 1024;
  const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  const t = r.tenThousand;
  const c = r.tenThousandWithCluster;
  const l = r.large;
  const count = l.objects.toLocaleString('en');
  return [
    ...r.floors.map((row) => `  ${row.name.padEnd(40)} RSS ${mb(row.rssBytes).padStart(7)}`),
    `  ${r.example.name.padEnd(40)} RSS ${mb(r.example.rssBytes).padStart(7)}  (target <= 100 MB: ${met(r.example.rssBytes <= 100 * MB)})`,
    `  10,000 objects: ready in ${s(t.readyMs)} from a cold render (clone, check out, render), in ${s(t.restoredReadyMs)} restarted on the persisted snapshot (target <= 2 s: ${met(t.restoredReadyMs <= 2_000)}); idle RSS ${mb(t.idleRssBytes)}; under review load (16 connections, ${t.reviewsPerSecond.toFixed(0)} reviews/s) peak RSS ${mb(t.loadPeakRssBytes)} (target <= 150 MB: ${met(t.loadPeakRssBytes <= 150 * MB)})`,
    `  10,000 objects watching a cluster: ready in ${s(c.readyMs)}, restarted in ${s(c.restoredReadyMs)}; idle RSS ${mb(c.idleRssBytes)}; under review load (${c.reviewsPerSecond.toFixed(0)} reviews/s) peak RSS ${mb(c.loadPeakRssBytes)} (target <= 150 MB: ${met(c.loadPeakRssBytes <= 150 * MB)})`,
    `  ${count} objects in ${l.files.toLocaleString('en')} files: ready from a cold render in ${s(l.coldReadyMs)}, RSS ${mb(l.coldRssBytes)}; under review load peak RSS ${mb(l.loadPeakRssBytes)} (target <= 500 MB: ${met(Math.max(l.coldRssBytes, l.loadPeakRssBytes) <= 500 * MB)})`,
    `  ${count} objects, restarted on the persisted snapshot: ready in ${s(l.restoredReadyMs)} (target <= 10 s: ${met(l.restoredReadyMs <= 10_000)}), RSS ${mb(l.restoredRssBytes)}`,
    `  ${count} objects, a one-file commit under review load: decided in ${l.commitMs.toFixed(0)} ms (target <= 1000 ms: ${met(l.commitMs <= 1000)}); longest event-loop stall ${l.commitStallMs.toFixed(1)} ms while it was rendered and swapped (target < 50 ms: ${met(l.commitStallMs < 50)}), ${l.idleStallMs.toFixed(1)} ms in the second or two of the same load before the push`,
    `  young-generation limit of serve, 10,000 objects restarted on the persisted snapshot, taking turns (median of ${String(3)} rounds each):`,
    ...r.youngGeneration.map(
      (row) =>
        `    ${`${String(row.limitMb)} MB`.padStart(5)}: idle RSS ${mb(row.idleRssBytes)}; under review load peak RSS ${mb(row.loadPeakRssBytes)}, ${row.reviewsPerSecond.toFixed(0)} reviews/s, p99 ${row.p99Ms.toFixed(1)} ms, ${row.cpuMicrosPerReview.toFixed(0)} µs of CPU a review`,
    ),
    `  each of serve's libraries in a process of its own (median of 3), imported alone into an empty process / imported last, after the others:`,
    ...r.libraries.map(
      (row) =>
        `    ${row.name.padEnd(12)} alone RSS +${mb(row.aloneRssBytes).padStart(6)}, heap +${mbDecimal(row.aloneHeapBytes)}; last RSS +${mb(row.lastRssBytes).padStart(6)}, heap +${mbDecimal(row.lastHeapBytes)}`,
    ),
  ].join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await benchMemory(Number(process.argv[2] ?? 100_000));
  console.log(JSON.stringify(result));
  console.log(formatMemory(result));
}

export interface HeapResult {
  readonly objects: number;
  readonly rssBytes: number;
  readonly rows: readonly { category: string; bytes: number; how: string }[];
}

/** bench/heap.ts in a process of its own: where the memory of a ready driftgate goes. */
export async function benchHeap(objects: number, perFile: number): Promise<HeapResult> {
  await importCompiled('cli/young-generation.js');
  const result = spawnSync(
    process.execPath,
    ['--expose-gc', strippedScript('heap.ts'), compiledDir, String(objects), String(perFile)],
    {
      cwd: root,
      env: { ...process.env, ...imageEnvironment() },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 1 << 24,
    },
  );
  const line = result.stdout.split('\n').find((candidate) => candidate.startsWith('{"objects"'));
  if (line === undefined) throw new Error(`bench/heap.ts failed: ${result.stdout}`);
  return JSON.parse(line) as HeapResult;
}

/** One row per category, a column per snapshot size. */
export function formatHeap(results: readonly HeapResult[]): string {
  const [first] = results;
  if (first === undefined) return '';
  const width = Math.max(...first.rows.map((row) => row.category.length));
  const header = `  ${''.padEnd(width)} ${results.map((r) => `${r.objects.toLocaleString('en')} objects`.padStart(16)).join(' ')}`;
  const rows = first.rows.map(
    (row, index) =>
      `  ${row.category.padEnd(width)} ${results.map((r) => mb(r.rows[index]?.bytes ?? NaN).padStart(16)).join(' ')}`,
  );
  const total = `  ${'RSS'.padEnd(width)} ${results.map((r) => mb(r.rssBytes).padStart(16)).join(' ')}`;
  // What each row measured, and its figures where they differ from one size to the next.
  const how = first.rows.map((row, index) => {
    const hows = results.map((r) => r.rows[index]?.how ?? '');
    const same = hows.every((text) => text === row.how);
    const each = results
      .map((r, at) => `${r.objects.toLocaleString('en')} objects: ${hows[at] ?? ''}`)
      .join('; ');
    return `    ${row.category}: ${same ? row.how : each}`;
  });
  return [header, ...rows, total, '  measured as:', ...how].join('\n');
}
