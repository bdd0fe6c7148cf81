// `driftgate scan` with discovery: the Argo CD Applications in the (loopback) cluster are read
// once, as serve reads them, and the objects their Git sources declare are scanned at the
// revision Argo CD synced, beside the config's own sources.
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/run.js';
import type { JsonObject } from '../src/kube/object.js';
import { createTestRepo, tempDir, type TestRepo } from './desired/git-fixture.js';
import { resourceTypes, startFakeApiServer, type FakeApiServer } from './support/fake-apiserver.js';
import { edited, review } from './support/fixtures.js';
import { shopApplication, shopFiles } from './support/server.js';

let api: FakeApiServer;
let repo: TestRepo;
let dir: { path: string; cleanup: () => void };
let kubeconfigFile: string;
let synced: string;

beforeAll(async () => {
  repo = createTestRepo();
  const manifests = shopFiles();
  synced = repo.commit(manifests, 'shop');
  // Branch head moved on; Argo CD has not synced it. The scan must compare with what it synced.
  const web = manifests['apps/shop/deploy-web.yaml'] ?? '';
  repo.commit({ 'apps/shop/deploy-web.yaml': web.replace('web:1.4.2', 'web:9.9.9') });
  dir = tempDir('driftgate-scan-discovery-');
  api = await startFakeApiServer();
  kubeconfigFile = join(dir.path, 'kubeconfig.json');
  writeFileSync(kubeconfigFile, api.kubeconfigText());
  api.put(
    resourceTypes.deployments,
    edited(review('10-apply-create-deployment-by-argocd').object!, (d) => {
      d.spec.template.spec.containers[0].image = 'registry.example.com/shop/web:hotfix';
    }) as JsonObject,
  );
}, 60_000);

afterAll(async () => {
  await api.stop();
  dir.cleanup();
  repo.cleanup();
});

async function scan(config: string) {
  const file = join(dir.path, 'config.yaml');
  writeFileSync(file, `cacheDir: ${join(dir.path, 'cache')}\n${config}`);
  let stdout = '';
  let stderr = '';
  const code = await runCli(
    ['scan', '--config', file, '--kubeconfig', kubeconfigFile, '--output', 'json', '--qps', '1000'],
    {
      stdout: (t) => (stdout += t),
      stderr: (t) => (stderr += t),
      cwd: dir.path,
      env: {},
      version: '0.0.0-test',
    },
  );
  return { code, stdout, stderr };
}

interface Scanned {
  kind: string;
  name: string;
  status: string;
  source: string;
  commit: string;
  drift: { path: string; git?: unknown; live?: unknown }[];
}

describe('driftgate scan with discovery', () => {
  it('scans the objects of the Applications it discovers, at the revision Argo CD synced', async () => {
    api.put(
      resourceTypes.applications,
      shopApplication({ repoURL: repo.fileURL, revision: synced }),
    );
    const { code, stdout, stderr } = await scan('discovery:\n  argocd: { namespace: argocd }\n');
    expect(stderr).toBe('');
    expect(code).toBe(1);
    const objects = (JSON.parse(stdout) as { objects: Scanned[] }).objects;
    const web = objects.find((o) => o.kind === 'Deployment' && o.name === 'web');
    expect(web).toMatchObject({
      status: 'drifted',
      source: 'argocd:argocd/shop',
      commit: synced,
      drift: [
        {
          path: 'spec.template.spec.containers[name=app].image',
          git: 'registry.example.com/shop/web:1.4.2',
          live: 'registry.example.com/shop/web:hotfix',
        },
      ],
    });
    // Every manifest of the Application's path was scanned (the rest are missing here).
    expect(objects.filter((o) => o.source === 'argocd:argocd/shop').length).toBe(
      Object.keys(shopFiles()).length,
    );
  });

  it('says so and exits 2 when the sync tool’s objects cannot be read', async () => {
    api.forbid(resourceTypes.kustomizations);
    const { code, stderr } = await scan('discovery:\n  flux: {}\n');
    expect(code).toBe(2);
    expect(stderr).toMatch(
      /^driftgate scan: discovery: flux-kustomizations could not be read: .*403/,
    );
  });
});
