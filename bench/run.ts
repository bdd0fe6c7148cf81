// `npm run bench`: every benchmark, each beside its baseline in the same run, printed as it goes
// and written to BENCHMARKS.md. Benchmarks are not tests: nothing here fails a build.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { benchAudit, formatAudit } from './audit.js';
import { benchDecide, formatDecide } from './decide.js';
import { benchDiff } from './diff.js';
import { benchHttp, formatHttp, HTTP_SECTION_INTRO } from './http.js';
import { formatResults } from './measure.js';
import { benchHeap, benchMemory, formatHeap, formatMemory } from './memory.js';
import { formatRefresh, type RefreshBenchResult } from './refresh.js';
import { benchScaling, formatScaling } from './scaling.js';
import { benchScan, formatScan } from './scan.js';
import { OPTIMISATIONS } from './optimisations.js';
import { HTTP_OPTIMISATIONS } from './optimisations-http.js';

const started = new Date();
const cpus = os.cpus();
const machine = [
  `- CPU: ${cpus[0]?.model ?? 'unknown'} × ${cpus.length}`,
  `- RAM: ${(os.totalmem() / 1024 ** 3).toFixed(1)} GB`,
  `- Node: ${process.version}; the benchmark files run under tsx, \`decide\` and the HTTP and Git servers run driftgate compiled as \`npm run build\` emits it, the audit and render benchmarks run the sources under tsx`,
  `- OS: ${os.type()} ${os.release()}`,
  `- Date: ${started.toISOString()}`,
  `- Load average when the run started: ${os
    .loadavg()
    .map((load) => load.toFixed(2))
    .join(', ')} (the machine is shared: absolute numbers drift, ratios within one section hold)`,
];
console.log(`driftgate benchmarks\n${machine.join('\n')}`);

const sections: { title: string; intro: string; body: string }[] = [];
function section(title: string, intro: string, body: string): void {
  console.log(`\n${title}\n${body}`);
  sections.push({ title, intro, body });
}

/** Runs a benchmark file in a process of its own (clean heap and RSS); returns its stdout. */
function ownProcess(file: string, args: readonly string[] = [], nodeArgs: string[] = []): string {
  const result = spawnSync(
    process.execPath,
    [
      ...nodeArgs,
      '--import',
      import.meta.resolve('tsx'),
      new URL(file, import.meta.url).pathname,
      ...args,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 },
  );
  if (result.error !== undefined) throw result.error;
  return result.stdout;
}

section(
  'Decision: `decide` per request',
  'Captured reviews against snapshots of 100, 10,000 and 100,000 objects (the captured manifests plus generated ConfigMaps), through `decide` compiled as `npm run build` emits it (bench/compiled.ts), and the denial once more as tsx runs the sources; the baseline is the snapshot lookup of the same key. Target: flat in snapshot size, < 50 µs median for a Deployment UPDATE.',
  formatDecide(await benchDecide()),
);

section(
  'Drift engine',
  'The diff of a real Deployment pair; the baseline is `structuredClone` of the live object, one walk of it.',
  formatResults(benchDiff(), 'baseline: structuredClone(live Deployment)'),
);

const http = await benchHttp(undefined, 5);
section(
  'HTTP: /validate and /mutate under load',
  HTTP_SECTION_INTRO,
  http.map(({ scenario, results }) => `${scenario.title}\n${formatHttp(results)}`).join('\n'),
);

section(
  'Scaling: latency and memory as reviews grow',
  'A ConfigMap (1 KB values) and a custom resource (a list of rules), each of about 10 KB, 100 KB and 1 MB, declared in Git beside 10,000 objects; a person changes one value (denied). One connection, 3 s each, against the no-op server with the same body; latencies to the microsecond. A review carries object and oldObject, so it is about twice the object.',
  formatScaling(await benchScaling(3)),
);

section(
  'Memory and readiness',
  "Each server in a process of its own, beside the floors it cannot go below: an empty Node process, one loading the libraries `driftgate serve` loads (express, prom-client, pino, js-yaml, simple-git, node-forge), with an idle worker thread besides, and with `@kubernetes/client-node` too (what serve loaded with a cluster to watch, before it read credentials, listed, watched and wrote Events on its own). `driftgate serve` with the bundled example as `npm start` runs it; 10,000 ConfigMaps one to a file, idle and under review load (16 connections, bench/load.ts, 10 s, RSS sampled every 250 ms), and again watching a cluster (a loopback API server over TLS, token in a kubeconfig, answering empty lists and watches); 100,000 ConfigMaps five to a file, ready from a cold render (clone, check out, render, first decision) and again after a restart on the persisted snapshot, and a one-file commit under review load (20 s) with the longest event-loop stall from the push to the first decision on it, beside the longest in the second or two of steady load before the push (not since the load began: its first moment, 16 TLS handshakes at once and the review path compiled, stalls the loop as no steady load does). The servers run driftgate compiled, under plain node (tsx's module hooks run in a thread of their own), with the young-generation cap `driftgate serve` sets and the collection it runs before it listens, each logging a line per decision as serve does (to /dev/null); they and the floors run with the environment the container image sets (the `ENV` lines of the Dockerfile: `MALLOC_ARENA_MAX=2`), the bundled example without it, as `npm start` runs it. Then the 10,000-object server restarted on its persisted snapshot with serve's young-generation limit at 2 MB (its own) and at 16 MB, taking turns, idle and under the same load (CPU per review from /proc); and each library serve imports, alone in an empty process and last after the others, after full collections. RSS is the largest of three samples a second apart once settled. Targets: example <= 100 MB; 10,000 objects under load <= 150 MB; 100,000 <= 500 MB, ready from the persisted snapshot <= 10 s, a one-file commit decided <= 1 s, no stall over 50 ms.",
  formatMemory(await benchMemory()),
);

section(
  'Where the memory goes',
  "bench/heap.ts: a ready driftgate that has answered one review, in a process of its own (plain node, `--expose-gc`, the image's environment), each heap figure after a full collection; the parts of the desired state measured by building one more of each with driftgate's own code from the persisted snapshot, the parse worker by its own heap statistics. 10,000 ConfigMaps one to a file, and 100,000 five to a file.",
  formatHeap([await benchHeap(10_000, 1), await benchHeap(100_000, 5)]),
);

const refreshOutput = ownProcess('refresh.ts', ['10000']);
const refreshLine = refreshOutput.split('\n').find((line) => line.startsWith('{"objects"'));
section(
  'Git: startup, commit to decision, event loop while re-rendering',
  'A real driftgate on a repository of 10,000 manifests (its own process); reviews over HTTPS. A one-file commit, a commit outside the source path (nothing to render again), and a commit that changes every file (all parsed again). The event-loop stall is measured with `monitorEventLoopDelay` while autocannon (8 connections, another process) sends denied reviews. Targets: one-file commit < 1 s, stall < 50 ms.',
  refreshLine === undefined
    ? `  did not finish:\n${refreshOutput}`
    : formatRefresh(JSON.parse(refreshLine) as RefreshBenchResult),
);

section(
  'Building a snapshot of 100,000 documents',
  "bench/snapshot-slices.ts: `buildSnapshot` and the deletion guard's key sets as they ran before, each in one go, beside the slices the provider builds a snapshot in now (1,000 documents per turn of the event loop), with the longest event-loop delay while it builds; in one process, five rounds.",
  ownProcess('snapshot-slices.ts').trimEnd(),
);

section(
  'Rendering 10,000 manifests from Git',
  'The Git provider end to end and render + index alone, beside plain js-yaml parsing of the same files on the main thread (its own process).',
  ownProcess('render.ts')
    .trimEnd()
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n'),
);

/** How long a soak warms up before its memory is expected to stay flat. */
const SOAK_WARM_UP_S = 120;
/** Flat: the last sample within this share of the first sample after warm-up. */
const SOAK_FLAT_SHARE = 0.05;

// Ten minutes, as the target says.
const soakSeconds = Number(process.env.BENCH_SOAK_SECONDS ?? '600');
const soakOutput = spawnSync(
  process.execPath,
  [
    '--expose-gc',
    '--import',
    import.meta.resolve('tsx'),
    new URL('soak.ts', import.meta.url).pathname,
  ],
  {
    encoding: 'utf8',
    env: { ...process.env, SOAK_SECONDS: String(soakSeconds) },
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 24,
  },
).stdout;
section(
  'Soak: memory with commits landing',
  `bench/soak.ts for ${soakSeconds} s (BENCH_SOAK_SECONDS; \`SOAK_SECONDS=600 npm run soak\` runs it alone): the real server in the benchmark's process at 100 reviews a second, a commit every 5 s, HPAs and namespace labels changing every second on the API test double; RSS and heap of that process (server, client and test double together) after a forced collection at the start and the end, and sampled during. Target: RSS flat once warm (after the first ${String(SOAK_WARM_UP_S)} s, or the first fifth of a shorter run, while the young generation, caches and connections settle), the last sample within ${String(SOAK_FLAT_SHARE * 100)}% of the first sample after warm-up.`,
  formatSoak(soakOutput),
);

section(
  'Audit: `driftgate audit --output json` on a 1 GB audit log',
  'A kube-apiserver audit log generated from the real fixture (new audit IDs, times, 200 namespaces, 50 people), beside plain line reading with readline; a tenth and a half of the same log first, to show whether memory stays constant as the log grows. Each in its own process; peak RSS from GNU time. Targets: peak RSS < 150 MB, within 20% from a tenth to all.',
  formatAudit(await benchAudit()),
);

section(
  'Scan: `driftgate scan` of 10,000 managed objects',
  'Ten namespaces of 1,000 ConfigMaps (1% drifted) on the API test double, which runs in the benchmark process; the scan (discovery, the facts it reads, paged LISTs of 500, the comparison of every object) and, as the baseline, a plain paged LIST of the same objects with the same reader, each in a process of its own, both at the default 20 requests a second; the median of 3 rounds, peak RSS from the process itself. The rate limit, not the comparison, sets the pace.',
  formatScan(await benchScan()),
);

/** The soak's JSON report as lines: counts, then RSS and heap from start to end and sampled. */
function formatSoak(output: string): string {
  // The report is printed from a `{` to a `}` on lines of their own: log lines may come before
  // it, and after it while the server stops.
  const start = output.search(/^\{$/m);
  const end = output.indexOf('\n}', start);
  if (start === -1 || end === -1) return `  did not finish:\n${output}`;
  const report = JSON.parse(output.slice(start, end + 2)) as {
    seconds: number;
    sent: number;
    ok: number;
    non200: number;
    torn: number;
    commitsLanded: number;
    commitsServed: number;
    rssMb: { start: number; end: number };
    heapMb: { start: number; end: number };
    samples: { atS: number; rssMb: number; heapMb: number }[];
  };
  return [
    `  ${report.seconds} s: ${report.sent} reviews, ${report.ok} answered 200, ${report.non200} other, ${report.torn} torn; ${report.commitsLanded} commits landed, ${report.commitsServed} served`,
    `  RSS ${report.rssMb.start} MB at the start, ${report.rssMb.end} MB at the end; heap used ${report.heapMb.start} → ${report.heapMb.end} MB`,
    `  samples (s: RSS MB / heap MB): ${report.samples.map((sample) => `${sample.atS}: ${sample.rssMb}/${sample.heapMb}`).join(', ')}`,
    soakFlatness(report.seconds, report.samples),
  ].join('\n');
}

/** RSS from the first sample after warm-up to the last, against the flatness target. */
function soakFlatness(seconds: number, samples: readonly { atS: number; rssMb: number }[]): string {
  const warmUp = Math.min(SOAK_WARM_UP_S, seconds / 5);
  const settled = samples.find((sample) => sample.atS >= warmUp);
  const last = samples.at(-1);
  if (settled === undefined || last === undefined || last === settled) {
    return '  too few samples after warm-up to judge flatness';
  }
  const growth = (last.rssMb - settled.rssMb) / settled.rssMb;
  const verdict = growth <= SOAK_FLAT_SHARE ? 'met' : 'MISSED';
  return `  once warm: RSS ${String(settled.rssMb)} MB at ${String(settled.atS)} s, ${String(last.rssMb)} MB at ${String(last.atS)} s (${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)}%; target: flat, within ${String(SOAK_FLAT_SHARE * 100)}%: ${verdict})`;
}

const seconds = ((Date.now() - started.getTime()) / 1000).toFixed(0);
const markdown = `# driftgate benchmarks

Generated by \`npm run bench\` (bench/run.ts) in ${seconds} s. Every figure sits beside its baseline
from the same run. Benchmarks are not tests: CI times nothing.

## Machine

${machine.join('\n')}

## How to reproduce

\`\`\`sh
npm ci
npm run bench                 # everything, writes this file (takes several minutes)
npx tsx bench/decide.ts       # one benchmark alone: decide, http [seconds], scaling [seconds],
npx tsx bench/refresh.ts      # memory [objects], refresh [objects], render [objects], audit [MB]
\`\`\`

Profiles: run a server alone with \`node --cpu-prof --import tsx bench/http-server.ts driftgate 10000\`,
load it with autocannon from another shell, stop it with Ctrl-C (SIGINT), and open the
\`.cpuprofile\` in Chrome DevTools.

${sections.map((s) => `## ${s.title}\n\n${s.intro}\n\n\`\`\`\n${s.body}\n\`\`\`\n`).join('\n')}
${OPTIMISATIONS}
${HTTP_OPTIMISATIONS}`;
// Formatted as the repository's lint expects every Markdown file to be.
const file = fileURLToPath(new URL('../BENCHMARKS.md', import.meta.url));
writeFileSync(file, await format(markdown, { ...(await resolveConfig(file)), parser: 'markdown' }));
console.log(`\nwritten: BENCHMARKS.md (${seconds} s)`);
