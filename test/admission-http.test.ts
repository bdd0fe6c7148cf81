// The real server over TLS with a real Git repository: reviews go in as the API server sends
// them, through /mutate then /validate with the patch applied in between.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdmissionRequest, AdmissionReview } from '../src/kube/admission.js';
import type { Driftgate } from '../src/main.js';
import type { JsonPatchOperation } from '../src/policy/mutate.js';
import { capturedManifests, type TestRepo } from './desired/git-fixture.js';
import { edited, review } from './support/fixtures.js';
import { applyPatch } from './support/json-patch.js';
import { send as sendHttps, type Reply } from './support/https.js';
import { getText, startTestServer, type TestServer } from './support/server.js';

let server: TestServer;
let driftgate: Driftgate;
let repo: TestRepo;
let commit: string;

beforeAll(async () => {
  server = await startTestServer();
  ({ driftgate, repo, commit } = server);
});

afterAll(async () => {
  await server.stop();
});

function send(
  path: string,
  body: string | Buffer | readonly Buffer[],
  contentType = 'application/json',
  method = 'POST',
  headers: Record<string, string> = {},
): Promise<Reply> {
  return sendHttps(`${driftgate.url}${path}`, body, {
    ca: driftgate.caCert,
    contentType,
    method,
    headers,
  });
}

const wrap = (request: AdmissionRequest) =>
  JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request });

async function post(
  webhook: 'validate' | 'mutate',
  request: AdmissionRequest,
): Promise<NonNullable<AdmissionReview['response']>> {
  const reply = await send(`/${webhook}?timeout=5s`, wrap(request));
  expect(reply.status).toBe(200);
  const parsed = JSON.parse(reply.body) as AdmissionReview;
  expect(parsed.apiVersion).toBe('admission.k8s.io/v1');
  expect(parsed.kind).toBe('AdmissionReview');
  expect(parsed.response?.uid).toBe(request.uid);
  return parsed.response!;
}

/** As the API server does it: mutate, apply the patch, then validate the result. */
async function admit(mutating: AdmissionRequest, validating: AdmissionRequest) {
  const mutation = await post('mutate', mutating);
  const patch: JsonPatchOperation[] =
    mutation.patch === undefined
      ? []
      : JSON.parse(Buffer.from(mutation.patch, 'base64').toString('utf8'));
  if (mutation.patch !== undefined) expect(mutation.patchType).toBe('JSONPatch');
  const object = validating.object == null ? null : applyPatch(validating.object, patch);
  return { patch, response: await post('validate', { ...validating, object }) };
}

describe('the admission server', () => {
  it('denies kubectl set image with a message naming field, values, file and commit', async () => {
    const { response } = await admit(
      review('20-set-image-deployment-by-alice', 'mutating'),
      review('20-set-image-deployment-by-alice'),
    );
    expect(response.allowed).toBe(false);
    expect(response.status?.code).toBe(403);
    expect(response.status?.message).toContain(
      'spec.template.spec.containers[name=app].image: Git has "registry.example.com/shop/web:1.4.2", the request has "registry.example.com/shop/web:1.5.0"',
    );
    expect(response.status?.message).toContain(`file apps/shop/deploy-web.yaml`);
    expect(response.status?.message).toContain(`commit ${commit.slice(0, 12)}`);
    expect(response.auditAnnotations).toEqual({
      decision: 'denied',
      drift: '["spec.template.spec.containers[name=app].image"]',
      source: 'shop:apps/shop/deploy-web.yaml',
      revision: commit,
      'protected-by': 'git',
    });
  });

  it('lets the sync identity through and says so in the audit annotations', async () => {
    const { response } = await admit(
      review('10-apply-create-deployment-by-argocd', 'mutating'),
      review('10-apply-create-deployment-by-argocd'),
    );
    expect(response).toMatchObject({ allowed: true, auditAnnotations: { decision: 'sync' } });
  });

  it('break-glass: bob sets the reason, driftgate stamps it, then bob’s change is allowed and recorded', async () => {
    const setReason = await admit(
      review('40-annotate-break-glass-deployment-by-bob', 'mutating'),
      review('40-annotate-break-glass-deployment-by-bob'),
    );
    expect(setReason.response.allowed).toBe(true);
    const stamps = Object.fromEntries(
      setReason.patch
        .filter((op) => op.op === 'add')
        .map((op) => [
          op.path.split('/').pop()!.replace('~1', '/'),
          (op as { value: string }).value,
        ]),
    );
    expect(Object.keys(stamps).sort()).toEqual([
      'driftgate.io/break-glass-at',
      'driftgate.io/break-glass-by',
      'driftgate.io/break-glass-expires',
    ]);
    expect(stamps['driftgate.io/break-glass-by']).toBe('bob@example.com');

    // Bob's next write carries the stamps the API server stored.
    const stamped = (request: AdmissionRequest): AdmissionRequest => ({
      ...request,
      userInfo: { username: 'bob@example.com', groups: ['oncall', 'system:authenticated'] },
      object: edited(request.object!, (o) =>
        Object.assign(o.metadata.annotations, {
          'driftgate.io/break-glass': 'INC-42 rollback',
          ...stamps,
        }),
      ),
      oldObject: edited(request.oldObject!, (o) =>
        Object.assign(o.metadata.annotations, {
          'driftgate.io/break-glass': 'INC-42 rollback',
          ...stamps,
        }),
      ),
    });
    const change = await admit(
      stamped(review('20-set-image-deployment-by-alice', 'mutating')),
      stamped(review('20-set-image-deployment-by-alice')),
    );
    expect(change.response.allowed).toBe(true);
    expect(change.response.auditAnnotations).toMatchObject({
      decision: 'break-glass',
      'break-glass-reason': 'INC-42 rollback',
    });
    expect(change.response.warnings?.[0]).toBe(
      'driftgate: allowed under break-glass (INC-42 rollback); this change is recorded',
    );
    // The mutating webhook recorded the drift on the object.
    expect(change.patch).toContainEqual({
      op: 'add',
      path: '/metadata/annotations/driftgate.io~1drift',
      value: '["spec.template.spec.containers[name=app].image"]',
    });
  });

  it('denies a DELETE and a scale, and decides dry-run requests the same way', async () => {
    expect((await post('validate', review('58-delete-deployment-by-alice'))).allowed).toBe(false);
    expect((await post('validate', review('27-scale-deployment-by-alice'))).allowed).toBe(false);
    expect(
      (await post('validate', review('55-delete-dryrun-server-deployment-by-alice'))).allowed,
    ).toBe(false);
  });

  it('never shows a Secret value', async () => {
    const response = await post('validate', review('62-patch-secret-data-by-alice'));
    expect(response.allowed).toBe(false);
    const text = JSON.stringify(response);
    expect(text).toContain('data.password');
    expect(text).not.toMatch(/s3cr3t|czNjcjN0/);
  });

  it('writes one decision log line per decision about a managed object', () => {
    const decisions = server.logLines().filter((line) => line.msg === 'decision');
    const denial = decisions.find(
      (line) => line.uid === review('20-set-image-deployment-by-alice').uid,
    );
    expect(denial).toMatchObject({
      v: 1,
      webhook: 'validate',
      user: 'alice@example.com',
      operation: 'UPDATE',
      kind: 'Deployment',
      namespace: 'shop',
      name: 'web',
      decision: 'denied',
      drift: ['spec.template.spec.containers[name=app].image'],
      commit,
    });
    expect(JSON.stringify(server.logLines())).not.toMatch(/s3cr3t|czNjcjN0/);
  });
});

describe('every captured write, through /mutate then /validate', () => {
  // The same expectations as the decision tables, now over HTTPS with a real Git repository.
  it.each([
    { label: '00-apply-create-namespace-shop-by-admin', decision: 'allowed' },
    { label: '10-apply-create-deployment-by-argocd', decision: 'sync' },
    { label: '21-edit-deployment-by-alice', decision: 'denied' },
    { label: '22-patch-merge-deployment-by-alice', decision: 'allowed' },
    { label: '23-patch-json-deployment-by-alice', decision: 'denied' },
    { label: '24-patch-strategic-deployment-by-alice', decision: 'denied' },
    { label: '25-label-deployment-by-alice', decision: 'allowed' },
    { label: '26-annotate-deployment-by-alice', decision: 'allowed' },
    { label: '27-scale-deployment-by-alice', decision: 'denied' },
    { label: '28-rollout-restart-deployment-by-alice', decision: 'allowed' },
    { label: '29-replace-deployment-by-alice', decision: 'denied' },
    { label: '30-apply-edited-deployment-by-alice', decision: 'denied' },
    { label: '31-apply-dryrun-server-deployment-by-alice', decision: 'denied' },
    { label: '41-set-image-deployment-by-bob', decision: 'allowed' },
    {
      label: '45-apply-serverside-create-configmap-by-flux',
      decision: 'allowed, not in Git: no record',
    },
    {
      label: '46-apply-serverside-update-configmap-by-flux',
      decision: 'allowed, not in Git: no record',
    },
    { label: '55-delete-dryrun-server-deployment-by-alice', decision: 'denied' },
    { label: '56-delete-orphan-deployment-by-alice', decision: 'denied' },
    { label: '57-apply-recreate-deployment-by-argocd', decision: 'sync' },
    { label: '60-edit-configmap-data-by-alice', decision: 'denied' },
    { label: '61-delete-configmap-by-alice', decision: 'denied' },
    { label: '63-edit-service-port-by-alice', decision: 'denied' },
    { label: '71-scale-statefulset-by-alice', decision: 'denied' },
    { label: '75-patch-widget-size-by-alice', decision: 'denied' },
    { label: '77-label-clusterrole-by-alice', decision: 'allowed' },
    { label: '78-label-namespace-by-alice', decision: 'allowed' },
    { label: '79-delete-hpa-by-argocd', decision: 'allowed, not in Git: no record' },
  ])('$label → $decision', async ({ label, decision }) => {
    const { response } = await admit(review(label, 'mutating'), review(label));
    expect(response.allowed).toBe(decision !== 'denied');
    if (decision.includes('no record')) expect(response.auditAnnotations).toBeUndefined();
    else expect(response.auditAnnotations?.decision).toBe(decision);
    if (decision === 'denied')
      expect(response.status).toMatchObject({ code: 403, reason: 'Forbidden' });
  });

  it.each([
    { label: 'controller-50-horizontal-pod-autoscaler-deployments-scale-update', stage: '' },
    { label: 'controller-10-deployment-controller-deployments-status-update', stage: '.2' },
    { label: 'controller-56-generic-garbage-collector-deployments-update', stage: '.2' },
  ])('the control plane passes: $label', async ({ label, stage }) => {
    const { response } = await admit(
      review(label, `mutating${stage}`),
      review(label, `validating${stage}`),
    );
    expect(response.allowed).toBe(true);
  });
});

describe('bad input gets a clear 4xx, never a crash and never an allow', () => {
  const valid = review('20-set-image-deployment-by-alice');
  it.each([
    {
      name: 'not JSON',
      body: () => '{"apiVersion":',
      type: 'application/json',
      status: 400,
      text: 'the body is not JSON',
    },
    {
      name: 'a wrong content type',
      body: () => wrap(valid),
      type: 'text/plain',
      status: 415,
      text: 'expected Content-Type: application/json',
    },
    {
      name: 'a v1beta1 review',
      body: () =>
        JSON.stringify({
          apiVersion: 'admission.k8s.io/v1beta1',
          kind: 'AdmissionReview',
          request: valid,
        }),
      type: 'application/json',
      status: 400,
      text: 'expected apiVersion admission.k8s.io/v1 and kind AdmissionReview (set admissionReviewVersions: [v1])',
    },
    {
      name: 'no uid',
      body: () => wrap({ ...valid, uid: '' }),
      type: 'application/json',
      status: 400,
      text: 'the review request has no uid',
    },
    {
      name: 'no request',
      body: () => JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }),
      type: 'application/json',
      status: 400,
      text: 'the review has no request',
    },
    {
      name: 'a body over 7 MiB',
      body: () => Buffer.alloc(7 * 1024 * 1024 + 10, 0x20),
      type: 'application/json',
      status: 413,
      text: 'the body is larger than 7340032 bytes',
    },
    {
      name: 'a compressed body (the API server never compresses one)',
      body: () => wrap(valid),
      type: 'application/json',
      headers: { 'content-encoding': 'gzip' },
      status: 415,
      text: 'unsupported Content-Encoding: gzip',
    },
  ])('$name → $status', async ({ body, type, status, text, ...rest }) => {
    const headers = 'headers' in rest ? rest.headers : {};
    const reply = await send('/validate', body(), type, 'POST', headers);
    expect(reply.status).toBe(status);
    expect(reply.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(reply.body).toBe(`${text}\n`);
  });

  it('a body over 7 MiB sent in chunks, without a length, is refused as it passes the limit', async () => {
    const megabyte = Buffer.alloc(1024 * 1024, 0x20);
    const reply = await send(
      '/validate',
      Array.from({ length: 8 }, () => megabyte),
    );
    expect(reply.status).toBe(413);
    expect(reply.body).toBe('the body is larger than 7340032 bytes\n');
  });

  it('a content type with parameters, in any letter case, is JSON', async () => {
    const reply = await send('/validate', wrap(valid), 'Application/JSON; charset=utf-8');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/json; charset=utf-8');
    const parsed = JSON.parse(reply.body) as AdmissionReview;
    expect(parsed.response?.uid).toBe(valid.uid);
    expect(parsed.response?.allowed).toBe(false);
  });

  it('a body just under 7 MiB is judged', async () => {
    const big = edited(
      valid.object!,
      (o) => (o.metadata.annotations['example.com/padding'] = 'x'.repeat(6 * 1024 * 1024)),
    );
    const response = await post('validate', { ...valid, object: big });
    expect(response.allowed).toBe(false);
  });
});

describe('operations endpoints', () => {
  it('healthz and readyz answer', async () => {
    expect(await send('/healthz', '', '', 'GET')).toMatchObject({ status: 200, body: 'ok\n' });
    expect(await send('/readyz', '', '', 'GET')).toMatchObject({ status: 200, body: 'ready\n' });
  });

  it('metrics count decisions and show the snapshot', async () => {
    const reply = await send('/metrics', '', '', 'GET');
    expect(reply.status).toBe(200);
    expect(reply.body).toMatch(
      /driftgate_decisions_total\{decision="denied",operation="UPDATE",kind="Deployment",webhook="validate"\} [1-9]/,
    );
    expect(reply.body).toMatch(/driftgate_snapshot_objects 11/);
    expect(reply.body).toMatch(/driftgate_source_stale\{source="shop"\} 0/);
    expect(reply.body).toMatch(/driftgate_event_loop_delay_seconds\{quantile="0.99"\} [0-9.e-]+/);
    expect(reply.body).toMatch(/driftgate_process_resident_memory_bytes [1-9]/);
    expect(reply.body).toMatch(/^driftgate_log_lines_dropped_total 0$/m);
  });

  it('metrics count the log lines dropped because standard output did not drain', async () => {
    const dropping = await startTestServer({ droppedLogLines: () => 3 });
    try {
      const reply = await getText(dropping.driftgate, '/metrics');
      expect(reply.body).toMatch(/^driftgate_log_lines_dropped_total 3$/m);
    } finally {
      await dropping.stop();
    }
  });

  it('a Git push notification triggers a refresh, and the new commit decides', async () => {
    const next = repo.commit(
      {
        'apps/shop/deploy-web.yaml': readFileSync(
          join(capturedManifests, 'deploy-web.yaml'),
          'utf8',
        ).replace('web:1.4.2', 'web:1.5.0'),
      },
      'release 1.5.0',
    );
    const push = JSON.stringify({
      ref: 'refs/heads/main',
      repository: { clone_url: repo.fileURL, default_branch: 'main' },
    });
    const reply = await send('/hooks/git', push, 'application/json', 'POST', {
      'x-github-event': 'push',
    });
    expect(reply.status).toBe(202);
    const deadline = Date.now() + 15_000;
    while (driftgate.provider.current().commits.shop !== next && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(driftgate.provider.current().commits.shop).toBe(next);
    const response = await post('validate', review('20-set-image-deployment-by-alice'));
    expect(response.allowed).toBe(true);
    expect(response.auditAnnotations).toMatchObject({ decision: 'allowed', revision: next });
  });
});
