// Argo CD discovery end to end: an Application in the (loopback) cluster points at a real Git
// repository; driftgate renders it at the revision Argo CD synced and judges writes with it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdmissionRequest } from '../src/kube/admission.js';
import type { JsonObject } from '../src/kube/object.js';
import type { Driftgate } from '../src/main.js';
import { createTestRepo, eventually, type TestRepo } from './desired/git-fixture.js';
import { resourceTypes, startFakeApiServer, type FakeApiServer } from './support/fake-apiserver.js';
import { review } from './support/fixtures.js';
import { asUser } from './support/policy.js';
import {
  postReview,
  shopApplication,
  shopFiles,
  startDiscoveringDriftgate,
} from './support/server.js';

const CONTROLLER = 'system:serviceaccount:argocd:argocd-application-controller';
const setImage = review('20-set-image-deployment-by-alice'); // web: 1.4.2 -> 1.5.0

let api: FakeApiServer;
let repo: TestRepo;
let driftgate: Driftgate;
let synced: string; // Git says 1.4.2
let newer: string; // Git says 1.5.0
let head: string; // Git says 9.9.9, not synced by Argo CD yet

let started: Awaited<ReturnType<typeof startDiscoveringDriftgate>>;

beforeAll(async () => {
  api = await startFakeApiServer();
  repo = createTestRepo();
  const manifests = shopFiles();
  synced = repo.commit(manifests, 'shop');
  const web = manifests['apps/shop/deploy-web.yaml'] ?? '';
  newer = repo.commit({ 'apps/shop/deploy-web.yaml': web.replace('web:1.4.2', 'web:1.5.0') });
  head = repo.commit({ 'apps/shop/deploy-web.yaml': web.replace('web:1.4.2', 'web:9.9.9') });
  started = await startDiscoveringDriftgate({ argocd: { namespace: 'argocd' } }, api.connection());
  driftgate = started.driftgate;
});

afterAll(async () => {
  await started.stop();
  await api.stop();
  repo.cleanup();
});

function application(revision: string, spec: JsonObject = {}): JsonObject {
  return shopApplication({ repoURL: repo.fileURL, revision, spec });
}

async function judged(request: AdmissionRequest) {
  return postReview(driftgate, 'validate', request);
}
describe('an Argo CD Application discovered in the cluster', () => {
  it('is rendered at the revision Argo CD synced, not at the branch head', async () => {
    api.put(resourceTypes.applications, application(synced));
    expect(await eventually(async () => !(await judged(setImage)).allowed)).toBe(true);
    const denial = await judged(setImage);
    expect(denial.status?.message).toContain('Git has "registry.example.com/shop/web:1.4.2"');
    expect(denial.status?.message).toContain(synced.slice(0, 12));
    expect(denial.auditAnnotations?.source).toMatch(/^argocd:argocd\/shop:/);
  });

  it('lets its application controller write, and nobody else through that', async () => {
    expect((await judged(asUser(setImage, CONTROLLER, ['system:serviceaccounts']))).allowed).toBe(
      true,
    );
    expect((await judged(setImage)).allowed).toBe(false);
  });

  it('follows a sync to a new revision', async () => {
    api.put(resourceTypes.applications, application(newer));
    expect(await eventually(async () => (await judged(setImage)).allowed)).toBe(true);
    expect((await judged(setImage)).auditAnnotations?.revision).toBe(newer);
    expect(head).not.toBe(newer);
  });

  it('honours its ignoreDifferences for its objects', async () => {
    api.put(resourceTypes.applications, application(synced));
    expect(await eventually(async () => !(await judged(setImage)).allowed)).toBe(true);
    api.put(
      resourceTypes.applications,
      application(synced, {
        ignoreDifferences: [
          { group: 'apps', kind: 'Deployment', jsonPointers: ['/spec/template/spec/containers'] },
        ],
      }),
    );
    expect(await eventually(async () => (await judged(setImage)).allowed)).toBe(true);
  });

  it('honours the differences argocd-cm ignores for every Application', async () => {
    api.put(resourceTypes.applications, application(synced));
    expect(await eventually(async () => !(await judged(setImage)).allowed)).toBe(true);
    api.put(resourceTypes.configmaps, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'argocd-cm', namespace: 'argocd' },
      data: {
        'resource.customizations.ignoreDifferences.apps_Deployment':
          "jqPathExpressions:\n- '.spec.template.spec.containers[]?.image'\n",
      },
    });
    expect(await eventually(async () => (await judged(setImage)).allowed)).toBe(true);
    api.remove(resourceTypes.configmaps, 'argocd', 'argocd-cm');
    expect(await eventually(async () => !(await judged(setImage)).allowed)).toBe(true);
  });

  it('once it is deleted, Git no longer judges its objects; what Argo CD applied still does', async () => {
    api.remove(resourceTypes.applications, 'argocd', 'shop');
    expect(
      await eventually(
        async () => (await judged(setImage)).auditAnnotations?.['protected-by'] === 'sync-record',
      ),
    ).toBe(true);
    // The object keeps Argo CD's tracking annotation and the fields argocd-controller applied:
    // until they are gone, that record protects it (a new Application adopts it as it is).
    const after = await judged(setImage);
    expect(after.auditAnnotations?.source).toMatch(/^Argo CD Application shop:/);
    expect(after.allowed).toBe(false);
    expect(after.status?.message).toContain('from what the sync tool applied');
  });
});
