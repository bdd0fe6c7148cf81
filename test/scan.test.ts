// `driftgate scan` against the API test double: real Git, real captured objects, paged LISTs,
// a kind the cluster does not serve, a namespace it forbids, and every request checked against
// the RBAC deploy/ grants.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/run.js';
import type { JsonObject, KubeObject } from '../src/kube/object.js';
import { rateLimiter } from '../src/scan/reader.js';
import { createTestRepo, tempDir, type TestRepo } from './desired/git-fixture.js';
import {
  resourceTypes,
  startFakeApiServer,
  type FakeApiServer,
  type ResourceType,
} from './support/fake-apiserver.js';
import { edited, fixturePath, review, stored131 } from './support/fixtures.js';
import { allowedByDeploy, apiRequestOf, componentRbac } from './support/rbac.js';

const clusterroles: ResourceType = {
  group: 'rbac.authorization.k8s.io',
  version: 'v1',
  resource: 'clusterroles',
  kind: 'ClusterRole',
  namespaced: false,
};

const BULK = 1_200;
const SECRET_VALUES = ['s3cr3t-from-git', 'changed-by-hand'];

let api: FakeApiServer;
let repo: TestRepo;
let dir: { path: string; cleanup: () => void };
let configFile: string;
let kubeconfigFile: string;

const text = (relative: string) => readFileSync(fixturePath(relative), 'utf8');
const asJson = (object: KubeObject) => object as JsonObject;

function bulkConfigMaps(): string {
  return Array.from(
    { length: BULK },
    (_, i) =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${String(i).padStart(4, '0')}\ndata:\n  index: "${i}"\n`,
  ).join('---\n');
}

beforeAll(async () => {
  repo = createTestRepo();
  const secret = text('captured/manifests/secret-db-creds.yaml');
  repo.commit({
    'apps/shop/deploy-web.yaml': text('captured/manifests/deploy-web.yaml'),
    'apps/shop/cm-web-config.yaml': text('captured/manifests/cm-web-config.yaml'),
    'apps/shop/secret-db-creds.yaml': secret,
    'apps/shop/cm-gone.yaml':
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: gone\ndata:\n  a: b\n',
    'apps/shop/gadget.yaml':
      'apiVersion: gadgets.example.com/v1\nkind: Gadget\nmetadata:\n  name: blue\nspec:\n  size: 3\n',
    'apps/shop/clusterrole.yaml': text('captured-1.31/manifests/clusterrole-member.yaml'),
    'apps/pay/cm.yaml':
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pay-settings\ndata:\n  a: b\n',
    'apps/pay/secret.yaml': secret.replace('namespace: shop', 'namespace: pay'),
    'apps/bulk/configmaps.yaml': bulkConfigMaps(),
  });
  dir = tempDir('driftgate-scan-');
  configFile = join(dir.path, 'config.yaml');
  writeFileSync(
    configFile,
    [
      `cacheDir: ${join(dir.path, 'cache')}`,
      'sources:',
      ...['shop', 'pay', 'bulk'].map(
        (name) =>
          `  - { name: ${name}, repoURL: "${repo.fileURL}", revision: main, path: apps/${name}, namespace: ${name} }`,
      ),
      '',
    ].join('\n'),
  );

  api = await startFakeApiServer({ types: [clusterroles] });
  kubeconfigFile = join(dir.path, 'kubeconfig.json');
  writeFileSync(kubeconfigFile, api.kubeconfigText());

  for (const name of ['shop', 'pay', 'bulk']) {
    api.put(resourceTypes.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  }
  // A person changed the image and the HPA scaled to 3: only the image is drift.
  api.put(
    resourceTypes.deployments,
    asJson(
      edited(review('10-apply-create-deployment-by-argocd').object!, (d) => {
        d.spec.replicas = 3;
        d.spec.template.spec.containers[0].image = 'registry.example.com/shop/web:hotfix';
      }),
    ),
  );
  api.put(resourceTypes.hpas, asJson(review('50-apply-create-hpa-by-argocd').object!));
  api.put(resourceTypes.configmaps, asJson(review('02-apply-create-configmap-by-argocd').object!));
  const storedSecret = review('03-apply-create-secret-stringdata-by-argocd').object!;
  api.put(
    resourceTypes.secrets,
    asJson(
      edited(storedSecret, (s) => {
        s.data.password = Buffer.from('changed-by-hand').toString('base64');
      }),
    ),
  );
  api.put(
    resourceTypes.secrets,
    asJson(edited(storedSecret, (s) => (s.metadata.namespace = 'pay'))),
  );
  api.put(
    clusterroles,
    asJson(
      edited(stored131('11-apply-create-clusterrole-member-by-argocd.member'), (r) => {
        r.rules[0].verbs.push('delete');
      }),
    ),
  );
  for (let i = 0; i < BULK; i += 1) {
    api.put(resourceTypes.configmaps, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `cm-${String(i).padStart(4, '0')}`, namespace: 'bulk' },
      data: { index: String(i) },
    });
  }
  // Deployed by a Flux HelmRelease (helm-controller's write as recorded, with the namespace label
  // helm-controller adds beside the name): no source declares it, its record protects it.
  api.put(
    resourceTypes.deployments,
    asJson(
      edited(stored131('64b-apply-update-deployment-helm-app-by-helm'), (d) => {
        d.metadata.labels['helm.toolkit.fluxcd.io/namespace'] = 'shop';
      }),
    ),
  );
  api.forbidNamespace(resourceTypes.configmaps, 'pay');
}, 60_000);

afterAll(async () => {
  await api.stop();
  dir.cleanup();
  repo.cleanup();
});

async function scan(argv: readonly string[], options: { terminal?: boolean } = {}) {
  let stdout = '';
  let stderr = '';
  const from = api.requests.length;
  const code = await runCli(['scan', '--config', configFile, '--qps', '1000', ...argv], {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    cwd: dir.path,
    env: {},
    version: '0.0.0-test',
    stderrIsTerminal: options.terminal ?? false,
  });
  return { code, stdout, stderr, requests: api.requests.slice(from) };
}

interface JsonReport {
  objects: {
    group: string;
    kind: string;
    namespace: string;
    name: string;
    status: string;
    source: string;
    file: string;
    commit: string;
    mode: string;
    drift: { path: string; git?: unknown; live?: unknown }[];
    reason?: string;
  }[];
  syncTracked: Record<string, string>[];
  summary: Record<string, unknown> & { byNamespace: Record<string, Record<string, number>> };
}

let full: Awaited<ReturnType<typeof scan>>;
let report: JsonReport;
const find = (namespace: string, kind: string, name: string) =>
  report.objects.find((o) => o.namespace === namespace && o.kind === kind && o.name === name);

describe('driftgate scan', () => {
  beforeAll(async () => {
    full = await scan(['--kubeconfig', kubeconfigFile, '--output', 'json']);
    report = JSON.parse(full.stdout) as JsonReport;
  }, 60_000);

  it('exits 1 and reports each object with its source, file, commit and mode', () => {
    expect(full.code).toBe(1);
    const web = find('shop', 'Deployment', 'web');
    expect(web).toEqual({
      group: 'apps',
      kind: 'Deployment',
      namespace: 'shop',
      name: 'web',
      status: 'drifted',
      source: 'shop',
      file: 'apps/shop/deploy-web.yaml',
      commit: expect.stringMatching(/^[0-9a-f]{40}$/) as string,
      mode: 'enforce',
      protection: 'git',
      // spec.replicas (3, Git says 2) is the HPA's: not drift, as for a write.
      drift: [
        {
          path: 'spec.template.spec.containers[name=app].image',
          git: 'registry.example.com/shop/web:1.4.2',
          live: 'registry.example.com/shop/web:hotfix',
        },
      ],
    });
    expect(find('shop', 'ConfigMap', 'web-config')?.status).toBe('in-sync');
  });

  it('says what protects each object: Git, or the record of the sync tool that deployed it', () => {
    expect(report.syncTracked).toEqual([
      {
        group: 'apps',
        kind: 'Deployment',
        namespace: 'shop',
        name: 'helm-app',
        protection: 'sync-record',
        deployedBy: 'Flux HelmRelease shop/helm-app',
        record: 'last-applied-configuration written by helm-controller',
      },
    ]);
    // Read from the page of shop's Deployments the scan lists for web: no request of its own.
    expect(
      full.requests.filter((r) => r.path.endsWith('/namespaces/shop/deployments')),
    ).toHaveLength(1);
    expect(report.summary.byProtection).toEqual({ git: 8 + BULK, 'sync-record': 1, none: 0 });
  });

  it('reports an object Git declares and the cluster lacks as missing', () => {
    expect(find('shop', 'ConfigMap', 'gone')).toMatchObject({ status: 'missing', drift: [] });
  });

  it('reports a kind the API server does not serve as not-judged, and scans the rest', () => {
    const gadget = find('shop', 'Gadget', 'blue');
    expect(gadget?.status).toBe('not-judged');
    expect(gadget?.reason).toContain('does not serve Gadget in gadgets.example.com/v1');
    expect(full.requests.some((r) => r.path === '/apis/gadgets.example.com/v1')).toBe(true);
  });

  it('reports a forbidden namespace as not-judged, and still scans its other kinds', () => {
    const forbidden = find('pay', 'ConfigMap', 'pay-settings');
    expect(forbidden?.status).toBe('not-judged');
    expect(forbidden?.reason).toMatch(/^forbidden: .*cannot list resource "configmaps"/);
    expect(find('pay', 'Secret', 'db-creds')?.status).toBe('in-sync');
  });

  it('compares cluster-scoped objects, with namespace ""', () => {
    const role = find('', 'ClusterRole', 'capture-shop-reader-widgets');
    expect(role).toMatchObject({ group: 'rbac.authorization.k8s.io', status: 'drifted' });
    expect(role?.drift.map((d) => d.path)).toEqual(['rules[0].verbs']);
    expect(
      full.requests.some((r) => r.path === '/apis/rbac.authorization.k8s.io/v1/clusterroles'),
    ).toBe(true);
  });

  it('reads with paged LISTs per kind and namespace (limit 500 + continue), never a GET per object', () => {
    const bulk = full.requests.filter((r) => r.path === '/api/v1/namespaces/bulk/configmaps');
    expect(bulk).toHaveLength(3);
    expect(bulk.map((r) => r.query.get('limit'))).toEqual(['500', '500', '500']);
    expect(bulk[0]?.query.has('continue')).toBe(false);
    expect(bulk[1]?.query.get('continue')).toBeTruthy();
    expect(bulk[2]?.query.get('continue')).toBeTruthy();
    expect(bulk[1]?.query.get('continue')).not.toBe(bulk[2]?.query.get('continue'));
    const inBulk = report.objects.filter((o) => o.namespace === 'bulk');
    expect(inBulk).toHaveLength(BULK);
    expect(inBulk.every((o) => o.status === 'in-sync')).toBe(true);
    for (const request of full.requests) {
      const api = apiRequestOf(request.method, request.path, request.query);
      expect(['list', 'get'], request.path).toContain(api.verb);
      // A `get` is discovery or OpenAPI, never an object.
      if (api.verb === 'get') expect(api.nonResourceURL, request.path).toBeDefined();
    }
  });

  it('makes only requests the RBAC of deploy/ (with the scan component) allows', () => {
    expect(full.requests.length).toBeGreaterThan(0);
    const refused = full.requests
      .map((r) => apiRequestOf(r.method, r.path, r.query))
      .filter((request) => !allowedByDeploy(request, [componentRbac('scan')]));
    expect(refused).toEqual([]);
    // Without the component, the objects themselves may not be read: the component is needed.
    const withoutComponent = full.requests
      .map((r) => apiRequestOf(r.method, r.path, r.query))
      .filter((request) => !allowedByDeploy(request));
    expect(withoutComponent.map((r) => r.resource)).toContain('secrets');
  });

  it('never prints a Secret value, in any output', async () => {
    const secret = find('shop', 'Secret', 'db-creds');
    expect(secret?.status).toBe('drifted');
    expect(secret?.drift).toEqual([
      { path: 'data.password', git: '<redacted>', live: '<redacted>' },
    ]);
    const table = await scan(['--kubeconfig', kubeconfigFile, '--namespace', 'shop']);
    const html = await scan(['--kubeconfig', kubeconfigFile, '--namespace', 'shop', '-o', 'html']);
    expect(table.stdout).toContain('data.password: Git "<redacted>", cluster "<redacted>"');
    expect(html.stdout).toContain('data.password');
    for (const output of [full.stdout, table.stdout, html.stdout]) {
      for (const value of SECRET_VALUES) {
        expect(output).not.toContain(value);
        expect(output).not.toContain(Buffer.from(value).toString('base64'));
      }
    }
  });

  it('sums up per namespace: objects, in sync, drifted, missing, not judged, what enforce would refuse', () => {
    expect(report.summary).toMatchObject({
      objects: 8 + BULK,
      inSync: 2 + BULK,
      drifted: 3,
      missing: 1,
      notJudged: 2,
      wouldRefuse: 3,
    });
    expect(report.summary.byNamespace).toEqual({
      '': { objects: 1, inSync: 0, drifted: 1, missing: 0, notJudged: 0, wouldRefuse: 1 },
      shop: { objects: 5, inSync: 1, drifted: 2, missing: 1, notJudged: 1, wouldRefuse: 2 },
      pay: { objects: 2, inSync: 1, drifted: 0, missing: 0, notJudged: 1, wouldRefuse: 0 },
      bulk: { objects: BULK, inSync: BULK, drifted: 0, missing: 0, notJudged: 0, wouldRefuse: 0 },
    });
  });

  it('exits 0 when everything scanned is in sync, and --namespace leaves the rest out', async () => {
    const result = await scan([
      '--kubeconfig',
      kubeconfigFile,
      '--namespace',
      'bulk',
      '-o',
      'json',
    ]);
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.stdout) as JsonReport;
    expect(parsed.objects).toHaveLength(BULK);
    expect(result.requests.some((r) => r.path.includes('/namespaces/shop/'))).toBe(false);
    expect(result.requests.some((r) => r.path.endsWith('/clusterroles'))).toBe(false);
  });

  it('prints a table with the objects, each drifted field and the per-namespace summary', async () => {
    const result = await scan(['--kubeconfig', kubeconfigFile, '--namespace', 'shop']);
    expect(result.code).toBe(1);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toMatch(
      /^NAMESPACE\s+OBJECT\s+STATUS\s+MODE\s+PROTECTION\s+SOURCE\s+FILE\s+COMMIT$/,
    );
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^shop\s+Deployment\.apps\/web\s+drifted\s+enforce\s+git\s+shop\s+apps\/shop\/deploy-web\.yaml\s+[0-9a-f]{12}$/,
      ),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^shop\s+Deployment\.apps\/helm-app\s+sync-record\s+Flux HelmRelease shop\/helm-app\s+last-applied-configuration written by helm-controller$/,
      ),
    );
    expect(lines).toContain("Protected by Git: 5, by the sync tool's record: 1, by nothing: 0");
    expect(lines).toContain(
      '  spec.template.spec.containers[name=app].image: Git "registry.example.com/shop/web:1.4.2", cluster "registry.example.com/shop/web:hotfix"',
    );
    expect(lines).toContainEqual(expect.stringMatching(/^shop\s+5\s+1\s+2\s+1\s+1\s+2$/));
  });

  it('shows the protection in the HTML page too', async () => {
    const html = await scan(['--kubeconfig', kubeconfigFile, '--namespace', 'shop', '-o', 'html']);
    expect(html.stdout).toContain('<th>Protection</th>');
    expect(html.stdout).toContain(
      '<td>Deployment.apps/helm-app</td><td>sync-record</td><td>Flux HelmRelease shop/helm-app</td>',
    );
    expect(html.stdout).toContain(
      'Protected by Git: 5, by the sync tool&#39;s record: 1, by nothing: 0',
    );
  });

  it('writes the report to --out, and shows progress on a terminal', async () => {
    const out = join(dir.path, 'report.json');
    const result = await scan(
      ['--kubeconfig', kubeconfigFile, '--namespace', 'shop', '-o', 'json', '--out', out],
      { terminal: true },
    );
    expect(result.stdout).toBe('');
    expect((JSON.parse(readFileSync(out, 'utf8')) as JsonReport).objects).toHaveLength(5);
    expect(result.stderr).toContain('5/5 objects read');
    const quiet = await scan(['--kubeconfig', kubeconfigFile, '--namespace', 'shop', '-o', 'json']);
    expect(quiet.stderr).not.toContain('objects read');
  });

  it('exits 2 when the cluster cannot be read or the input is bad', async () => {
    const badToken = join(dir.path, 'bad-kubeconfig.json');
    writeFileSync(badToken, api.kubeconfigText({ token: 'wrong' }));
    const unauthorised = await scan(['--kubeconfig', badToken]);
    expect(unauthorised.code).toBe(2);
    expect(unauthorised.stderr).toContain('the cluster could not be read');
    expect(unauthorised.stdout).toBe('');

    expect((await scan(['--kubeconfig', kubeconfigFile, '-o', 'yaml'])).code).toBe(2);
    expect((await scan(['--kubeconfig', kubeconfigFile, '--qps', '0'])).code).toBe(2);
    expect((await scan(['--kubeconfig', join(dir.path, 'nowhere')])).code).toBe(2);
  });

  it('exits 2 when the API server is down', async () => {
    const down = await startFakeApiServer();
    const file = join(dir.path, 'down-kubeconfig.json');
    writeFileSync(file, down.kubeconfigText());
    await down.stop();
    const result = await scan(['--kubeconfig', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('the cluster could not be read');
  });
});

describe('the scan rate limit', () => {
  it('spaces request starts evenly at the given rate', async () => {
    let now = 0;
    const starts: number[] = [];
    const pace = rateLimiter(20, {
      now: () => now,
      sleep: (ms) => {
        now += ms;
        return Promise.resolve();
      },
    });
    for (let i = 0; i < 5; i += 1) {
      await pace();
      starts.push(now);
    }
    expect(starts).toEqual([0, 50, 100, 150, 200]);
  });
});
