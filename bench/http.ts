// Benchmark: /validate and /mutate of the real webhook (10,000 and 100,000 objects in its
// snapshot) against a no-op express HTTPS server answering allowed: true, and against the same
// no-op answer from node:https alone, under the same load, side by side in one run. Each server
// and the load generator (autocannon, driven by bench/load.ts) run in processes of their own.
// Run alone: npx tsx bench/http.ts [seconds]
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { LoadResult } from './load.js';

export interface HttpResult {
  readonly name: string;
  readonly requestsPerSecond: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly non2xx: number;
  readonly errors: number;
  /**
   * CPU time the server spent per request (user + system, from /proc): far steadier than
   * throughput on a machine whose other users come and go. NaN where /proc is missing.
   */
  readonly cpuMicrosPerRequest: number;
}

/** User + system CPU seconds of a process so far, from /proc/<pid>/stat. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
    // Fields after the command name, which may hold spaces, in parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line, in clock ticks (100 a second).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

const here = new URL('.', import.meta.url);
const loadGenerator = new URL('load.ts', here).pathname;

/** `extra`: files of manifests the driftgate server adds to its repository (JSON, under apps/). */
export async function startServer(
  mode: 'noop' | 'bare' | 'driftgate',
  objects: number,
  extra?: string,
): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      import.meta.resolve('tsx'),
      new URL('http-server.ts', here).pathname,
      mode,
      String(objects),
      ...(extra === undefined ? [] : [extra]),
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'] as const,
    },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    // 100,000 manifests are written, committed and rendered before the server listens.
    const timer = setTimeout(
      () => {
        reject(new Error(`${mode} server did not start`));
      },
      Math.max(180_000, objects * 6),
    );
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /^(https:\/\/\S+)(?: objects=(\d+))?/m.exec(out);
      if (match?.[1] === undefined) return;
      clearTimeout(timer);
      // driftgate says how many objects it serves once Git is rendered: all of them, or the
      // figures would be of a server still starting, or of one without its snapshot.
      const served = Number(match[2] ?? 0);
      if (mode === 'driftgate' && served < objects) {
        child.kill('SIGKILL');
        reject(new Error(`driftgate serves ${String(served)} objects, not ${String(objects)}`));
      } else {
        resolve(match[1]);
      }
    });
    child.on('exit', (code) => {
      reject(new Error(`${mode} server exited with ${String(code)}`));
    });
  });
  return { url, child };
}

export type Webhook = 'validate' | 'mutate';

export interface HttpScenario {
  /** What the numbers are of, e.g. `/validate, denied`. */
  readonly title: string;
  /** A captured review, e.g. `20-set-image-deployment-by-alice`. */
  readonly review: string;
  readonly webhook: Webhook;
}

export interface HttpScenarioResult {
  readonly scenario: HttpScenario;
  /** The no-op express server, the no-op node:https server, then driftgate at each snapshot size. */
  readonly results: readonly HttpResult[];
}

/** The first results of a scenario are the no-op servers; driftgate's follow. */
const BASELINES = 2;

/** Against the express no-op server, for every snapshot size. */
export const HTTP_TARGET = { throughput: 0.9, p99: 1.2 } as const;

export const HTTP_SECTION_INTRO = `autocannon, 16 connections, keep-alive TLS (bench/load.ts, which keeps each answer's latency to the microsecond: autocannon's own histogram counts whole milliseconds), against the real webhook with 10,000 and with 100,000 objects in its snapshot (each logging a line per decision and capping its young generation as \`driftgate serve\` does, ready before the load begins), a no-op express HTTPS server answering allowed: true to the same review, and the same no-op answer from node:https alone (driftgate serves reviews without express, so this is the stricter baseline); each server in a process of its own, taking turns, the median of 5 rounds of 5 s. CPU per request is the server process's CPU time over the round (/proc), steadier than throughput on a shared machine. Targets, against the express no-op server, at both sizes: >= ${String(HTTP_TARGET.throughput * 100)}% of its throughput, p99 <= ${String(HTTP_TARGET.p99)}×.`;

/** A Deployment UPDATE denied (kubectl set image by a person) and one allowed (Argo CD). */
export const HTTP_SCENARIOS: readonly HttpScenario[] = [
  {
    title: '/validate, a Deployment UPDATE that is denied (kubectl set image by a person)',
    review: '20-set-image-deployment-by-alice',
    webhook: 'validate',
  },
  {
    title: '/validate, a Deployment UPDATE that is allowed (the sync identity re-applying Git)',
    review: '11-apply-unchanged-deployment-by-argocd',
    webhook: 'validate',
  },
  {
    title: '/mutate, the same denied write (mutation stamps nothing)',
    review: '20-set-image-deployment-by-alice',
    webhook: 'mutate',
  },
];

export async function load(
  name: string,
  url: string,
  bodyFile: string,
  seconds: number,
  webhook: Webhook = 'validate',
  pid?: number,
  connections = 16,
): Promise<HttpResult> {
  const cpuBefore = cpuSeconds(pid);
  const { stdout } = await promisify(execFile)(
    process.execPath,
    // Plain node (it strips the types itself): the load generator stays as lean as autocannon's
    // own command, on a machine whose CPUs it shares with the server.
    [loadGenerator, `${url}/${webhook}`, bodyFile, String(connections), String(seconds)],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const result = JSON.parse(stdout) as LoadResult;
  return {
    name,
    requestsPerSecond: result.requestsPerSecond,
    meanMs: result.meanMs,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    non2xx: result.non2xx,
    errors: result.errors,
    cpuMicrosPerRequest: ((cpuSeconds(pid) - cpuBefore) * 1e6) / result.total,
  };
}

/**
 * Each scenario against every server, started once for all of them: five alternating rounds of
 * `seconds` after a warm-up, the median round of each.
 */
export async function benchHttp(
  objectCounts: readonly number[] = [10_000, 100_000],
  seconds = 10,
  scenarios: readonly HttpScenario[] = HTTP_SCENARIOS,
): Promise<HttpScenarioResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'driftgate-bench-'));
  // All servers run at once and take turns under load, round after round: this machine's
  // speed drifts during a run, and alternating exposes all to the same drift. One starts after
  // the other, so that no server is still building its snapshot when the load begins.
  const servers = [await startServer('noop', 0), await startServer('bare', 0)];
  for (const objects of objectCounts) servers.push(await startServer('driftgate', objects));
  const all: HttpScenarioResult[] = [];
  try {
    for (const [index, scenario] of scenarios.entries()) {
      const bodyFile = join(dir, `review-${index}.json`);
      const stage = scenario.webhook === 'validate' ? 'validating' : 'mutating';
      writeFileSync(
        bodyFile,
        readFileSync(
          new URL(`../test/fixtures/captured/reviews/${scenario.review}.${stage}.json`, here),
        ),
      );
      const names = [
        'no-op express HTTPS',
        'no-op node:https',
        ...objectCounts.map((objects) => `driftgate /${scenario.webhook} (${objects} objects)`),
      ];
      const rounds: HttpResult[][] = servers.map(() => []);
      for (const [i, server] of servers.entries())
        await load(`warm-up ${i}`, server.url, bodyFile, 2, scenario.webhook);
      for (let round = 0; round < 5; round++) {
        for (const [i, server] of servers.entries()) {
          rounds[i]?.push(
            await load(
              names[i] ?? '',
              server.url,
              bodyFile,
              seconds,
              scenario.webhook,
              server.child.pid,
            ),
          );
        }
      }
      all.push({ scenario, results: rounds.map((runs) => medianOf(runs)) });
    }
  } finally {
    for (const server of servers) server.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  return all;
}

/** The round with the median throughput, so its latencies are those of one real round. */
function medianOf(runs: readonly HttpResult[]): HttpResult {
  const sorted = [...runs].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond);
  const median = sorted[Math.floor(sorted.length / 2)];
  if (median === undefined) throw new Error('no rounds ran');
  return median;
}

export function formatHttp(results: readonly HttpResult[]): string {
  const rows = results.map(
    (r) =>
      `  ${r.name.padEnd(40)} ${r.requestsPerSecond.toFixed(0).padStart(7)} req/s  p50 ${r.p50Ms.toFixed(2).padStart(6)} ms  p99 ${r.p99Ms.toFixed(2).padStart(6)} ms  CPU ${r.cpuMicrosPerRequest.toFixed(0).padStart(5)} µs/req  non-2xx ${r.non2xx}  errors ${r.errors}`,
  );
  const [express] = results;
  for (const driftgate of results.slice(BASELINES)) {
    const objects = /\((\d+) objects\)/.exec(driftgate.name)?.[1] ?? '?';
    for (const base of results.slice(0, BASELINES)) {
      rows.push(
        `  driftgate (${objects}) / ${base.name}: throughput ${((driftgate.requestsPerSecond / base.requestsPerSecond) * 100).toFixed(0)}%, p99 ${(driftgate.p99Ms / base.p99Ms).toFixed(2)}×, CPU per request ${(driftgate.cpuMicrosPerRequest / base.cpuMicrosPerRequest).toFixed(2)}×`,
      );
    }
    if (express !== undefined) {
      const throughput = driftgate.requestsPerSecond / express.requestsPerSecond;
      const p99 = driftgate.p99Ms / express.p99Ms;
      const met = (ok: boolean) => (ok ? 'met' : 'MISSED');
      rows.push(
        `  target at ${objects} objects: throughput >= ${String(HTTP_TARGET.throughput * 100)}% ${met(throughput >= HTTP_TARGET.throughput)}, p99 <= ${String(HTTP_TARGET.p99)}× ${met(p99 <= HTTP_TARGET.p99)}`,
      );
    }
  }
  return rows.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(HTTP_SECTION_INTRO);
  for (const { scenario, results } of await benchHttp(undefined, Number(process.argv[2] ?? 5))) {
    console.log(scenario.title);
    console.log(formatHttp(results));
  }
}
