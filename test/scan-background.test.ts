// serve's background scan: the same reads as `driftgate scan`, on a timer beside the webhook,
// published as metrics; a scan that cannot read the cluster leaves the last results standing.
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ClusterConnection } from '../src/cluster/connection.js';
import type { Config } from '../src/config/config.js';
import type { JsonObject } from '../src/kube/object.js';
import { jittered, startBackgroundScan, type BackgroundScan } from '../src/scan/background.js';
import { createClusterReader, type ClusterReader } from '../src/scan/reader.js';
import { captureLogger, eventually } from './desired/git-fixture.js';
import { resourceTypes, startFakeApiServer, type FakeApiServer } from './support/fake-apiserver.js';
import { edited, review, stored131 } from './support/fixtures.js';
import { config, facts, snapshot } from './support/policy.js';
import { getText, postReview, startTestServer } from './support/server.js';

const deployment = review('10-apply-create-deployment-by-argocd').object!;
const configMap = review('02-apply-create-configmap-by-argocd').object!;
const hotfix = edited(deployment, (d) => {
  d.spec.template.spec.containers[0].image = 'registry.example.com/shop/web:hotfix';
}) as JsonObject;

let api: FakeApiServer;
let scans: BackgroundScan[] = [];
beforeEach(async () => {
  api = await startFakeApiServer();
  api.put(resourceTypes.deployments, hotfix);
  api.put(resourceTypes.configmaps, configMap as JsonObject);
});
afterEach(async () => {
  await Promise.all(scans.map((scan) => scan.stop()));
  scans = [];
  await api.stop();
});

async function metric(registry: Registry, name: string): Promise<Record<string, number>> {
  const values: Record<string, number> = {};
  for (const value of (await registry.getSingleMetric(name)?.get())?.values ?? []) {
    const labels = Object.entries(value.labels)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(',');
    values[`${(value as { metricName?: string }).metricName ?? name}{${labels}}`] = value.value;
  }
  return values;
}

function start(
  overrides: { ready?: () => boolean; intervalMs?: number; connection?: ClusterConnection } = {},
) {
  const registry = new Registry();
  const log = captureLogger();
  const base = config();
  const scanConfig: Config = {
    ...base,
    scan: { ...base.scan, intervalMs: overrides.intervalMs ?? 100, qps: 1000 },
  };
  const readers: ClusterReader[] = [];
  const scan = startBackgroundScan({
    connection: overrides.connection ?? api.connection(),
    config: scanConfig,
    snapshot: () => snapshot(['deploy-web', 'cm-web-config']),
    sources: () => scanConfig.sources,
    facts: () => facts(),
    ready: overrides.ready ?? (() => true),
    registry,
    logger: log.logger,
    now: () => new Date(),
    random: () => 0,
    initialDelayMs: 0,
    retryMs: 50,
    reader: (connection, qps) => {
      const reader = createClusterReader(connection, { qps });
      readers.push(reader);
      return reader;
    },
  });
  scans.push(scan);
  return { scan, registry, log, readers };
}

describe('the background scan', () => {
  it('publishes drifted and missing objects, its duration and its last success', async () => {
    const { scan, registry } = start({ intervalMs: 60_000 });
    expect(await eventually(() => Promise.resolve(scan.last() !== undefined), 10_000)).toBe(true);
    expect(await metric(registry, 'driftgate_drifted_objects')).toEqual({
      'driftgate_drifted_objects{namespace=shop,kind=Deployment}': 1,
      'driftgate_drifted_objects{namespace=shop,kind=ConfigMap}': 0,
    });
    expect(await metric(registry, 'driftgate_missing_objects')).toEqual({
      'driftgate_missing_objects{namespace=shop}': 0,
    });
    const [success] = Object.values(
      await metric(registry, 'driftgate_scan_last_success_timestamp_seconds'),
    );
    expect(success).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(
      (await metric(registry, 'driftgate_scan_duration_seconds'))[
        'driftgate_scan_duration_seconds_count{}'
      ],
    ).toBe(1);
  });

  it('counts the objects it read by what protects them: Git, the sync record, nothing', async () => {
    // Beside Git's web: a Deployment a Flux HelmRelease deployed (helm-controller's write as
    // recorded, with the namespace label helm-controller adds beside the name label).
    api.put(
      resourceTypes.deployments,
      edited(stored131('64b-apply-update-deployment-helm-app-by-helm'), (d) => {
        d.metadata.labels['helm.toolkit.fluxcd.io/namespace'] = 'shop';
      }) as JsonObject,
    );
    const { scan, registry } = start();
    expect(await eventually(() => Promise.resolve(scan.last() !== undefined), 10_000)).toBe(true);
    expect(await metric(registry, 'driftgate_objects_protected')).toEqual({
      'driftgate_objects_protected{by=git}': 2,
      'driftgate_objects_protected{by=sync-record}': 1,
      'driftgate_objects_protected{by=none}': 0,
    });
    // Its record gone (a person's update took every field), nothing protects it.
    api.put(
      resourceTypes.deployments,
      edited(stored131('64b-apply-update-deployment-helm-app-by-helm'), (d) => {
        d.metadata.labels['helm.toolkit.fluxcd.io/namespace'] = 'shop';
        for (const entry of d.metadata.managedFields) entry.manager = 'kubectl-edit';
      }) as JsonObject,
    );
    expect(
      await eventually(
        async () =>
          (await metric(registry, 'driftgate_objects_protected'))[
            'driftgate_objects_protected{by=none}'
          ] === 1,
        10_000,
      ),
    ).toBe(true);
    expect(
      (await metric(registry, 'driftgate_objects_protected'))[
        'driftgate_objects_protected{by=sync-record}'
      ],
    ).toBe(0);
  });

  it('scans again after the interval: a fix in the cluster clears the drift, a deletion is missing', async () => {
    const { scan, registry } = start();
    expect(await eventually(() => Promise.resolve(scan.last() !== undefined), 10_000)).toBe(true);
    api.put(resourceTypes.deployments, deployment as JsonObject);
    api.remove(resourceTypes.configmaps, 'shop', 'web-config');
    expect(
      await eventually(
        async () =>
          (await metric(registry, 'driftgate_missing_objects'))[
            'driftgate_missing_objects{namespace=shop}'
          ] === 1,
        10_000,
      ),
    ).toBe(true);
    expect(
      (await metric(registry, 'driftgate_drifted_objects'))[
        'driftgate_drifted_objects{namespace=shop,kind=Deployment}'
      ],
    ).toBe(0);
  });

  it('makes the same paged LISTs as driftgate scan, and none before the cluster facts are ready', async () => {
    let ready = false;
    const { scan, readers } = start({ ready: () => ready, intervalMs: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(api.requests).toEqual([]);
    ready = true;
    expect(await eventually(() => Promise.resolve(scan.last() !== undefined), 10_000)).toBe(true);
    const lists = api.requests.filter((r) => r.path.includes('/namespaces/shop/'));
    expect(lists.map((r) => r.path).sort()).toEqual([
      '/api/v1/namespaces/shop/configmaps',
      '/apis/apps/v1/namespaces/shop/deployments',
    ]);
    expect(lists.every((r) => r.query.get('limit') === '500')).toBe(true);
    // Every request but the scan Lease's (taken beside the reader) is the reader's.
    expect(readers[0]?.requests).toBe(
      api.requests.filter((r) => !r.path.includes('/leases')).length,
    );
  });

  it('scans without the cluster facts once it has waited an interval for them, and says so', async () => {
    const { scan, log } = start({ ready: () => false, intervalMs: 300 });
    expect(await eventually(() => Promise.resolve(scan.last() !== undefined), 10_000)).toBe(true);
    expect(log.lines().some((line) => String(line.msg).includes('have not all listed'))).toBe(true);
  });

  it('keeps the last results when the cluster cannot be read, and says so', async () => {
    const { scan, registry, log } = start({ intervalMs: 100 });
    expect(await eventually(() => Promise.resolve(scan.last() !== undefined), 10_000)).toBe(true);
    const before = await metric(registry, 'driftgate_scan_last_success_timestamp_seconds');
    await api.goDown();
    expect(
      await eventually(
        () =>
          Promise.resolve(
            log.lines().some((line) => String(line.msg).startsWith('background scan failed')),
          ),
        10_000,
      ),
    ).toBe(true);
    await scan.stop();
    expect(await metric(registry, 'driftgate_scan_last_success_timestamp_seconds')).toEqual(before);
    expect(
      (await metric(registry, 'driftgate_drifted_objects'))[
        'driftgate_drifted_objects{namespace=shop,kind=Deployment}'
      ],
    ).toBe(1);
    await api.comeBack();
  });

  it('stops: no request after stop()', async () => {
    const { scan } = start({ intervalMs: 100 });
    expect(await eventually(() => Promise.resolve(scan.last() !== undefined), 10_000)).toBe(true);
    await scan.stop();
    const made = api.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(api.requests.length).toBe(made);
  });
});

describe('the wait between scans', () => {
  it('is the interval plus up to a fifth more, at random', () => {
    expect(jittered(600_000, () => 0)).toBe(600_000);
    expect(jittered(600_000, () => 0.5)).toBe(660_000);
    expect(jittered(600_000, () => 0.999_999)).toBeLessThan(720_000);
  });
});

describe('driftgate serve with the cluster watched', () => {
  it('scans in the background and answers reviews meanwhile', { timeout: 40_000 }, async () => {
    const server = await startTestServer({
      manifests: ['deploy-web', 'cm-web-config'],
      connection: api.connection(),
      scanDelayMs: 0,
    });
    try {
      const response = await postReview(
        server.driftgate,
        'validate',
        review('20-set-image-deployment-by-alice'),
      );
      expect(response.allowed).toBe(false);
      expect(
        await eventually(
          async () =>
            (await getText(server.driftgate, '/metrics')).body.includes(
              'driftgate_drifted_objects{namespace="shop",kind="Deployment"} 1',
            ),
          15_000,
        ),
      ).toBe(true);
      expect((await getText(server.driftgate, '/metrics')).body).toMatch(
        /driftgate_scan_last_success_timestamp_seconds \d+/,
      );
      expect((await getText(server.driftgate, '/metrics')).body).toContain(
        'driftgate_objects_protected{by="git"} 2',
      );
    } finally {
      await server.stop();
    }
  });

  it('does not scan with scan.enabled: false', async () => {
    const server = await startTestServer({
      manifests: ['deploy-web'],
      connection: api.connection(),
      scanDelayMs: 0,
      config: { scan: { enabled: false } },
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(api.requests.some((r) => r.query.get('limit') === '500')).toBe(false);
      expect((await getText(server.driftgate, '/metrics')).body).not.toContain(
        'driftgate_scan_last_success_timestamp_seconds',
      );
    } finally {
      await server.stop();
    }
  });
});
