// The load generator of the HTTP benchmarks, run in a process of its own: autocannon, keep-alive
// TLS, with the latency of every 2xx answer kept at microsecond resolution. autocannon's own
// latency histogram counts whole milliseconds, too coarse for answers that take a fraction of one
// (its mean and percentiles of a 0.3 ms answer read 0).
// Usage: node bench/load.ts <url> <body file> <connections> <seconds>; prints one JSON line.
// Only erasable TypeScript here: node runs it as it is, without tsx.
import type { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

export interface LoadResult {
  readonly requestsPerSecond: number;
  readonly total: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

interface AutocannonResult {
  readonly requests: { readonly average: number; readonly total: number };
  readonly non2xx: number;
  readonly errors: number;
}

type Autocannon = (
  options: Record<string, unknown>,
  done: (error: Error | null, result: AutocannonResult) => void,
) => EventEmitter;

/** The value below which `fraction` of the sorted latencies lie (nearest rank). */
function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(fraction * sorted.length)));
  return sorted[rank - 1] ?? NaN;
}

async function main(): Promise<void> {
  const [url, bodyFile, connections = '16', seconds = '5'] = process.argv.slice(2);
  if (url === undefined || bodyFile === undefined) {
    throw new Error('usage: node bench/load.ts <url> <body file> <connections> <seconds>');
  }
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
  const latencies: number[] = [];
  const result = await new Promise<AutocannonResult>((resolve, reject) => {
    const run = autocannon(
      {
        url,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: readFileSync(bodyFile),
        connections: Number(connections),
        duration: Number(seconds),
      },
      (error, done) => {
        if (error === null) resolve(done);
        else reject(error);
      },
    );
    run.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) latencies.push(ms);
    });
  });
  const sorted = Float64Array.from(latencies).sort();
  const mean = latencies.reduce((sum, ms) => sum + ms, 0) / latencies.length;
  const out: LoadResult = {
    requestsPerSecond: result.requests.average,
    total: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    meanMs: mean,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
  };
  console.log(JSON.stringify(out));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
