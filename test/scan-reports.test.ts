// serve's background scan publishes PolicyReports (wgpolicyk8s.io/v1alpha2, as Kyverno writes
// them) when the API server serves them, written by the one replica that holds the scan Lease.
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClusterConnection } from '../src/cluster/connection.js';
import type { Config } from '../src/config/config.js';
import type { JsonObject } from '../src/kube/object.js';
import { startBackgroundScan, type BackgroundScan } from '../src/scan/background.js';
import { microTime, startScanLease, type ScanLease } from '../src/scan/lease.js';
import { captureLogger, eventually } from './desired/git-fixture.js';
import {
  policyReportTypes,
  resourceTypes,
  startFakeApiServer,
  type FakeApiServer,
} from './support/fake-apiserver.js';
import { renderDeploy } from './support/deploy.js';
import { edited, review } from './support/fixtures.js';
import { config, facts, snapshot } from './support/policy.js';
import { allowedBy, apiRequestOf, rolesBoundTo } from './support/rbac.js';

const deployment = review('10-apply-create-deployment-by-argocd').object!;
const configMap = review('02-apply-create-configmap-by-argocd').object!;
const hotfix = edited(deployment, (d) => {
  d.spec.template.spec.containers[0].image = 'registry.example.com/shop/web:hotfix';
}) as JsonObject;

const { policyreports, clusterpolicyreports } = policyReportTypes;
const REPORTS = '/apis/wgpolicyk8s.io/v1alpha2';
const LEASE = '/apis/coordination.k8s.io/v1/namespaces/driftgate/leases/driftgate-scan';

let api: FakeApiServer;
let stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stops.map((stop) => stop()));
  stops = [];
  await api.stop();
});

async function cluster(options: { reports: boolean }): Promise<FakeApiServer> {
  api = await startFakeApiServer({
    types: options.reports ? [policyreports, clusterpolicyreports] : [],
  });
  api.put(resourceTypes.deployments, hotfix);
  api.put(resourceTypes.configmaps, configMap as JsonObject);
  return api;
}

async function metric(registry: Registry, name: string): Promise<Record<string, number>> {
  const values: Record<string, number> = {};
  for (const value of (await registry.getSingleMetric(name)?.get())?.values ?? []) {
    const labels = Object.entries(value.labels)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(',');
    values[`{${labels}}`] = value.value;
  }
  return values;
}

function start(
  overrides: {
    identity?: string;
    policyReports?: Config['scan']['policyReports'];
    intervalMs?: number;
    connection?: ClusterConnection;
    manifests?: string[];
  } = {},
) {
  const registry = new Registry();
  const log = captureLogger();
  const base = config();
  const scanConfig: Config = {
    ...base,
    scan: {
      ...base.scan,
      intervalMs: overrides.intervalMs ?? 60_000,
      qps: 1000,
      policyReports: overrides.policyReports ?? 'auto',
    },
  };
  let manifests = overrides.manifests ?? ['deploy-web', 'cm-web-config'];
  const scan: BackgroundScan = startBackgroundScan({
    connection: overrides.connection ?? api.connection(),
    config: scanConfig,
    snapshot: () => snapshot(manifests),
    sources: () => scanConfig.sources,
    facts: () => facts(),
    ready: () => true,
    registry,
    logger: log.logger,
    now: () => new Date(),
    random: () => 0,
    initialDelayMs: 0,
    retryMs: 50,
    identity: overrides.identity ?? 'driftgate-0',
    lease: { durationSeconds: 2, retryMs: 100 },
  });
  stops.push(() => scan.stop());
  return {
    scan,
    registry,
    log,
    setManifests: (names: string[]) => {
      manifests = names;
    },
  };
}

const scanned = (scan: BackgroundScan) =>
  eventually(() => Promise.resolve(scan.last() !== undefined), 10_000);

async function listReports(): Promise<JsonObject[]> {
  const response = await fetchJson(`${REPORTS}/policyreports`);
  return (response.items ?? []) as JsonObject[];
}

async function fetchJson(path: string): Promise<JsonObject> {
  const { getJson } = await import('../src/cluster/get-json.js');
  return (await getJson(api.connection(), path)) as JsonObject;
}

const writes = (resource: string) =>
  api.requests.filter((r) => r.method !== 'GET' && r.path.split('/').includes(resource));
const deletes = () =>
  api.requests.filter((r) => r.method === 'DELETE' && r.path.startsWith(REPORTS));

describe('PolicyReports of the background scan', () => {
  it('writes a PolicyReport per namespace, with a fail result per drifted or missing object', async () => {
    await cluster({ reports: true });
    const { scan } = start();
    expect(await scanned(scan)).toBe(true);
    expect(await eventually(async () => (await listReports()).length === 1)).toBe(true);
    const [report] = await listReports();
    const seconds = Math.floor(Date.now() / 1000);
    expect(report).toEqual({
      apiVersion: 'wgpolicyk8s.io/v1alpha2',
      kind: 'PolicyReport',
      metadata: {
        name: 'driftgate',
        namespace: 'shop',
        labels: { 'app.kubernetes.io/managed-by': 'driftgate' },
        uid: expect.any(String) as string,
        resourceVersion: expect.any(String) as string,
      },
      summary: { pass: 1, fail: 1, warn: 0, error: 0, skip: 0 },
      results: [
        {
          source: 'driftgate',
          policy: 'driftgate',
          rule: 'git-drift',
          category: 'Git drift',
          result: 'fail',
          scored: true,
          timestamp: {
            seconds: expect.toSatisfy((s: number) => Math.abs(s - seconds) < 60) as number,
            nanos: expect.any(Number) as number,
          },
          message:
            'Deployment web differs from Git: spec.template.spec.containers[name=app].image: Git "registry.example.com/shop/web:1.4.2", cluster "registry.example.com/shop/web:hotfix"',
          resources: [
            {
              apiVersion: 'apps/v1',
              kind: 'Deployment',
              namespace: 'shop',
              name: 'web',
              uid: 'uid-apps/deployments/shop/web',
            },
          ],
          properties: {
            source: 'shop',
            file: 'apps/shop/deploy-web.yaml',
            commit: expect.stringMatching(/^[0-9a-f]{40}$/) as string,
            mode: 'enforce',
          },
        },
      ],
    });
    // Nothing cluster-scoped is declared: no ClusterPolicyReport.
    expect(writes('clusterpolicyreports')).toEqual([]);
  });

  it('writes again only when the content changed, keeping when each result was found', async () => {
    await cluster({ reports: true });
    const { scan } = start({ intervalMs: 100 });
    expect(await scanned(scan)).toBe(true);
    expect(await eventually(async () => (await listReports()).length === 1)).toBe(true);
    const [first] = await listReports();
    // Several scans of an unchanged cluster: one create, no update.
    const lists = () => api.requests.filter((r) => r.path === `${REPORTS}/policyreports`).length;
    expect(await eventually(() => Promise.resolve(lists() >= 4))).toBe(true);
    expect(writes('policyreports').map((r) => r.method)).toEqual(['POST']);
    expect((await listReports())[0]).toEqual(first);

    api.remove(resourceTypes.configmaps, 'shop', 'web-config');
    const fails = async () =>
      ((await listReports())[0]?.summary as { fail?: number } | undefined)?.fail;
    expect(await eventually(async () => (await fails()) === 2)).toBe(true);
    expect(writes('policyreports').map((r) => [r.method, r.path])).toEqual([
      ['POST', `${REPORTS}/namespaces/shop/policyreports`],
      ['PUT', `${REPORTS}/namespaces/shop/policyreports/driftgate`],
    ]);
    const [second] = await listReports();
    const results = second?.results as JsonObject[];
    expect(results.map((r) => [r.rule, r.message])).toEqual([
      [
        'git-missing',
        'ConfigMap web-config is declared in Git (apps/shop/cm-web-config.yaml) and missing from the cluster',
      ],
      ['git-drift', (first?.results as JsonObject[])[0]?.message],
    ]);
    // The drift found at the first scan keeps its timestamp.
    expect(results[1]?.timestamp).toEqual((first?.results as JsonObject[])[0]?.timestamp);
    expect(second?.summary).toEqual({ pass: 0, fail: 2, warn: 0, error: 0, skip: 0 });
  });

  it('deletes its report of a namespace where Git declares nothing any more, and no one else’s', async () => {
    await cluster({ reports: true });
    const label = { 'app.kubernetes.io/managed-by': 'driftgate' };
    const summary = { pass: 1, fail: 0, warn: 0, error: 0, skip: 0 };
    const leftOver = { apiVersion: 'wgpolicyk8s.io/v1alpha2', kind: 'PolicyReport', summary };
    api.put(policyreports, {
      ...leftOver,
      metadata: { name: 'driftgate', namespace: 'old', labels: label },
    });
    api.put(policyreports, {
      ...leftOver,
      metadata: {
        name: 'kyverno-report',
        namespace: 'old',
        labels: { 'app.kubernetes.io/managed-by': 'kyverno' },
      },
    });
    api.put(clusterpolicyreports, {
      ...leftOver,
      kind: 'ClusterPolicyReport',
      metadata: { name: 'driftgate', labels: label },
    });
    const { scan } = start();
    expect(await scanned(scan)).toBe(true);
    expect(await eventually(() => Promise.resolve(deletes().length === 2))).toBe(true);
    expect(
      deletes()
        .map((r) => r.path)
        .sort(),
    ).toEqual([
      `${REPORTS}/clusterpolicyreports/driftgate`,
      `${REPORTS}/namespaces/old/policyreports/driftgate`,
    ]);
    const names = (await listReports()).map((r) => {
      const metadata = r.metadata as { namespace: string; name: string };
      return `${metadata.namespace}/${metadata.name}`;
    });
    expect(names.sort()).toEqual(['old/kyverno-report', 'shop/driftgate']);
  });

  it('writes a ClusterPolicyReport for cluster-scoped objects', async () => {
    await cluster({ reports: true });
    const { scan } = start({ manifests: ['ns-shop', 'deploy-web'] });
    expect(await scanned(scan)).toBe(true);
    expect(
      await eventually(async () => {
        const list = await fetchJson(`${REPORTS}/clusterpolicyreports`);
        return ((list.items ?? []) as JsonObject[]).length === 1;
      }),
    ).toBe(true);
    const [report] = (await fetchJson(`${REPORTS}/clusterpolicyreports`)).items as JsonObject[];
    expect(report?.kind).toBe('ClusterPolicyReport');
    expect(report?.metadata).not.toHaveProperty('namespace');
    // The Namespace shop is declared and the fake cluster has none: missing, cluster-scoped.
    expect((report?.results as JsonObject[]).map((r) => [r.rule, r.resources])).toEqual([
      ['git-missing', [{ apiVersion: 'v1', kind: 'Namespace', name: 'shop' }]],
    ]);
  });

  it('writes none where the CRDs are not installed, and under `true` says so in a metric and the log', async () => {
    await cluster({ reports: false });
    const auto = start();
    expect(await scanned(auto.scan)).toBe(true);
    await auto.scan.stop();
    const required = start({ policyReports: true });
    expect(await scanned(required.scan)).toBe(true);
    expect(api.requests.filter((r) => r.path.startsWith(REPORTS) && r.path !== REPORTS)).toEqual(
      [],
    );
    expect(await metric(auto.registry, 'driftgate_policy_report_problems_total')).toEqual({});
    expect(
      await eventually(async () =>
        Object.values(
          await metric(required.registry, 'driftgate_policy_report_problems_total'),
        ).some((v) => v > 0),
      ),
    ).toBe(true);
    expect(await metric(required.registry, 'driftgate_policy_report_problems_total')).toEqual({
      '{reason=not-served}': 1,
    });
    expect(
      required.log
        .lines()
        .some(
          (line) => line.level === 50 && String(line.msg).includes('scan.policyReports is true'),
        ),
    ).toBe(true);
  });

  it('writes nothing it may not first list, and counts it as forbidden', async () => {
    await cluster({ reports: true });
    api.forbid(policyreports);
    const { scan, registry, log } = start();
    expect(await scanned(scan)).toBe(true);
    expect(api.requests.filter((r) => r.method !== 'GET' && r.path.startsWith(REPORTS))).toEqual(
      [],
    );
    expect(await metric(registry, 'driftgate_policy_report_problems_total')).toEqual({
      '{reason=forbidden}': 1,
    });
    expect(
      log.lines().some((line) => String(line.msg).includes('PolicyReports could not be written')),
    ).toBe(true);
  });

  it('writes none under scan.policyReports: false', async () => {
    await cluster({ reports: true });
    const { scan } = start({ policyReports: false });
    expect(await scanned(scan)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(api.requests.filter((r) => r.path.startsWith(`${REPORTS}/`))).toEqual([]);
  });
});

describe('one replica scans: the holder of the scan Lease', () => {
  it('leaves the others idle, with driftgate_scan_leader 0 and no scan results of their own', async () => {
    await cluster({ reports: true });
    const a = start({ identity: 'driftgate-a' });
    expect(await scanned(a.scan)).toBe(true);
    const b = start({ identity: 'driftgate-b' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(b.scan.last()).toBeUndefined();
    expect(await metric(a.registry, 'driftgate_scan_leader')).toEqual({ '{}': 1 });
    expect(await metric(b.registry, 'driftgate_scan_leader')).toEqual({ '{}': 0 });
    expect(await metric(b.registry, 'driftgate_drifted_objects')).toEqual({});
    // One scan's reads: each collection listed once.
    const deployments = api.requests.filter(
      (r) => r.path === '/apis/apps/v1/namespaces/shop/deployments',
    );
    expect(deployments).toHaveLength(1);
    const lease = await fetchJson(LEASE);
    expect(lease.spec).toEqual({
      holderIdentity: 'driftgate-a',
      leaseDurationSeconds: 2,
      acquireTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/) as string,
      renewTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/) as string,
      leaseTransitions: 0,
    });
  });

  it('hands over: a holder that stops releases the Lease and another replica scans', async () => {
    await cluster({ reports: true });
    const a = start({ identity: 'driftgate-a' });
    expect(await scanned(a.scan)).toBe(true);
    const b = start({ identity: 'driftgate-b' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(b.scan.last()).toBeUndefined();
    await a.scan.stop();
    expect(await scanned(b.scan)).toBe(true);
    expect(await metric(b.registry, 'driftgate_scan_leader')).toEqual({ '{}': 1 });
    expect(((await fetchJson(LEASE)).spec as JsonObject).holderIdentity).toBe('driftgate-b');
  });
});

describe('a replica that loses the scan Lease', () => {
  it('drops the results it published, at the next scrape', async () => {
    await cluster({ reports: true });
    const a = start({ identity: 'driftgate-a' });
    expect(await scanned(a.scan)).toBe(true);
    expect(await metric(a.registry, 'driftgate_drifted_objects')).toMatchObject({
      '{namespace=shop,kind=Deployment}': 1,
    });
    expect(await metric(a.registry, 'driftgate_objects_protected')).toMatchObject({
      '{by=git}': expect.any(Number),
    });
    // Another replica took the Lease (say, while this one was cut off from the API server).
    const lease = await fetchJson(LEASE);
    api.put(resourceTypes.leases, {
      ...lease,
      spec: { ...(lease.spec as JsonObject), holderIdentity: 'driftgate-x' },
    });
    expect(
      await eventually(async () =>
        Promise.resolve((await metric(a.registry, 'driftgate_scan_leader'))['{}'] === 0),
      ),
    ).toBe(true);
    expect(await metric(a.registry, 'driftgate_drifted_objects')).toEqual({});
    expect(await metric(a.registry, 'driftgate_missing_objects')).toEqual({});
    expect(await metric(a.registry, 'driftgate_objects_protected')).toEqual({});
  });
});

describe('the RBAC deploy/ renders', () => {
  it(
    'allows every request of the background scan: reads, PolicyReport writes and the Lease',
    { timeout: 60_000 },
    async () => {
      await cluster({ reports: true });
      const label = { 'app.kubernetes.io/managed-by': 'driftgate' };
      const summary = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
      const stale = { apiVersion: 'wgpolicyk8s.io/v1alpha2', summary };
      api.put(policyreports, {
        ...stale,
        kind: 'PolicyReport',
        metadata: { name: 'driftgate', namespace: 'old', labels: label },
      });
      api.put(clusterpolicyreports, {
        ...stale,
        kind: 'ClusterPolicyReport',
        metadata: { name: 'driftgate', labels: label },
      });
      const { scan } = start({ intervalMs: 100 });
      expect(await scanned(scan)).toBe(true);
      expect(await eventually(() => Promise.resolve(deletes().length === 2))).toBe(true);
      api.remove(resourceTypes.configmaps, 'shop', 'web-config');
      expect(
        await eventually(() =>
          Promise.resolve(writes('policyreports').some((r) => r.method === 'PUT')),
        ),
      ).toBe(true);
      await scan.stop(); // releases the Lease: one more update
      const requests = api.requests.map((r) => apiRequestOf(r.method, r.path, r.query));
      // Each kind of request the scan makes was made, so each was checked.
      expect(
        new Set(requests.map((r) => `${r.verb} ${r.resource || r.nonResourceURL || ''}`)),
      ).toEqual(
        new Set([
          'get /apis/apps/v1',
          'get /api/v1',
          'get /apis/wgpolicyk8s.io/v1alpha2',
          'list deployments',
          'list configmaps',
          'list policyreports',
          'list clusterpolicyreports',
          'create policyreports',
          'update policyreports',
          'delete policyreports',
          'delete clusterpolicyreports',
          'get leases',
          'create leases',
          'update leases',
        ]),
      );
      const account = { namespace: 'driftgate', name: 'driftgate' };
      const roles = rolesBoundTo(await renderDeploy('cert-manager', ['scan']), account);
      expect(requests.filter((request) => !allowedBy(roles, request))).toEqual([]);
      // Without the component the writes and the Lease are refused: the component is what grants them.
      const base = rolesBoundTo(await renderDeploy('cert-manager'), account);
      const refused = requests.filter((request) => !allowedBy(base, request));
      expect(new Set(refused.map((r) => `${r.verb} ${r.resource}`))).toEqual(
        new Set([
          'list configmaps',
          'list policyreports',
          'list clusterpolicyreports',
          'create policyreports',
          'update policyreports',
          'delete policyreports',
          'delete clusterpolicyreports',
          'get leases',
          'create leases',
          'update leases',
          // Discovery is every user's (system:discovery) but not named by the base.
          'get ',
        ]),
      );
    },
  );
});

describe('the scan Lease', () => {
  function elector(identity: string): ScanLease {
    const lease = startScanLease({
      connection: api.connection(),
      namespace: 'driftgate',
      identity,
      logger: captureLogger().logger,
      leaseDurationSeconds: 1,
      retryMs: 100,
    });
    stops.push(() => lease.stop());
    return lease;
  }

  it('is taken over from a holder that stopped renewing, only after a full lease duration', async () => {
    api = await startFakeApiServer();
    const renewed = '2026-12-07T03:00:00.000000Z';
    api.put(resourceTypes.leases, {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'driftgate-scan', namespace: 'driftgate' },
      spec: {
        holderIdentity: 'driftgate-gone',
        leaseDurationSeconds: 1,
        acquireTime: renewed,
        renewTime: renewed,
        leaseTransitions: 3,
      },
    });
    const lease = elector('driftgate-new');
    await lease.settled;
    // The holder's renewTime is old, but this replica's clock is not trusted against another's:
    // it waits a lease duration of seeing no change.
    expect(lease.role()).toBe('follower');
    expect(await eventually(() => Promise.resolve(lease.role() === 'leader'), 5_000)).toBe(true);
    const spec = (await fetchJson(LEASE)).spec as JsonObject;
    expect(spec.holderIdentity).toBe('driftgate-new');
    expect(spec.leaseTransitions).toBe(4);
  });

  it('is held by one of two replicas starting together; a 409 leaves the other following', async () => {
    api = await startFakeApiServer();
    const [a, b] = [elector('driftgate-a'), elector('driftgate-b')];
    await Promise.all([a.settled, b.settled]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect([a.role(), b.role()].sort()).toEqual(['follower', 'leader']);
    // Both found no Lease and both created one: the API server took one, refused the other.
    const creates = api.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/leases'));
    expect(creates).toHaveLength(2);
  });

  it('reports uncoordinated when RBAC forbids the Lease', async () => {
    api = await startFakeApiServer();
    api.forbid(resourceTypes.leases);
    const lease = elector('driftgate-a');
    await lease.settled;
    expect(lease.role()).toBe('uncoordinated');
  });
});

describe('microTime', () => {
  it('writes six fractional digits, as the API server parses a MicroTime', () => {
    expect(microTime(new Date('2026-12-07T03:04:05.678Z'))).toBe('2026-12-07T03:04:05.678000Z');
  });
});
