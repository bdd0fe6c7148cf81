// Flux HelmRelease discovery end to end: a HelmRelease in the (loopback) cluster makes the
// service account helm-controller impersonates for it a sync identity for its objects only, and
// a person's write to one of them is denied naming the release and what it last released.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdmissionRequest } from '../src/kube/admission.js';
import type { JsonObject } from '../src/kube/object.js';
import { createTestRepo, eventually, type TestRepo } from './desired/git-fixture.js';
import { resourceTypes, startFakeApiServer, type FakeApiServer } from './support/fake-apiserver.js';
import { edited, review131 } from './support/fixtures.js';
import { asUser } from './support/policy.js';
import { postReview, shopFiles, startDiscoveringDriftgate } from './support/server.js';

const DEPLOYER = 'system:serviceaccount:shop:helm-app-deployer';

// helm-controller's writes as recorded (64b), with the namespace label helm-controller's
// origin-labels post-renderer adds beside the name label the capture carries.
const labelled = (object: unknown) =>
  edited(object as never, (d) => {
    d.metadata.labels['helm.toolkit.fluxcd.io/namespace'] = 'shop';
  });
const recorded = review131('64b-apply-update-deployment-helm-app-by-helm');
const upgrade: AdmissionRequest = {
  ...recorded,
  object: labelled(recorded.object),
  oldObject: labelled(recorded.oldObject),
};

const helmRelease: JsonObject = {
  apiVersion: 'helm.toolkit.fluxcd.io/v2',
  kind: 'HelmRelease',
  metadata: { name: 'helm-app', namespace: 'shop' },
  spec: {
    interval: '10m',
    serviceAccountName: 'helm-app-deployer',
    chart: {
      spec: {
        chart: 'helm-app',
        version: '1.x',
        sourceRef: { kind: 'HelmRepository', name: 'charts', namespace: 'flux-system' },
      },
    },
  },
  status: {
    history: [
      {
        chartName: 'helm-app',
        chartVersion: '1.2.0',
        configDigest: 'sha256:2c5b4b3f0f6a2b8e9d1c7e4a5f6b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b',
        digest: 'sha256:8e9d1c7e4a5f6b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b2c5b4b3f0f6a2b',
        firstDeployed: '2026-12-01T10:00:00Z',
        lastDeployed: '2026-12-06T10:00:00Z',
        name: 'helm-app',
        namespace: 'shop',
        status: 'deployed',
        version: 2,
      },
    ],
    lastAttemptedRevision: '1.2.0',
  },
};

let api: FakeApiServer;
let repo: TestRepo;
let started: Awaited<ReturnType<typeof startDiscoveringDriftgate>>;

beforeAll(async () => {
  api = await startFakeApiServer();
  // A Kustomization beside it, so that Git is rendered and writes are judged at all.
  repo = createTestRepo();
  const commit = repo.commit(shopFiles(), 'shop');
  started = await startDiscoveringDriftgate({ flux: { namespace: '*' } }, api.connection());
  api.put(resourceTypes.gitrepositories, {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name: 'shop', namespace: 'flux-system' },
    spec: { interval: '1m', url: repo.fileURL, ref: { branch: 'main' } },
  });
  api.put(resourceTypes.kustomizations, {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name: 'shop', namespace: 'flux-system' },
    spec: {
      interval: '10m',
      path: './apps/shop',
      prune: true,
      sourceRef: { kind: 'GitRepository', name: 'shop' },
      targetNamespace: 'shop',
    },
    status: { lastAppliedRevision: `main@sha1:${commit}` },
  });
});

afterAll(async () => {
  await started.stop();
  await api.stop();
  repo.cleanup();
});

const judged = (request: AdmissionRequest) => postReview(started.driftgate, 'validate', request);
const asDeployer = asUser(upgrade, DEPLOYER, ['system:serviceaccounts']);

describe('a Flux HelmRelease discovered in the cluster', () => {
  it('makes the service account it names a sync identity for its objects, once discovered', async () => {
    const alice = asUser(upgrade, 'alice@example.com', ['developers']);
    expect(await eventually(async () => !(await judged(alice)).allowed)).toBe(true);
    expect((await judged(asDeployer)).allowed).toBe(false);
    api.put(resourceTypes.helmreleases, helmRelease);
    expect(await eventually(async () => (await judged(asDeployer)).allowed)).toBe(true);
  });

  it('denies a person’s write, naming the HelmRelease and its release', async () => {
    const denial = await judged(asUser(upgrade, 'alice@example.com', ['developers']));
    expect(denial.allowed).toBe(false);
    expect(denial.status?.message).toContain(
      'deployed by Flux HelmRelease shop/helm-app (helm-app@1.2.0, Helm release shop/helm-app.v2)',
    );
    expect(denial.auditAnnotations?.revision).toBe('helm-app@1.2.0, Helm release shop/helm-app.v2');
  });

  it('once the HelmRelease is gone, its account syncs nothing', async () => {
    api.remove(resourceTypes.helmreleases, 'shop', 'helm-app');
    expect(await eventually(async () => !(await judged(asDeployer)).allowed)).toBe(true);
  });
});
