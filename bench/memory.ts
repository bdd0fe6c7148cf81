// Benchmark: resident memory of a ready driftgate serving 1 desired object and one serving
// 10,001, each in a process of its own, and the no-op server beside them: the difference is
// what 10,000 desired objects cost. Run alone: npx tsx bench/memory.ts
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { startServer } from './http.js';

export interface MemoryResult {
  readonly name: string;
  readonly objects: number;
  readonly rssBytes: number;
}

function rssOf(pid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) * 1024;
  } catch {
    return NaN;
  }
}

async function settledRss(mode: 'noop' | 'driftgate', objects: number): Promise<number> {
  const server = await startServer(mode, objects);
  try {
    // Let the first render's garbage be collected and the parse worker go idle.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    return rssOf(server.child.pid);
  } finally {
    server.child.kill('SIGKILL');
  }
}

export async function benchMemory(): Promise<MemoryResult[]> {
  return [
    { name: 'no-op express HTTPS', objects: 0, rssBytes: await settledRss('noop', 0) },
    { name: 'driftgate, 1 desired object', objects: 1, rssBytes: await settledRss('driftgate', 0) },
    {
      name: 'driftgate, 10,001 desired objects',
      objects: 10_001,
      rssBytes: await settledRss('driftgate', 10_000),
    },
  ];
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

export function formatMemory(results: readonly MemoryResult[]): string {
  const rows = results.map((r) => `  ${r.name.padEnd(36)} RSS ${mb(r.rssBytes).padStart(7)}`);
  const [, one, many] = results;
  if (one !== undefined && many !== undefined) {
    const perTenThousand = ((many.rssBytes - one.rssBytes) / (many.objects - one.objects)) * 1e4;
    rows.push(
      `  10,000 desired objects cost ${mb(perTenThousand)} of RSS; a ready driftgate with 10,001 holds ${mb(many.rssBytes)} (target < 300 MB: ${many.rssBytes < 300 * 1024 * 1024 ? 'met' : 'MISSED'})`,
    );
  }
  return rows.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatMemory(await benchMemory()));
}
