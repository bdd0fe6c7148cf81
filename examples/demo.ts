// `npm run demo`: starts driftgate on the example repository and replays real API-server
// reviews through /mutate and /validate, as a cluster would, then prints what was decided.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { exampleConfig } from '../src/example.js';
import type {
  AdmissionRequest,
  AdmissionResponse,
  AdmissionReview,
} from '../src/kube/admission.js';
import type { KubeObject } from '../src/kube/object.js';
import { startDriftgate, type Driftgate } from '../src/main.js';

const reviews = new URL('reviews/', import.meta.url);
const load = (file: string) =>
  (JSON.parse(readFileSync(new URL(file, reviews), 'utf8')) as { request: AdmissionRequest })
    .request;

function post(
  driftgate: Driftgate,
  path: string,
  req: AdmissionRequest,
): Promise<AdmissionResponse> {
  const body = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: req,
  });
  return new Promise((resolve, reject) => {
    const call = request(
      `${driftgate.url}${path}`,
      { method: 'POST', ca: driftgate.caCert, headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => {
          const parsed = JSON.parse(text) as AdmissionReview;
          if (parsed.response === undefined) reject(new Error(`${path}: ${text}`));
          else resolve(parsed.response);
        });
      },
    );
    call.on('error', reject);
    call.end(body);
  });
}

/** Mutate, apply the patch's annotation changes, validate: what the API server does. */
async function admit(
  driftgate: Driftgate,
  mutating: AdmissionRequest,
  validating: AdmissionRequest,
) {
  const mutation = await post(driftgate, '/mutate', mutating);
  let object = validating.object ?? null;
  const annotations: Record<string, string> = {};
  if (mutation.patch !== undefined && object !== null) {
    const patch = JSON.parse(Buffer.from(mutation.patch, 'base64').toString('utf8')) as Array<{
      op: string;
      path: string;
      value?: unknown;
    }>;
    const current = { ...(object.metadata?.annotations ?? {}) } as Record<string, string>;
    for (const op of patch) {
      if (op.path === '/metadata/annotations') Object.assign(current, op.value);
      const key = op.path
        .replace('/metadata/annotations/', '')
        .replaceAll('~1', '/')
        .replaceAll('~0', '~');
      if (op.op === 'add' && typeof op.value === 'string')
        current[key] = annotations[key] = op.value;
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- applying a JSON patch remove
      if (op.op === 'remove') delete current[key];
    }
    object = { ...object, metadata: { ...object.metadata, annotations: current } };
  }
  return {
    response: await post(driftgate, '/validate', { ...validating, object }),
    stamped: annotations,
  };
}

const cache = mkdtempSync(join(tmpdir(), 'driftgate-demo-'));
const driftgate = await startDriftgate(await exampleConfig(cache), {
  logger: pino({ level: 'silent' }),
  host: '127.0.0.1',
  port: 0,
});
const rows: string[][] = [];
const show = (step: string, who: string, response: AdmissionResponse) => {
  const decision = response.auditAnnotations?.decision ?? (response.allowed ? 'allowed' : 'denied');
  const lines = response.status?.message?.split('\n') ?? [];
  const detail = (lines[1] ?? lines[0])?.trim() ?? response.warnings?.[0] ?? '';
  rows.push([step, who, decision, detail.length > 90 ? `${detail.slice(0, 89)}…` : detail]);
};

try {
  const setImage = load('set-image-by-alice.json');
  show(
    'kubectl set image',
    'alice',
    (await admit(driftgate, load('set-image-by-alice.mutating.json'), setImage)).response,
  );
  show(
    'HPA controller scales',
    'horizontal-pod-autoscaler',
    await post(driftgate, '/validate', load('scale-by-hpa-controller.json')),
  );
  show(
    'Argo CD applies Git',
    'argocd-application-controller',
    await post(driftgate, '/validate', load('apply-by-argocd.json')),
  );
  show(
    'kubectl edit configmap',
    'alice',
    await post(driftgate, '/validate', load('edit-configmap-by-alice.json')),
  );
  show(
    'kubectl delete deployment',
    'alice',
    await post(driftgate, '/validate', load('delete-by-alice.json')),
  );

  const breakGlass = await admit(
    driftgate,
    load('break-glass-by-bob.mutating.json'),
    load('break-glass-by-bob.validating.json'),
  );
  show('kubectl annotate break-glass', 'bob (oncall)', breakGlass.response);
  // Bob's next write carries what the API server stored: the reason and driftgate's stamps.
  const underBreakGlass = (req: AdmissionRequest): AdmissionRequest => {
    const extra = { 'driftgate.io/break-glass': 'INC-42 rollback', ...breakGlass.stamped };
    const withStamps = (o: AdmissionRequest['object']): KubeObject | null =>
      o == null
        ? null
        : {
            ...o,
            metadata: { ...o.metadata, annotations: { ...o.metadata?.annotations, ...extra } },
          };
    return {
      ...req,
      userInfo: { username: 'bob@example.com', groups: ['oncall', 'system:authenticated'] },
      object: withStamps(req.object),
      oldObject: withStamps(req.oldObject),
    };
  };
  const bobSetsImage = await admit(
    driftgate,
    underBreakGlass(load('set-image-by-alice.mutating.json')),
    underBreakGlass(setImage),
  );
  show('kubectl set image (incident)', 'bob (oncall)', bobSetsImage.response);
} finally {
  await driftgate.stop();
  rmSync(cache, { recursive: true, force: true });
}

const header = ['write', 'by', 'decision', 'why'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
const line = (cells: string[]) =>
  cells
    .map((cell, i) => cell.padEnd(widths[i] ?? 0))
    .join('  ')
    .trimEnd();
console.log(line(header));
console.log(line(widths.map((w) => '-'.repeat(w))));
for (const row of rows) console.log(line(row));
