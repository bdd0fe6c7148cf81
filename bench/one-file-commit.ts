// Benchmark: push to decision for one-file commits at N objects (five to a file), no review load,
// for one or more compiled builds of driftgate side by side in one run: a server each
// (bench/memory-server.ts), one after the other, the same number of commits each; the median.
// To compare with an earlier version, compile it (bench/compile.ts) and copy its compiled
// `src` directory inside node_modules/.cache (so that its packages resolve), then name both.
// With --under-load, the commits are made under review load (16 connections, bench/load.ts), as
// bench/memory.ts makes its one; the longest event-loop stall of each commit is printed too.
// Run alone: npx tsx bench/one-file-commit.ts [commits, default 5] [objects, default 100000]
//   [--under-load] [compiled src directory ...]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compiledDir, importCompiled } from './compiled.js';
import { load } from './http.js';

const [commitsText = '5', objectsText = '100000', ...args] = process.argv.slice(2);
const underLoad = args.includes('--under-load');
const named = args.filter((arg) => arg !== '--under-load');
const reviewFile = fileURLToPath(
  new URL(
    '../test/fixtures/captured/reviews/20-set-image-deployment-by-alice.validating.json',
    import.meta.url,
  ),
);
const commits = Number(commitsText);
const builds = named.length === 0 ? [compiledDir] : named;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

await importCompiled('cli/young-generation.js');
const server = join(compiledDir, '..', 'memory-server.mjs');
writeFileSync(
  server,
  stripTypeScriptTypes(readFileSync(new URL('memory-server.ts', import.meta.url), 'utf8')),
);

interface Decided {
  readonly commitMs: number;
  readonly stallMs: number;
}

/** Push-to-decision times of `commits` one-file commits to a server of `build`. */
async function measure(build: string): Promise<Decided[]> {
  const dir = mkdtempSync(join(tmpdir(), 'driftgate-bench-commit-'));
  // BENCH_SERVER_NODE_ARGS: node options for the server alone (e.g. --cpu-prof to profile it).
  const nodeArgs = process.env['BENCH_SERVER_NODE_ARGS']?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, server, build, dir, objectsText, '5'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  let rest = '';
  child.stdout.on('data', (data: Buffer) => {
    const parts = (rest + data.toString()).split('\n');
    rest = parts.pop() ?? '';
    lines.push(...parts);
    // What node itself prints (e.g. --trace-gc) goes on, to stderr.
    for (const part of parts) if (!part.startsWith('{')) process.stderr.write(`${part}\n`);
  });
  const decided = () => lines.filter((line) => line.startsWith('{"commitMs"'));
  try {
    for (let tries = 0; !lines.some((line) => line.startsWith('{"url"')); tries++) {
      if (tries > 3_000) throw new Error('the server did not get ready');
      await sleep(100);
    }
    const url = (
      JSON.parse(lines.find((line) => line.startsWith('{"url"')) ?? '{}') as {
        url: string;
      }
    ).url;
    // Review load over all the commits, begun a few seconds before the first.
    const loading = underLoad
      ? load('driftgate', url, reviewFile, commits * 6 + 4).catch(() => undefined)
      : undefined;
    if (underLoad) await sleep(2_000);
    const times: Decided[] = [];
    for (let round = 0; round < commits; round++) {
      const before = decided().length;
      await sleep(1_500);
      child.kill('SIGUSR2');
      for (let tries = 0; decided().length === before; tries++) {
        if (tries > 1_200) throw new Error('the commit was not decided');
        await sleep(50);
      }
      const line = decided().at(-1) ?? '{}';
      times.push(JSON.parse(line) as Decided);
    }
    await loading;
    return times;
  } finally {
    child.kill('SIGINT');
    await new Promise((resolve) => child.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (values: number[]): number =>
  values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
for (const build of builds) {
  const decided = await measure(build);
  const times = decided.map((one) => one.commitMs);
  const stalls = decided.map((one) => one.stallMs);
  console.log(
    `${build}${underLoad ? ', under review load' : ''}: one-file commit decided in ${times.map((ms) => ms.toFixed(0)).join(', ')} ms; median ${median(times).toFixed(0)} ms; longest event-loop stalls ${stalls.map((ms) => ms.toFixed(0)).join(', ')} ms, median ${median(stalls).toFixed(0)} ms`,
  );
}
