// Before denying, a snapshot older than a few seconds is refreshed from Git, so a write that
// matches a commit pushed moments ago is not wrongly denied.
import { readFileSync, renameSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdmissionResponse, AdmissionReview } from '../src/kube/admission.js';
import type { Driftgate } from '../src/main.js';
import { capturedManifests, type TestRepo } from './desired/git-fixture.js';
import { review } from './support/fixtures.js';
import { startTestServer, type TestServer } from './support/server.js';

let server: TestServer;
let repo: TestRepo;
let driftgate: Driftgate;
let offsetMs = 0;
const deployment = readFileSync(join(capturedManifests, 'deploy-web.yaml'), 'utf8');

beforeAll(async () => {
  server = await startTestServer({
    manifests: ['deploy-web'],
    // Polling would pick the commit up by itself: make it rare, so only the refresh can.
    source: { pollInterval: '1h' },
    now: () => new Date(Date.now() + offsetMs),
    // A fetch and render take well under the default second, except on a loaded machine.
    refreshWaitMs: 30_000,
  });
  ({ driftgate, repo } = server);
});

afterAll(async () => {
  await server.stop();
});

function validate(label = '20-set-image-deployment-by-alice'): Promise<AdmissionResponse> {
  const body = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: review(label),
  });
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${driftgate.url}/validate`,
      { method: 'POST', ca: driftgate.caCert, headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => {
          resolve((JSON.parse(text) as AdmissionReview).response!);
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('refresh before deny', () => {
  it('a fresh snapshot is trusted: the denial stands without asking Git', async () => {
    repo.commit(
      { 'apps/shop/deploy-web.yaml': deployment.replace('web:1.4.2', 'web:1.5.0') },
      'release 1.5.0',
    );
    const response = await validate();
    expect(response.allowed).toBe(false);
  });

  it('once the snapshot is older than 5 s, the denial first fetches Git, and the new commit allows the write', async () => {
    const pushed = repo.commit(
      { 'apps/shop/deploy-web.yaml': deployment.replace('web:1.4.2', 'web:1.5.0') },
      'release 1.5.0 again',
    );
    offsetMs = 6_000;
    const response = await validate();
    expect(response.allowed).toBe(true);
    expect(response.auditAnnotations).toMatchObject({ decision: 'allowed', revision: pushed });
  });

  it('when Git is unreachable, the last good snapshot keeps deciding and the metrics say so', async () => {
    renameSync(repo.bare, `${repo.bare}.gone`);
    offsetMs = 20_000;
    // A denial asks Git first; Git is gone, so the last good commit decides.
    const response = await validate('21-edit-deployment-by-alice');
    expect(response.auditAnnotations).toMatchObject({ decision: 'denied' });
    const metrics = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest(`${driftgate.url}/metrics`, { ca: driftgate.caCert }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => {
          resolve(text);
        });
      });
      req.on('error', reject);
      req.end();
    });
    renameSync(`${repo.bare}.gone`, repo.bare);
    expect(metrics).toMatch(/driftgate_source_stale\{source="shop"\} 1/);
    expect(metrics).toMatch(
      /driftgate_source_last_error_timestamp_seconds\{source="shop",code="DRIFTGATE_ERR_GIT_FETCH"\} \d+/,
    );
  });
});
