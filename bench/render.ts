// Benchmark: render and index a Git repository of 10,000 manifests through the Git provider, and
// compare with plain js-yaml parsing of the same files. Run: npx tsx bench/render.ts [count]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { loadAll } from 'js-yaml';
import pino from 'pino';
import { createGitProvider } from '../src/desired/git-provider.js';
import type { RenderedDocument } from '../src/desired/manifest-parser.js';
import { ParseWorkerPool } from '../src/desired/parse-task.js';
import { renderSource, defaultRenderLimits } from '../src/desired/render.js';
import { buildSnapshot } from '../src/desired/snapshot.js';
import { sourceConfig } from '../test/desired/git-fixture.js';

const count = Number(process.argv[2] ?? 10_000);
const fixtures = join(import.meta.dirname, '..', 'test', 'fixtures', 'captured', 'manifests');
const templates = ['deploy-web.yaml', 'svc-web.yaml', 'cm-web-config.yaml', 'sts-db.yaml'].map(
  (name) => readFileSync(join(fixtures, name), 'utf8'),
);

const gitEnv = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'Bench',
  GIT_AUTHOR_EMAIL: 'bench@example.com',
  GIT_COMMITTER_NAME: 'Bench',
  GIT_COMMITTER_EMAIL: 'bench@example.com',
};
const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', args, { cwd, env: gitEnv, encoding: 'utf8', maxBuffer: 1 << 26 }).trim();

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

const root = mkdtempSync(join(tmpdir(), 'driftgate-bench-'));
try {
  // A repository of `count` manifests in 100 directories, names made unique per file.
  const work = join(root, 'work');
  mkdirSync(work);
  git(work, 'init', '--quiet', '--initial-branch=main');
  for (let index = 0; index < count; index++) {
    const dir = join(work, 'apps', `team-${index % 100}`);
    mkdirSync(dir, { recursive: true });
    const template = templates[index % templates.length] ?? '';
    writeFileSync(
      join(dir, `manifest-${index}.yaml`),
      template.replace(/^( {2}name: )(.+)$/m, `$1$2-${index}`),
    );
  }
  git(work, 'add', '-A');
  git(work, 'commit', '--quiet', '-m', 'bench');
  const files = readdirSync(join(work, 'apps'), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
  const bytes = files.reduce((sum, file) => sum + readFileSync(file).length, 0);
  console.log(`repository: ${files.length} manifest files, ${mb(bytes)}`);

  const stall = monitorEventLoopDelay({ resolution: 10 });
  stall.enable();

  // 1. The provider end to end: clone over file://, check out, render in the worker, index.
  const cacheDir = join(root, 'cache');
  const source = sourceConfig({ name: 'bench', repoURL: `file://${work}`, namespace: 'bench' });
  const provider = createGitProvider(
    {
      cacheDir,
      poll: false,
      persist: true,
      sources: [source],
    },
    { logger: pino({ level: 'silent' }) },
  );
  let started = performance.now();
  await provider.start();
  const endToEnd = performance.now() - started;
  const snapshot = provider.current();
  await provider.stop();
  if (snapshot.size !== count) throw new Error(`indexed ${snapshot.size} of ${count} objects`);

  // 2. Render and index alone, on the same checkout: what a new commit costs once fetched.
  const checkout = join(cacheDir, 'trees', readdirSync(join(cacheDir, 'trees'))[0] ?? '');
  const commit = readdirSync(checkout)[0] ?? '';
  const documents: RenderedDocument[] = [];
  const parser = new ParseWorkerPool();
  started = performance.now();
  await renderSource({
    source,
    checkout: join(checkout, commit),
    workDir: join(root, 'render-work'),
    limits: defaultRenderLimits,
    persist: null,
    parser,
    onDocuments: (chunk) => {
      for (const document of chunk) documents.push(document);
    },
  });
  const indexed = buildSnapshot(
    [{ source: 'bench', commit: 'bench', namespace: 'bench', documents }],
    'rendered',
  );
  const renderAndIndex = performance.now() - started;
  stall.disable();
  await parser.close();
  if (indexed.size !== count) throw new Error(`indexed ${indexed.size} of ${count} objects`);
  const peakRss = process.resourceUsage().maxRSS * 1024;

  // 3. Baseline: plain js-yaml (default schema) over the same files, on the main thread.
  started = performance.now();
  let parsed = 0;
  for (const file of files) parsed += loadAll(readFileSync(file, 'utf8')).length;
  const rawParse = performance.now() - started;
  if (parsed !== count) throw new Error(`raw parse found ${parsed} documents`);

  const longestStall = stall.max / 1e6;
  const ratio = renderAndIndex / rawParse;
  console.log(`provider start (clone + checkout + render + index): ${seconds(endToEnd)}`);
  console.log(`render + index of the checkout:                     ${seconds(renderAndIndex)}`);
  console.log(`plain js-yaml parse of the same files:              ${seconds(rawParse)}`);
  console.log(`ratio render+index / raw parse: ${ratio.toFixed(2)}x (target <= 2x)`);
  console.log(`peak RSS: ${mb(peakRss)} (target < 300 MB)`);
  console.log(
    `longest event-loop stall while rendering: ${longestStall.toFixed(1)} ms (target <= 50 ms)`,
  );
  const missed = [
    ratio > 2 ? 'ratio' : '',
    peakRss >= 300 * 1024 * 1024 ? 'RSS' : '',
    longestStall > 50 ? 'stall' : '',
  ].filter((target) => target !== '');
  console.log(missed.length === 0 ? 'all targets met' : `targets missed: ${missed.join(', ')}`);
  process.exitCode = missed.length === 0 ? 0 : 1;
} finally {
  rmSync(root, { recursive: true, force: true });
}
