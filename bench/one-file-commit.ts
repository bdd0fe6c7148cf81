// Benchmark: push to decision for one-file commits at N objects (five to a file), no review load,
// for one or more compiled builds of driftgate side by side in one run: a server each
// (bench/memory-server.ts), one after the other, the same number of commits each; the median.
// To compare with an earlier version, compile it (bench/compile.ts) and copy its compiled
// `src` directory inside node_modules/.cache (so that its packages resolve), then name both.
// Run alone: npx tsx bench/one-file-commit.ts [commits, default 5] [objects, default 100000]
//   [compiled src directory ...]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compiledDir, importCompiled } from './compiled.js';

const [commitsText = '5', objectsText = '100000', ...named] = process.argv.slice(2);
const commits = Number(commitsText);
const builds = named.length === 0 ? [compiledDir] : named;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

await importCompiled('cli/young-generation.js');
const server = join(compiledDir, '..', 'memory-server.mjs');
writeFileSync(
  server,
  stripTypeScriptTypes(readFileSync(new URL('memory-server.ts', import.meta.url), 'utf8')),
);

/** Push-to-decision times of `commits` one-file commits to a server of `build`. */
async function measure(build: string): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'driftgate-bench-commit-'));
  const child = spawn(process.execPath, [server, build, dir, objectsText, '5'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  let rest = '';
  child.stdout.on('data', (data: Buffer) => {
    const parts = (rest + data.toString()).split('\n');
    rest = parts.pop() ?? '';
    lines.push(...parts);
  });
  const decided = () => lines.filter((line) => line.startsWith('{"commitMs"'));
  try {
    for (let tries = 0; !lines.some((line) => line.startsWith('{"url"')); tries++) {
      if (tries > 3_000) throw new Error('the server did not get ready');
      await sleep(100);
    }
    const times: number[] = [];
    for (let round = 0; round < commits; round++) {
      const before = decided().length;
      await sleep(1_500);
      child.kill('SIGUSR2');
      for (let tries = 0; decided().length === before; tries++) {
        if (tries > 1_200) throw new Error('the commit was not decided');
        await sleep(50);
      }
      const line = decided().at(-1) ?? '{}';
      times.push((JSON.parse(line) as { commitMs: number }).commitMs);
    }
    return times;
  } finally {
    child.kill('SIGINT');
    await new Promise((resolve) => child.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const build of builds) {
  const times = await measure(build);
  const sorted = times.toSorted((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? NaN;
  console.log(
    `${build}: one-file commit decided in ${times.map((ms) => ms.toFixed(0)).join(', ')} ms; median ${median.toFixed(0)} ms`,
  );
}
