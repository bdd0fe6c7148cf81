// The horizontal model: replicas share nothing but the Git repository. Two real servers, each
// with its own cache directory, answer the same captured reviews the same way, and while a
// commit lands each answer is the answer of exactly one commit.
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config/config.js';
import type { AdmissionResponse, AdmissionReview } from '../src/kube/admission.js';
import { startDriftgate, type Driftgate } from '../src/main.js';
import {
  capturedManifests,
  createTestRepo,
  tempDir,
  type TestRepo,
} from './desired/git-fixture.js';
import { review } from './support/fixtures.js';
import { SHOP_MANIFESTS } from './support/policy.js';

// Writes to objects Git manages, so every answer names the commit it was decided on.
const REVIEWS = [
  '20-set-image-deployment-by-alice',
  '11-apply-unchanged-deployment-by-argocd',
  '21-edit-deployment-by-alice',
  '27-scale-deployment-by-alice',
  '58-delete-deployment-by-alice',
  '60-edit-configmap-data-by-alice',
  '63-edit-service-port-by-alice',
];
const REVISION = 'revision';

let repo: TestRepo;
let first: string;
let second: string;
const replicas: Driftgate[] = [];
const cleanups: (() => void)[] = [];

async function startReplica(): Promise<Driftgate> {
  const cache = tempDir('driftgate-replica-');
  cleanups.push(cache.cleanup);
  const result = validateConfig({
    cacheDir: cache.path,
    sources: [
      {
        name: 'shop',
        repoURL: repo.fileURL,
        revision: 'main',
        path: 'apps/shop',
        namespace: 'shop',
        // Only the test moves a replica to a new commit.
        pollInterval: '1h',
      },
    ],
    breakGlass: { groups: ['oncall'], ttl: '4h' },
  });
  if ('errors' in result) throw new Error(JSON.stringify(result.errors));
  return startDriftgate(result.config, {
    logger: pino({ level: 'silent' }),
    host: '127.0.0.1',
    port: 0,
  });
}

function validate(replica: Driftgate, label: string): Promise<AdmissionResponse> {
  const body = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: review(label),
  });
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${replica.url}/validate`,
      {
        method: 'POST',
        ca: replica.caCert,
        headers: { 'content-type': 'application/json' },
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => {
          const response = (JSON.parse(text) as AdmissionReview).response;
          if (response === undefined) reject(new Error(`no response: ${text}`));
          else resolve(response);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

const commitOf = (response: AdmissionResponse): string | undefined =>
  response.auditAnnotations?.[REVISION];

/** Every review answered by `replica`, by label. */
async function answers(replica: Driftgate): Promise<Map<string, AdmissionResponse>> {
  const pairs = await Promise.all(
    REVIEWS.map(async (label) => [label, await validate(replica, label)] as const),
  );
  return new Map(pairs);
}

beforeAll(async () => {
  repo = createTestRepo();
  first = repo.commit(
    Object.fromEntries(
      SHOP_MANIFESTS.map((name) => [
        `apps/shop/${name}.yaml`,
        readFileSync(join(capturedManifests, `${name}.yaml`), 'utf8'),
      ]),
    ),
    'shop manifests',
  );
  replicas.push(await startReplica(), await startReplica());
});

afterAll(async () => {
  await Promise.all(replicas.map((replica) => replica.stop()));
  for (const cleanup of cleanups) cleanup();
  repo.cleanup();
});

describe('two replicas on one Git repository', () => {
  const onFirst = new Map<string, AdmissionResponse>();

  it('give identical answers at the same commit', async () => {
    const [a, b] = replicas;
    if (a === undefined || b === undefined) throw new Error('replicas did not start');
    const [fromA, fromB] = [await answers(a), await answers(b)];
    expect(fromB).toEqual(fromA);
    for (const [label, response] of fromA) {
      expect(commitOf(response), label).toBe(first);
      onFirst.set(label, response);
    }
    // The set of answers is not trivial: Git's image is denied, Argo CD is let through.
    expect(fromA.get('20-set-image-deployment-by-alice')?.allowed).toBe(false);
    expect(fromA.get('11-apply-unchanged-deployment-by-argocd')?.allowed).toBe(true);
  });

  it('answer as of exactly one commit while a commit lands, then agree again', async () => {
    const [a, b] = replicas;
    if (a === undefined || b === undefined) throw new Error('replicas did not start');
    const deployment = readFileSync(join(capturedManifests, 'deploy-web.yaml'), 'utf8');
    // The release alice's `kubectl set image` anticipated: Git now has web:1.5.0.
    second = repo.commit(
      { 'apps/shop/deploy-web.yaml': deployment.replace('web:1.4.2', 'web:1.5.0') },
      'release 1.5.0',
    );

    // A moves first; B still serves the first commit (or refreshes by itself before a denial).
    await a.provider.refreshAll();
    const during: AdmissionResponse[] = [];
    during.push(...(await answers(a)).values(), ...(await answers(b)).values());
    // Now B moves while both keep answering, a bounded number of rounds.
    const landing = b.provider.refreshAll();
    const progress = { landed: false };
    void landing.then(() => (progress.landed = true));
    for (let round = 0; round < 20 && !progress.landed; round++) {
      during.push(...(await answers(b)).values());
    }
    await landing;

    const [fromA, fromB] = [await answers(a), await answers(b)];
    expect(fromB).toEqual(fromA);
    for (const [label, response] of fromA) expect(commitOf(response), label).toBe(second);
    expect(fromA.get('20-set-image-deployment-by-alice')?.allowed).toBe(true);

    // Each answer given meanwhile is the one its commit gives, never a mix of the two.
    const byCommit = new Map([
      [first, onFirst],
      [second, fromA],
    ]);
    const labelOf = new Map(REVIEWS.map((label) => [review(label).uid, label]));
    for (const response of during) {
      const reference = byCommit.get(commitOf(response) ?? '');
      expect(reference, `answer names ${String(commitOf(response))}`).toBeDefined();
      expect(response).toEqual(reference?.get(labelOf.get(response.uid) ?? ''));
    }
  });
});
