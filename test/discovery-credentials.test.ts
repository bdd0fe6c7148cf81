// Argo CD's repository credentials lent to discovery, end to end: an Application in the
// (loopback) cluster points at a private repository behind a real Git smart-HTTP server with
// Basic auth over TLS; the credential comes from a repo-creds Secret, and follows its rotation.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../src/kube/object.js';
import type { Driftgate } from '../src/main.js';
import { captureLogger, createTestRepo, eventually, type TestRepo } from './desired/git-fixture.js';
import { resourceTypes, startFakeApiServer, type FakeApiServer } from './support/fake-apiserver.js';
import { review } from './support/fixtures.js';
import { startGitHttpsServer, type GitHttpsServer } from './support/git-https.js';
import {
  postReview,
  shopApplication,
  shopFiles,
  startDiscoveringDriftgate,
} from './support/server.js';

const FIRST_PASSWORD = 'first-token-7f3a9c';
const ROTATED_PASSWORD = 'rotated-token-b81d42';
const setImage = review('20-set-image-deployment-by-alice'); // web: 1.4.2 -> 1.5.0

let api: FakeApiServer;
let repo: TestRepo;
let git: GitHttpsServer;
let driftgate: Driftgate;
let started: Awaited<ReturnType<typeof startDiscoveringDriftgate>>;
let log: ReturnType<typeof captureLogger>;
let savedCAInfo: string | undefined;
let first: string; // Git says 1.4.2
let second: string; // Git says 1.5.0

function repoCredentials(password: string): JsonObject {
  const data = { type: 'git', url: git.url(''), username: 'argocd', password };
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'private-git',
      namespace: 'argocd',
      labels: { 'argocd.argoproj.io/secret-type': 'repo-creds' },
    },
    type: 'Opaque',
    data: Object.fromEntries(
      Object.entries(data).map(([key, value]) => [key, Buffer.from(value).toString('base64')]),
    ),
  };
}

function application(revision: string): JsonObject {
  return shopApplication({ repoURL: git.url('ops.git'), revision });
}

beforeAll(async () => {
  api = await startFakeApiServer();
  repo = createTestRepo('ops');
  const manifests = shopFiles();
  first = repo.commit(manifests, 'shop');
  const web = manifests['apps/shop/deploy-web.yaml'] ?? '';
  second = repo.commit({ 'apps/shop/deploy-web.yaml': web.replace('web:1.4.2', 'web:1.5.0') });
  git = await startGitHttpsServer({
    projectRoot: repo.base,
    username: 'argocd',
    password: FIRST_PASSWORD,
  });
  // The Git server's certificate comes from a private CA, as an admin would mount it.
  savedCAInfo = process.env['GIT_SSL_CAINFO'];
  process.env['GIT_SSL_CAINFO'] = git.caFile;
  log = captureLogger();
  started = await startDiscoveringDriftgate(
    { argocd: { namespace: 'argocd', repoCredentials: true } },
    api.connection(),
    log.logger,
  );
  driftgate = started.driftgate;
});

afterAll(async () => {
  await started.stop();
  await git.close();
  await api.stop();
  if (savedCAInfo === undefined) delete process.env['GIT_SSL_CAINFO'];
  else process.env['GIT_SSL_CAINFO'] = savedCAInfo;
  repo.cleanup();
});

/** Every file under the cache's credentials directory, with its content and mode. */
function credentialFiles(): { content: string; mode: number }[] {
  const root = join(started.cacheDir, 'credentials');
  const found: { content: string; mode: number }[] = [];
  let secrets: string[];
  try {
    secrets = readdirSync(root);
  } catch {
    return found;
  }
  for (const secret of secrets) {
    for (const name of readdirSync(join(root, secret))) {
      const file = join(root, secret, name);
      found.push({ content: readFileSync(file, 'utf8'), mode: statSync(file).mode & 0o777 });
    }
  }
  return found;
}

describe('a private repository, with Argo CD’s repository credentials', () => {
  it('is cloned with the repo-creds Secret whose URL is its prefix, and judges writes', async () => {
    api.put(resourceTypes.secrets, repoCredentials(FIRST_PASSWORD));
    api.put(resourceTypes.applications, application(first));
    expect(
      await eventually(async () => !(await postReview(driftgate, 'validate', setImage)).allowed),
    ).toBe(true);
    const denial = await postReview(driftgate, 'validate', setImage);
    expect(denial.status?.message).toContain('Git has "registry.example.com/shop/web:1.4.2"');
    expect(denial.auditAnnotations?.revision).toBe(first);
    expect(git.requests.authenticated).toBeGreaterThan(0);
    expect(credentialFiles()).toContainEqual({ content: FIRST_PASSWORD, mode: 0o600 });
  });

  it('follows the Secret when the password is rotated', async () => {
    git.setPassword(ROTATED_PASSWORD);
    api.put(resourceTypes.secrets, repoCredentials(ROTATED_PASSWORD));
    // Argo CD syncs a new commit: fetching it needs the new password.
    api.put(resourceTypes.applications, application(second));
    expect(
      await eventually(async () => (await postReview(driftgate, 'validate', setImage)).allowed),
    ).toBe(true);
    expect((await postReview(driftgate, 'validate', setImage)).auditAnnotations?.revision).toBe(
      second,
    );
    expect(credentialFiles().map((file) => file.content)).not.toContain(FIRST_PASSWORD);
  });

  it('removes the files once the Secret is deleted, and never logs a password', async () => {
    api.remove(resourceTypes.secrets, 'argocd', 'private-git');
    expect(await eventually(() => Promise.resolve(credentialFiles().length === 0))).toBe(true);
    const logged = JSON.stringify(log.lines());
    expect(logged).not.toContain(FIRST_PASSWORD);
    expect(logged).not.toContain(ROTATED_PASSWORD);
    expect(logged).toContain('discovered sources');
  });
});
