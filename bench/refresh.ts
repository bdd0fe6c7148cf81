// Benchmark: a real driftgate on a Git repository of 10,000 manifests, in this process, with
// review load from autocannon in another. Measures startup to ready, the time from a pushed one-file commit to decisions on the new commit (beside a
// commit that changes every file, which must all be parsed again), and the longest event-loop
// stall while the 10,000 objects are re-rendered under review load. Prints one JSON line. The
// process has the young-generation cap `driftgate serve` sets (its scavenges are what stall).
// Run alone: npx tsx bench/refresh.ts [count]
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import type { AdmissionReview } from '../src/kube/admission.js';
import type { Driftgate } from '../src/main.js';
import { importCompiled } from './compiled.js';

// The webhook as `npm run build` compiles it: what is measured is what ships, not tsx.
const { validateConfig } =
  await importCompiled<typeof import('../src/config/config.js')>('config/config.js');
const { startDriftgate } = await importCompiled<typeof import('../src/main.js')>('main.js');
const { capYoungGeneration } =
  await importCompiled<typeof import('../src/cli/young-generation.js')>('cli/young-generation.js');

export interface RefreshBenchResult {
  readonly objects: number;
  readonly startupMs: number;
  readonly oneFileCommitMs: number;
  /** A commit that changes no file under the source's path: served without a render. */
  readonly elsewhereCommitMs: number;
  readonly everyFileCommitMs: number;
  readonly idleStallMs: number;
  readonly rerenderStallMs: number;
  readonly reviewsDuringRerender: number;
}

const fixtures = new URL('../test/fixtures/captured/', import.meta.url);
const templates = ['svc-web.yaml', 'cm-web-config.yaml', 'sts-db.yaml'].map((name) =>
  readFileSync(new URL(`manifests/${name}`, fixtures), 'utf8'),
);
const deployment = readFileSync(new URL('manifests/deploy-web.yaml', fixtures), 'utf8');
const reviewBody = readFileSync(
  new URL('reviews/20-set-image-deployment-by-alice.validating.json', fixtures),
  'utf8',
);
const autocannon = createRequire(import.meta.url).resolve('autocannon/autocannon.js');

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

function validate(driftgate: Driftgate): Promise<AdmissionReview> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${driftgate.url}/validate`,
      {
        method: 'POST',
        ca: driftgate.caCert,
        headers: { 'content-type': 'application/json' },
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => {
          resolve(JSON.parse(text) as AdmissionReview);
        });
      },
    );
    req.on('error', reject);
    req.end(reviewBody);
  });
}

/** Asks driftgate, as the API server would, until an answer names `commit` (bounded). */
async function untilDecidedOn(driftgate: Driftgate, commit: string): Promise<void> {
  for (let tries = 0; tries < 6000; tries++) {
    const answer = await validate(driftgate);
    if (answer.response?.auditAnnotations?.['revision'] === commit) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`no decision on ${commit}`);
}

/** Milliseconds from asking for a refresh to decisions naming the commit at `work`'s HEAD. */
async function untilHeadDecided(
  driftgate: Driftgate,
  work: string,
  commit = git(work, 'rev-parse', 'HEAD'),
): Promise<number> {
  const started = performance.now();
  void driftgate.provider.refreshAll();
  await untilDecidedOn(driftgate, commit);
  return performance.now() - started;
}

/**
 * With BENCH_STALL_LOG set: each event-loop gap over 30 ms, to stderr, with its start and end on
 * the monotonic clock a CPU profile (--cpu-prof) uses, to find what ran in it.
 */
function logGaps(): void {
  let last = process.hrtime.bigint();
  setInterval(() => {
    const now = process.hrtime.bigint();
    const gap = Number(now - last) / 1e6;
    if (gap > 30)
      console.error(`stall ${Number(last / 1000n)} ${Number(now / 1000n)} ${gap.toFixed(1)}`);
    last = now;
  }, 5).unref();
}

export async function benchRefresh(count = 10_000): Promise<RefreshBenchResult> {
  const root = mkdtempSync(join(tmpdir(), 'driftgate-bench-refresh-'));
  try {
    const work = join(root, 'work');
    mkdirSync(join(work, 'apps'), { recursive: true });
    git(work, 'init', '--quiet', '--initial-branch=main');
    writeFileSync(join(work, 'apps', 'deploy-web.yaml'), deployment);
    for (let index = 1; index < count; index++) {
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
    const result = validateConfig({
      cacheDir: join(root, 'cache'),
      sources: [
        {
          name: 'shop',
          repoURL: `file://${work}`,
          revision: 'main',
          path: 'apps',
          namespace: 'shop',
          pollInterval: '1h',
        },
      ],
    });
    if ('errors' in result) throw new Error(JSON.stringify(result.errors));

    // With the young-generation cap `driftgate serve` sets, and its collection before serving.
    const youngGeneration = capYoungGeneration();
    const started = performance.now();
    const driftgate = await startDriftgate(result.config, {
      logger: pino({ level: 'error' }),
      host: '127.0.0.1',
      port: 0,
      beforeServing: () => {
        youngGeneration.releaseStartupMemory();
      },
    });
    const first = git(work, 'rev-parse', 'HEAD');
    await untilDecidedOn(driftgate, first);
    const startupMs = performance.now() - started;
    if (driftgate.provider.current().size !== count) throw new Error('not every object indexed');

    try {
      // One file: the Deployment the review is about gets a new image.
      writeFileSync(
        join(work, 'apps', 'deploy-web.yaml'),
        deployment.replace('web:1.4.2', 'web:1.4.3'),
      );
      git(work, 'commit', '--quiet', '-am', 'one file');
      const oneFileCommitMs = await untilHeadDecided(driftgate, work);

      // A file outside the source's path: nothing to render again.
      mkdirSync(join(work, 'docs'), { recursive: true });
      writeFileSync(join(work, 'docs', 'README.md'), 'The shop.\n');
      git(work, 'add', '-A');
      git(work, 'commit', '--quiet', '-m', 'elsewhere');
      const elsewhereCommitMs = await untilHeadDecided(driftgate, work);

      const stall = monitorEventLoopDelay({ resolution: 10 });
      if (process.env['BENCH_STALL_LOG'] !== undefined) logGaps();
      // Review load from another process for the rest of the run.
      const load = new Promise<number>((resolve, reject) => {
        const child = execFile(
          process.execPath,
          [
            autocannon,
            '--json',
            '-c',
            '8',
            '-d',
            '20',
            '-m',
            'POST',
            '-H',
            'content-type=application/json',
            '-b',
            reviewBody,
            `${driftgate.url}/validate`,
          ],
          { env: { ...process.env, NODE_TLS_REJECT_UNAUTHORIZED: '0' }, maxBuffer: 1 << 26 },
          (error, stdout) => {
            if (error !== null) reject(new Error(`autocannon failed: ${error.message}`));
            else resolve((JSON.parse(stdout) as { requests: { total: number } }).requests.total);
          },
        );
        child.stdin?.end();
      });
      await new Promise((resolve) => setTimeout(resolve, 3000));
      stall.enable();
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const idleStallMs = stall.max / 1e6;
      stall.reset();

      // Every file: a commit that must all be parsed again, under review load.
      for (let index = 1; index < count; index++) {
        const file = join(work, 'apps', `team-${index % 100}`, `manifest-${index}.yaml`);
        writeFileSync(file, `${readFileSync(file, 'utf8')}# every file\n`);
      }
      git(work, 'commit', '--quiet', '-am', 'every file');
      const everyFileCommit = git(work, 'rev-parse', 'HEAD');
      // Writing 10,000 files and running git ran synchronously in this process: that wait is the
      // benchmark's, not driftgate's.
      stall.reset();
      const everyFileCommitMs = await untilHeadDecided(driftgate, work, everyFileCommit);
      const rerenderStallMs = stall.max / 1e6;
      stall.disable();
      const reviewsDuringRerender = await load;
      return {
        objects: count,
        startupMs,
        oneFileCommitMs,
        elsewhereCommitMs,
        everyFileCommitMs,
        idleStallMs,
        rerenderStallMs,
        reviewsDuringRerender,
      };
    } finally {
      await driftgate.stop();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export function formatRefresh(r: RefreshBenchResult): string {
  const ms = (value: number): string => `${value.toFixed(0)} ms`;
  return [
    `  startup to the first decision, ${r.objects.toLocaleString('en')} objects (clone, check out, render, index): ${ms(r.startupMs)}`,
    `  pushed commit to decisions on it, one file changed:   ${ms(r.oneFileCommitMs)} (target < 1000 ms: ${r.oneFileCommitMs < 1000 ? 'met' : 'MISSED'})`,
    `  pushed commit to decisions on it, no file of the source changed: ${ms(r.elsewhereCommitMs)} (not rendered again)`,
    `  pushed commit to decisions on it, every file changed: ${ms(r.everyFileCommitMs)} (baseline: all parsed again); one file / every file ${(r.oneFileCommitMs / r.everyFileCommitMs).toFixed(2)}×`,
    `  longest event-loop stall under review load, idle: ${r.idleStallMs.toFixed(1)} ms; while ${r.objects.toLocaleString('en')} objects are re-rendered: ${r.rerenderStallMs.toFixed(1)} ms (target < 50 ms: ${r.rerenderStallMs < 50 ? 'met' : 'MISSED'}); ${r.reviewsDuringRerender} reviews answered during the load`,
  ].join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await benchRefresh(Number(process.argv[2] ?? 10_000))));
}
