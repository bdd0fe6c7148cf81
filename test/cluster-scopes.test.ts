// The scope of the cluster's kinds, custom ones included, read from its aggregated discovery
// (here the documents a real kube-apiserver v1.31 served, through the loopback API server).
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { watchApiScopes, type ApiScopes } from '../src/cluster/api-scopes.js';
import { connectionFrom } from '../src/cluster/connection.js';
import { watchCluster, type ClusterWatch } from '../src/cluster/cluster-facts.js';
import type { WatchEvents } from '../src/cluster/watch.js';
import { decide } from '../src/policy/decide.js';
import { captureLogger, waitFor } from './desired/git-fixture.js';
import { startFakeApiServer, type FakeApiServer } from './support/fake-apiserver.js';
import { captured131, edited, fixturePath } from './support/fixtures.js';
import { config, snapshotOf } from './support/policy.js';

const read = (name: string): any =>
  JSON.parse(readFileSync(fixturePath(`captured-1.31/discovery/${name}`), 'utf8'));
const capturedDiscovery = () => ({
  api: read('aggregated-api.json'),
  apis: read('aggregated-apis.json'),
});

let api: FakeApiServer;
let scopes: ApiScopes | undefined;
let cluster: ClusterWatch | undefined;
const log = captureLogger();
beforeEach(async () => {
  api = await startFakeApiServer();
  api.serveDiscovery(capturedDiscovery());
});
afterEach(async () => {
  await scopes?.stop();
  await cluster?.stop();
  scopes = undefined;
  cluster = undefined;
  await api.stop();
});

const quiet: WatchEvents = {
  started: () => {},
  synced: () => {},
  changed: () => {},
  relisted: () => {},
  failed: () => {},
};

describe('the cluster’s discovery', () => {
  it('gives the scope of built-in and custom kinds, asking for aggregated discovery', async () => {
    scopes = watchApiScopes(api.connection(), { logger: log.logger });
    expect(await waitFor(() => scopes!.isSynced(), 5_000)).toBe(true);
    expect(scopes.scopeOf('capture.example.com', 'ClusterWidget')).toBe('Cluster');
    expect(scopes.scopeOf('capture.example.com', 'Widget')).toBe('Namespaced');
    expect(scopes.scopeOf('cert-manager.io', 'Issuer')).toBe('Namespaced');
    expect(scopes.scopeOf('rbac.authorization.k8s.io', 'ClusterRole')).toBe('Cluster');
    expect(scopes.scopeOf('kyverno.io', 'ClusterPolicy')).toBeUndefined();
    const asked = api.requests.filter((r) => r.path === '/api' || r.path === '/apis');
    expect(asked.map((r) => r.accept)).toEqual([
      'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList',
      'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList',
    ]);
  });

  it('learns a CRD installed later, and keeps what it knows while the API server is away', async () => {
    scopes = watchApiScopes(api.connection(), { logger: log.logger, intervalMs: 50 });
    expect(await waitFor(() => scopes!.isSynced(), 5_000)).toBe(true);
    const withKyverno = capturedDiscovery();
    const clusterWidgets = withKyverno.apis.items.find(
      (item: any) => item.metadata.name === 'capture.example.com',
    );
    withKyverno.apis.items.push(
      edited(clusterWidgets, (group) => {
        group.metadata.name = 'kyverno.io';
        group.versions[0].resources = [
          edited(group.versions[0].resources[0], (resource) => {
            resource.resource = 'clusterpolicies';
            resource.responseKind.kind = 'ClusterPolicy';
          }),
        ];
      }),
    );
    api.serveDiscovery(withKyverno);
    expect(
      await waitFor(() => scopes!.scopeOf('kyverno.io', 'ClusterPolicy') === 'Cluster', 5_000),
    ).toBe(true);
    await api.goDown();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(scopes.scopeOf('kyverno.io', 'ClusterPolicy')).toBe('Cluster');
    await api.comeBack();
  });

  it('stops at once while a read hangs on an API server that never answers', async () => {
    const silent = createServer((socket) => sockets.push(socket));
    const sockets: Socket[] = [];
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const connection = connectionFrom({
      server: `https://127.0.0.1:${port}`,
      insecureSkipTlsVerify: true,
      token: 'token',
    });
    try {
      const hanging = watchApiScopes(connection, { logger: log.logger });
      expect(await waitFor(() => sockets.length > 0, 5_000)).toBe(true);
      const started = Date.now();
      await hanging.stop();
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(hanging.isSynced()).toBe(false);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('is part of the cluster facts the decision reads', async () => {
    cluster = watchCluster(
      api.connection(),
      { namespace: 'driftgate', overrideConfigMap: 'driftgate-override' },
      { logger: log.logger, events: quiet, timing: { initialBackoffMs: 50, maxBackoffMs: 200 } },
    );
    expect(await waitFor(() => cluster!.synced()['api-discovery'] === true, 5_000)).toBe(true);
    const facts = cluster.facts();
    expect(facts.scopeOf?.('capture.example.com', 'ClusterWidget')).toBe('Cluster');
    // The ClusterWidget declared in Git without its CRD, and the 73b edit.
    const git = snapshotOf([
      { name: 'widget', object: captured131.manifest('clusterwidget-global') },
    ]);
    const decision = decide(
      captured131.review('73b-edit-clusterwidget-by-alice'),
      git,
      facts,
      config(),
      new Date('2026-12-07T02:00:00Z'),
    );
    expect(decision).toMatchObject({ kind: 'denied', reason: 'drift' });
    expect(decision.key?.namespace).toBe('');
  });
});
