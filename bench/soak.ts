// Soak: the real server for minutes at a steady rate, with commits landing in Git and HPAs and
// namespace labels changing in the (loopback) cluster meanwhile. It checks what an admin relies
// on: every answer is a 200 AdmissionReview, every answer names one commit that was being
// served at some instant during its request (no torn snapshot), and memory stays flat.
// `npm run soak` (SOAK_SECONDS, default 180, 600 for ten minutes; SOAK_RATE requests per second,
// default 100).
import { Agent, request as httpsRequest } from 'node:https';
import pino from 'pino';
import type { AdmissionRequest, AdmissionReview } from '../src/kube/admission.js';
import { capYoungGeneration } from '../src/cli/young-generation.js';
import { resourceTypes, startFakeApiServer } from '../test/support/fake-apiserver.js';
import { review } from '../test/support/fixtures.js';
import { startTestServer } from '../test/support/server.js';

const seconds = Number(process.env.SOAK_SECONDS ?? '180');
const rate = Number(process.env.SOAK_RATE ?? '100');
const commitEveryMs = 5_000;
const clusterChangeEveryMs = 1_000;

const REVIEWS: readonly { webhook: 'validate' | 'mutate'; request: AdmissionRequest }[] = [
  { webhook: 'validate', request: review('20-set-image-deployment-by-alice') },
  { webhook: 'mutate', request: review('20-set-image-deployment-by-alice', 'mutating') },
  { webhook: 'validate', request: review('27-scale-deployment-by-alice') },
  {
    webhook: 'validate',
    request: review('controller-50-horizontal-pod-autoscaler-deployments-scale-update'),
  },
  { webhook: 'validate', request: review('30-apply-edited-deployment-by-alice') },
];

// As `driftgate serve` does for its process.
capYoungGeneration();
const api = await startFakeApiServer();
const server = await startTestServer({
  source: { pollInterval: '1s' },
  connection: api.connection(),
  logger: pino({ level: 'warn' }),
});
const { driftgate, repo } = server;
const commits: string[] = [server.commit];

// The commit being served, as seen between requests: a response may name any commit served
// from just before its request was sent to just after its answer arrived.
const servedCommit = () => driftgate.provider.current().commits.shop ?? '';
const agent = new Agent({ keepAlive: true, maxSockets: 16, ca: driftgate.caCert });

function post(
  webhook: string,
  request: AdmissionRequest,
): Promise<{ status: number; body: string }> {
  const body = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request,
  });
  return new Promise((resolve) => {
    const req = httpsRequest(
      `${driftgate.url}/${webhook}?timeout=10s`,
      { method: 'POST', agent, headers: { 'content-type': 'application/json' }, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        });
      },
    );
    req.on('error', (error) => {
      resolve({ status: 0, body: error.message });
    });
    req.end(body);
  });
}

const counts = {
  sent: 0,
  ok: 0,
  non200: 0,
  malformed: 0,
  torn: 0,
  commitsLanded: 0,
  clusterChanges: 0,
};
const served = new Set<string>();
const rssMb = () => Math.round(process.memoryUsage.rss() / 1048576);
const heapMb = () => Math.round(process.memoryUsage().heapUsed / 1048576);

async function one(index: number): Promise<void> {
  const chosen = REVIEWS[index % REVIEWS.length];
  if (chosen === undefined) return;
  const { webhook, request } = chosen;
  const before = commits.indexOf(servedCommit());
  counts.sent += 1;
  const reply = await post(webhook, { ...request, uid: `soak-${index}` });
  const after = commits.indexOf(servedCommit());
  served.add(servedCommit());
  if (reply.status !== 200) {
    counts.non200 += 1;
    return;
  }
  const parsed = JSON.parse(reply.body) as AdmissionReview;
  if (parsed.response?.uid !== `soak-${index}`) {
    counts.malformed += 1;
    return;
  }
  counts.ok += 1;
  const revision = parsed.response.auditAnnotations?.revision;
  if (revision !== undefined) {
    const named = commits.indexOf(revision);
    if (named < before || named > after) counts.torn += 1;
  }
}

const landCommits = setInterval(() => {
  const n = commits.length;
  commits.push(
    repo.commit(
      {
        [`apps/shop/soak-${n % 3}.yaml`]: `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: soak-${n % 3}\n  namespace: shop\ndata:\n  round: "${n}"\n`,
      },
      `round ${n}`,
    ),
  );
  counts.commitsLanded += 1;
}, commitEveryMs);

let flip = false;
const changeCluster = setInterval(() => {
  flip = !flip;
  const hpa = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'web', namespace: 'shop' },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      minReplicas: 2,
      maxReplicas: 6,
    },
  };
  if (flip) api.put(resourceTypes.hpas, hpa);
  else api.remove(resourceTypes.hpas, 'shop', 'web');
  api.put(resourceTypes.namespaces, {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'shop', labels: { 'driftgate.io/mode': flip ? 'warn' : 'enforce' } },
  });
  counts.clusterChanges += 2;
}, clusterChangeEveryMs);

// Warm up, then measure memory from a steady state.
for (let i = 0; i < 500; i++) await one(i);
global.gc?.();
const startRss = rssMb();
const startHeap = heapMb();
const started = Date.now();
const inFlight = new Set<Promise<void>>();
let index = 500;
const samples: { atS: number; rssMb: number; heapMb: number }[] = [];
let nextSample = started;
while (Date.now() - started < seconds * 1000) {
  const due = started + ((index - 500) * 1000) / rate;
  const wait = due - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  const pending = one(index++).finally(() => inFlight.delete(pending));
  inFlight.add(pending);
  if (Date.now() >= nextSample) {
    samples.push({
      atS: Math.round((Date.now() - started) / 1000),
      rssMb: rssMb(),
      heapMb: heapMb(),
    });
    // A tenth of the run apart, at most 30 s: a short soak still shows whether memory grows.
    nextSample += Math.min(30_000, (seconds * 1000) / 10);
  }
}
await Promise.all(inFlight);
clearInterval(landCommits);
clearInterval(changeCluster);
global.gc?.();
const report = {
  seconds,
  ratePerSecond: rate,
  ...counts,
  commitsMade: commits.length,
  commitsServed: served.size,
  rssMb: { start: startRss, end: rssMb() },
  heapMb: { start: startHeap, end: heapMb() },
  samples,
};
console.log(JSON.stringify(report, null, 2));
agent.destroy();
await server.stop();
await api.stop();
// Commits that were never served would make the torn-snapshot check vacuous.
process.exit(counts.non200 + counts.malformed + counts.torn === 0 && served.size > 1 ? 0 : 1);
