// Argo CD on a hub cluster, driftgate on a spoke: Applications are read on the hub with the
// kubeconfig driftgate was given for it, and only those whose destination is this spoke judge
// writes here. Two loopback API servers stand for the two clusters.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../src/kube/object.js';
import type { Driftgate } from '../src/main.js';
import {
  captureLogger,
  createTestRepo,
  eventually,
  tempDir,
  type TestRepo,
} from './desired/git-fixture.js';
import { resourceTypes, startFakeApiServer, type FakeApiServer } from './support/fake-apiserver.js';
import { review } from './support/fixtures.js';
import { asUser } from './support/policy.js';
import { allowedBy, apiRequestOf, hubRbac, rolesIn } from './support/rbac.js';
import {
  postReview,
  shopApplication,
  shopFiles,
  startDiscoveringDriftgate,
} from './support/server.js';

const ARGOCD_MANAGER = 'system:serviceaccount:kube-system:argocd-manager';
const setImage = review('20-set-image-deployment-by-alice'); // web: 1.4.2 -> 1.5.0

let hub: FakeApiServer;
let spoke: FakeApiServer;
let repo: TestRepo;
let files: { path: string; cleanup: () => void };
let started: Awaited<ReturnType<typeof startDiscoveringDriftgate>>;
let driftgate: Driftgate;
let commit: string;
const log = captureLogger();

function application(name: string, destination: JsonObject): JsonObject {
  return shopApplication({ repoURL: repo.fileURL, revision: commit, name, destination });
}

beforeAll(async () => {
  [hub, spoke] = await Promise.all([startFakeApiServer(), startFakeApiServer()]);
  repo = createTestRepo();
  commit = repo.commit(shopFiles(), 'shop');
  files = tempDir('driftgate-hub-');
  const kubeconfigFile = join(files.path, 'hub.kubeconfig');
  writeFileSync(kubeconfigFile, hub.kubeconfigText(), { mode: 0o600 });
  started = await startDiscoveringDriftgate(
    { argocd: { hub: { kubeconfigFile, name: 'spoke-1' } } },
    spoke.connection(),
    log.logger,
  );
  driftgate = started.driftgate;
});

afterAll(async () => {
  await started.stop();
  await Promise.all([hub.stop(), spoke.stop()]);
  repo.cleanup();
  files.cleanup();
});

describe('Argo CD on a hub cluster', () => {
  it('an Application on the hub that deploys elsewhere judges nothing here', async () => {
    hub.put(resourceTypes.applications, application('shop-on-the-hub', { name: 'in-cluster' }));
    hub.put(resourceTypes.applications, application('shop-on-spoke-2', { name: 'spoke-2' }));
    // Discovery has mapped both, and said why it made no source of either.
    const skippedBoth = () =>
      log.lines().some((line) => line['msg'] === 'discovered sources' && line['problems'] === 2);
    expect(await eventually(() => Promise.resolve(skippedBoth()), 5_000)).toBe(true);
    const answer = await postReview(driftgate, 'validate', setImage);
    expect(answer.allowed).toBe(true);
    expect(answer.auditAnnotations?.source).toBeUndefined();
  });

  it('an Application on the hub that deploys to this spoke judges its writes', async () => {
    hub.put(resourceTypes.applications, application('shop', { name: 'spoke-1' }));
    expect(
      await eventually(async () => !(await postReview(driftgate, 'validate', setImage)).allowed),
    ).toBe(true);
    const denial = await postReview(driftgate, 'validate', setImage);
    expect(denial.auditAnnotations?.source).toMatch(/^argocd:argocd\/shop:/);
    expect(denial.status?.message).toContain(commit.slice(0, 12));
  });

  it('lets Argo CD write as the account it was given on this cluster', async () => {
    const byArgoCD = asUser(setImage, ARGOCD_MANAGER, ['system:serviceaccounts']);
    expect((await postReview(driftgate, 'validate', byArgoCD)).allowed).toBe(true);
  });

  it('needs on the hub exactly what deploy/hub grants, and uses all of it', () => {
    const roles = rolesIn([hubRbac]);
    const made = hub.requests.map((r) => apiRequestOf(r.method, r.path, r.query));
    for (const request of made)
      expect(allowedBy(roles, request), JSON.stringify(request)).toBe(true);
    for (const rule of roles.namespacedRules.get('argocd') ?? []) {
      for (const resource of rule.resources ?? [])
        expect(
          made.some((request) => request.resource === resource),
          resource,
        ).toBe(true);
    }
  });

  it('reads Applications on the hub only, and the spoke’s own objects on the spoke', () => {
    const argoPaths = (api: FakeApiServer) =>
      api.requests.filter((r) => r.path.includes('/argoproj.io/') || r.path.includes('argocd-cm'));
    expect(argoPaths(hub).length).toBeGreaterThan(0);
    expect(argoPaths(spoke)).toEqual([]);
    expect(spoke.requests.some((r) => r.path.endsWith('/horizontalpodautoscalers'))).toBe(true);
    expect(hub.requests.some((r) => r.path.endsWith('/horizontalpodautoscalers'))).toBe(false);
  });
});
