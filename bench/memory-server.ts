// A driftgate for the memory benchmark, in a process of its own: the webhook as `npm run build`
// compiles it, with the young-generation cap `driftgate serve` sets and its log of decisions
// (to /dev/null), on a Git repository of N generated ConfigMaps (K to a file) plus the captured
// Deployment, its snapshot persisted in a cache directory that a second run reuses (a restart).
// Prints one JSON line when ready: {url, pid, readyMs, objects, origin}. On SIGUSR2 it commits a
// change to one file, waits for a review's answer to name that commit, and prints {commitMs,
// stallMs, idleStallMs}: the longest event-loop stall while it was rendered and swapped, and
// in the second or two before (review load comes from another process). With `cluster` it
// watches the cluster KUBECONFIG names, as a replica in a cluster does. Runs until killed.
// Its service log goes to stderr, at BENCH_LOG_LEVEL (default error). With BENCH_STALL_LOG set,
// each event-loop gap over 30 ms is printed to stderr with its start and end on the monotonic
// clock a CPU profile (--cpu-prof) uses, to find what ran in it.
// Usage: node bench/memory-server.ts <compiled src dir> <dir> <objects> <objects per file> [cluster]
//   [young-mb=N: serve's young-generation limit in MB instead of its own]
// Only erasable TypeScript here: bench/memory.ts strips the types and plain node runs it (from the
// repository's root), without tsx, whose module hooks
// run in a thread (a V8 isolate) of their own that `driftgate serve` does not have.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import type { AdmissionReview } from '../src/kube/admission.js';
import type { Driftgate } from '../src/main.js';

const [compiled = '', dir = '', objectsText = '10000', perFileText = '1', ...flags] =
  process.argv.slice(2);
const load = async <T>(path: string): Promise<T> =>
  (await import(pathToFileURL(join(compiled, path)).href)) as T;
const { validateConfig } = await load<typeof import('../src/config/config.js')>('config/config.js');
const { startDriftgate } = await load<typeof import('../src/main.js')>('main.js');
const { capYoungGeneration } =
  await load<typeof import('../src/cli/young-generation.js')>('cli/young-generation.js');
const { serviceLog } = await load<typeof import('../src/audit/log.js')>('audit/log.js');

const objects = Number(objectsText);
const perFile = Number(perFileText);
const fixtures = pathToFileURL(join(process.cwd(), 'test', 'fixtures', 'captured', '/'));
const deployment = readFileSync(new URL('manifests/deploy-web.yaml', fixtures), 'utf8');
const reviewBody = readFileSync(
  new URL('reviews/20-set-image-deployment-by-alice.validating.json', fixtures),
  'utf8',
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

const configMap = (index: number): string =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${index}\n  namespace: bench\n  labels:\n    app.kubernetes.io/name: bench\n    app.kubernetes.io/part-of: shop\ndata:\n  index: "${index}"\n  settings.yaml: |\n    replicas: 3\n    feature: on\n`;

const work = join(dir, 'repo');
if (!existsSync(work)) {
  mkdirSync(join(work, 'apps'), { recursive: true });
  git(work, 'init', '--quiet', '--initial-branch=main');
  writeFileSync(join(work, 'apps', 'deploy-web.yaml'), deployment);
  for (let first = 0; first < objects - 1; first += perFile) {
    const team = join(work, 'apps', `team-${(first / perFile) % 100}`);
    mkdirSync(team, { recursive: true });
    const documents: string[] = [];
    for (let index = first; index < Math.min(first + perFile, objects - 1); index++) {
      documents.push(configMap(index));
    }
    writeFileSync(join(team, `cm-${first}.yaml`), documents.join('---\n'));
  }
  git(work, 'add', '-A');
  git(work, 'commit', '--quiet', '-m', 'bench');
}

const result = validateConfig({
  cacheDir: join(dir, 'cache'),
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
  cluster: { watch: flags.includes('cluster') },
});
if ('errors' in result) throw new Error(JSON.stringify(result.errors));

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

async function untilDecidedOn(driftgate: Driftgate, commit: string): Promise<void> {
  for (let tries = 0; tries < 12_000; tries++) {
    const answer = await validate(driftgate);
    if (answer.response?.auditAnnotations?.['revision'] === commit) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`no decision on ${commit}`);
}

// A line per decision, as `driftgate serve` writes them (its batches and buffers), to /dev/null.
const decisionLog = serviceLog('info', openSync('/dev/null', 'a'));
const youngMb = flags.find((flag) => flag.startsWith('young-mb='))?.slice('young-mb='.length);
const youngGeneration = capYoungGeneration(
  youngMb === undefined ? undefined : Number(youngMb) * 1024 * 1024,
);
process.on('SIGINT', () => process.exit(0));
const started = performance.now();
const driftgate = await startDriftgate(result.config, {
  logger: pino({ level: process.env['BENCH_LOG_LEVEL'] ?? 'error' }, pino.destination(2)),
  decisionLog: decisionLog.decisions,
  droppedLogLines: decisionLog.droppedLines,
  host: '127.0.0.1',
  port: 0,
  beforeServing: () => {
    youngGeneration.releaseStartupMemory();
  },
});
await untilDecidedOn(driftgate, git(work, 'rev-parse', 'HEAD'));
const readyMs = performance.now() - started;
const stall = monitorEventLoopDelay({ resolution: 10 });
stall.enable();
// The floor beside the commit's stall: the longest stall of the last one to two seconds before
// the push, once the load is steady. Not since ready: a load's first moment (16 TLS handshakes
// at once, the review path compiled) stalls the loop as no steady load does.
const recent = monitorEventLoopDelay({ resolution: 10 });
recent.enable();
let recentMax = 0;
setInterval(() => {
  recentMax = recent.max;
  recent.reset();
}, 1_000).unref();
if (process.env['BENCH_STALL_LOG'] !== undefined) {
  // Each gap over 30 ms between 5 ms ticks, on the monotonic clock a CPU profile's times use.
  let last = process.hrtime.bigint();
  setInterval(() => {
    const now = process.hrtime.bigint();
    const gap = Number(now - last) / 1e6;
    if (gap > 30)
      console.error(
        `stall ${Number(last / 1000n)} ${Number(now / 1000n)} ${gap.toFixed(1)} at ${performance.now().toFixed(0)}`,
      );
    last = now;
  }, 5).unref();
}
console.log(
  JSON.stringify({
    url: driftgate.url,
    pid: process.pid,
    readyMs,
    objects: driftgate.provider.current().size,
    origin: driftgate.provider.current().origin,
  }),
);

let round = 0;
process.on('SIGUSR2', () => {
  void (async () => {
    const idleStallMs = Math.max(recentMax, recent.max) / 1e6;
    stall.reset();
    round += 1;
    const file = join(work, 'apps', 'deploy-web.yaml');
    writeFileSync(file, deployment.replace('web:1.4.2', `web:1.4.2-${round}`));
    git(work, 'commit', '--quiet', '-am', `one file, round ${round}`);
    const commit = git(work, 'rev-parse', 'HEAD');
    // The commit above ran git synchronously in this process: its wait is not driftgate's.
    stall.reset();
    const begun = performance.now();
    void driftgate.provider.refreshAll();
    await untilDecidedOn(driftgate, commit);
    const commitMs = performance.now() - begun;
    const stallMs = stall.max / 1e6;
    stall.reset();
    console.log(JSON.stringify({ commitMs, stallMs, idleStallMs }));
  })();
});
