// Benchmark: /validate of the real webhook (10,000 objects in its snapshot) against a no-op
// express HTTPS server answering allowed: true, under the same load, side by side in one run.
// Each server and the load generator (autocannon) run in processes of their own.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface HttpResult {
  readonly name: string;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly non2xx: number;
  readonly errors: number;
}

const here = new URL('.', import.meta.url);
const autocannon = createRequire(import.meta.url).resolve('autocannon/autocannon.js');

async function startServer(
  mode: 'noop' | 'driftgate',
  objects: number,
): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      import.meta.resolve('tsx'),
      new URL('http-server.ts', here).pathname,
      mode,
      String(objects),
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'] as const,
    },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      reject(new Error(`${mode} server did not start`));
    }, 180_000);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /^(https:\/\/\S+)/m.exec(out);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.on('exit', (code) => {
      reject(new Error(`${mode} server exited with ${String(code)}`));
    });
  });
  return { url, child };
}

async function load(
  name: string,
  url: string,
  bodyFile: string,
  seconds: number,
): Promise<HttpResult> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      autocannon,
      '--json',
      '-c',
      '16',
      '-d',
      String(seconds),
      '-m',
      'POST',
      '-H',
      'content-type=application/json',
      '-i',
      bodyFile,
      `${url}/validate`,
    ],
    { env: { ...process.env, NODE_TLS_REJECT_UNAUTHORIZED: '0' }, maxBuffer: 64 * 1024 * 1024 },
  );
  const result = JSON.parse(stdout) as {
    requests: { average: number };
    latency: { p50: number; p99: number };
    non2xx: number;
    errors: number;
  };
  return {
    name,
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

/** `review` names a captured review: a denied `kubectl set image` by default. */
export async function benchHttp(
  objects = 10_000,
  seconds = 10,
  review = '20-set-image-deployment-by-alice',
): Promise<HttpResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'driftgate-bench-'));
  const bodyFile = join(dir, 'review.json');
  writeFileSync(
    bodyFile,
    readFileSync(new URL(`../test/fixtures/captured/reviews/${review}.validating.json`, here)),
  );
  // Both servers run at once and take turns under load, round after round: this machine's
  // speed drifts during a run, and alternating exposes both to the same drift.
  const servers = [await startServer('noop', objects), await startServer('driftgate', objects)];
  const names = ['no-op express HTTPS', `driftgate /validate (${objects} objects)`];
  const rounds: HttpResult[][] = [[], []];
  try {
    for (const [i, server] of servers.entries())
      await load(`warm-up ${i}`, server.url, bodyFile, 2);
    for (let round = 0; round < 3; round++) {
      for (const [i, server] of servers.entries()) {
        rounds[i]?.push(await load(names[i] ?? '', server.url, bodyFile, seconds));
      }
    }
  } finally {
    for (const server of servers) server.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  const results = rounds.map((runs) => medianOf(runs));
  return results;
}

/** The round with the median throughput, so its latencies are those of one real round. */
function medianOf(runs: readonly HttpResult[]): HttpResult {
  const sorted = [...runs].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond);
  const median = sorted[Math.floor(sorted.length / 2)];
  if (median === undefined) throw new Error('no rounds ran');
  return median;
}

export function formatHttp(results: readonly HttpResult[]): string {
  const [base, driftgate] = results;
  const rows = results.map(
    (r) =>
      `  ${r.name.padEnd(40)} ${r.requestsPerSecond.toFixed(0).padStart(7)} req/s  p50 ${r.p50Ms.toFixed(1).padStart(6)} ms  p99 ${r.p99Ms.toFixed(1).padStart(6)} ms  non-2xx ${r.non2xx}  errors ${r.errors}`,
  );
  if (base !== undefined && driftgate !== undefined) {
    rows.push(
      `  driftgate / no-op: throughput ${((driftgate.requestsPerSecond / base.requestsPerSecond) * 100).toFixed(0)}%, p99 ${(driftgate.p99Ms / base.p99Ms).toFixed(2)}×`,
    );
  }
  return rows.join('\n');
}
