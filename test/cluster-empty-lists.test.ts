// Empty lists as a real kube-apiserver v1.31 sends them: a PartialObjectMetadataList of no
// objects comes as `"items": null` (Go's nil slice). Every watch must take that as an empty
// list: sync once, without a failure or a relist, and then follow what is added.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import type { KubernetesObject } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { watchCluster, type ClusterWatch } from '../src/cluster/cluster-facts.js';
import { watchDiscovery, type DiscoveryWatch } from '../src/cluster/discovery-watch.js';
import { watchMetrics } from '../src/cluster/metrics.js';
import { watchCollection, type WatchEvents, type WatchedCollection } from '../src/cluster/watch.js';
import type { DiscoveryResult } from '../src/discovery/result.js';
import type { JsonObject } from '../src/kube/object.js';
import { captureLogger, waitFor } from './desired/git-fixture.js';
import {
  resourceTypes,
  startFakeApiServer,
  type FakeApiServer,
  type FakeApiServerOptions,
} from './support/fake-apiserver.js';
import { fixturePath, review } from './support/fixtures.js';

const fast = { initialBackoffMs: 50, maxBackoffMs: 200 };

let api: FakeApiServer | undefined;
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
  await api?.stop();
  api = undefined;
});

async function startApi(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  api = await startFakeApiServer(options);
  return api;
}

/** The watch metrics on their own registry, and every event in order. */
function recorded(): { events: WatchEvents; registry: Registry; seen: string[] } {
  const registry = new Registry();
  const metrics = watchMetrics(registry);
  const seen: string[] = [];
  const events: WatchEvents = {
    started: (name) => {
      seen.push(`started:${name}`);
      metrics.started(name);
    },
    synced: (name) => {
      seen.push(`synced:${name}`);
      metrics.synced(name);
    },
    changed: (name) => {
      seen.push(`changed:${name}`);
      metrics.changed(name);
    },
    relisted: (name) => {
      seen.push(`relisted:${name}`);
      metrics.relisted(name);
    },
    failed: (name, error) => {
      seen.push(`failed:${name}`);
      metrics.failed(name, error);
    },
  };
  return { events, registry, seen };
}

/** The value of a metric for one watch; 0 when it was never set. */
async function metric(registry: Registry, name: string, watch: string): Promise<number> {
  const found = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  return found?.values.find((v) => v.labels.watch === watch)?.value ?? 0;
}

/** One GET as a client sends it, with the server's CA and token; the parsed body. */
async function get(server: FakeApiServer, path: string, accept: string): Promise<JsonObject> {
  const connection = server.connection();
  const options = { method: 'GET', headers: { Accept: accept } };
  await connection.authenticate(options);
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}${path}`, options, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => {
        resolve(JSON.parse(text) as JsonObject);
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const recordedList = (name: string) =>
  JSON.parse(readFileSync(fixturePath(`apiserver/${name}.json`), 'utf8')) as JsonObject;
const withoutResourceVersion = (list: JsonObject) => ({ ...list, metadata: {} });

/** The StatefulSet shop/db as the API server sent it to admission when Argo CD created it. */
const statefulSet = () => review('70-apply-create-statefulset-by-argocd').object as JsonObject;
const db = { group: 'apps', kind: 'StatefulSet', namespace: 'shop', name: 'db' };

describe('the loopback API server', () => {
  it('answers empty lists exactly as the recorded v1.31 API server did', async () => {
    const server = await startApi();
    const metadata = await get(
      server,
      '/apis/apps/v1/statefulsets',
      'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1',
    );
    expect(metadata.items).toBeNull();
    expect(withoutResourceVersion(metadata)).toEqual(
      withoutResourceVersion(recordedList('131-list-statefulsets-metadata-empty')),
    );
    const typed = await get(server, '/apis/apps/v1/statefulsets', 'application/json');
    expect(withoutResourceVersion(typed)).toEqual(
      withoutResourceVersion(recordedList('131-list-statefulsets-empty')),
    );
  });

  it('with emptyItems: null, answers every empty list with null items', async () => {
    const server = await startApi({ emptyItems: 'null' });
    const typed = await get(server, '/apis/apps/v1/statefulsets', 'application/json');
    expect(typed).toHaveProperty('items', null);
    server.put(resourceTypes.statefulsets, statefulSet());
    const listed = await get(server, '/apis/apps/v1/statefulsets', 'application/json');
    expect(listed.items).toHaveLength(1);
  });
});

describe('a kind with no objects, listed as items: null', () => {
  it('syncs once without a failure or a relist, and objects added later arrive', async () => {
    const server = await startApi();
    const log = captureLogger();
    const { events, registry, seen } = recorded();
    const cluster: ClusterWatch = watchCluster(
      server.connection(),
      { namespace: 'driftgate', overrideConfigMap: 'driftgate-override' },
      { logger: log.logger, events, timing: fast },
    );
    stops.push(() => cluster.stop());
    expect(await waitFor(() => cluster.synced().statefulsets === true, 5_000)).toBe(true);
    // The list that came back null is the one that synced it.
    const lists = server.requests.filter(
      (r) => r.path === '/apis/apps/v1/statefulsets' && r.query.get('watch') !== 'true',
    );
    expect(lists).toHaveLength(1);
    expect(lists[0]?.accept).toContain('as=PartialObjectMetadataList');

    server.put(resourceTypes.statefulsets, statefulSet());
    expect(await waitFor(() => cluster.facts().parentAnnotations(db) !== undefined, 5_000)).toBe(
      true,
    );

    expect(seen.filter((event) => /^(failed|relisted):/.test(event))).toEqual([]);
    expect(seen.filter((event) => event === 'synced:statefulsets')).toHaveLength(1);
    expect(await metric(registry, 'driftgate_cluster_watch_errors_total', 'statefulsets')).toBe(0);
    expect(await metric(registry, 'driftgate_cluster_watch_relists_total', 'statefulsets')).toBe(0);
    expect(await metric(registry, 'driftgate_cluster_watch_synced', 'statefulsets')).toBe(1);
    const lines = log.lines();
    expect(lines.filter((line) => String(line.msg).startsWith('cluster watch failed'))).toEqual([]);
    expect(
      lines.find((line) => line.msg === 'cluster watch synced' && line.watch === 'statefulsets'),
    ).toMatchObject({ objects: 0 });
  });

  it('every cluster and discovery watch takes null items from every kind', async () => {
    const server = await startApi({ emptyItems: 'null' });
    const log = captureLogger();
    const { events, registry, seen } = recorded();
    const cluster = watchCluster(
      server.connection(),
      { namespace: 'driftgate', overrideConfigMap: 'driftgate-override' },
      { logger: log.logger, events, timing: fast },
    );
    stops.push(() => cluster.stop());
    const published: DiscoveryResult[] = [];
    const discovery: DiscoveryWatch | undefined = watchDiscovery(
      server.connection(),
      {
        argocd: {
          namespace: 'argocd',
          controller: 'system:serviceaccount:argocd:argocd-application-controller',
          repoCredentials: false,
          trackingMethod: 'annotation',
          instanceLabelKey: 'app.kubernetes.io/instance',
          hub: null,
        },
        flux: { namespace: null },
        pollIntervalMs: 60_000,
      },
      {
        logger: log.logger,
        events,
        publish: (result) => published.push(result),
        timing: fast,
        debounceMs: 10,
      },
    );
    stops.push(async () => {
      await discovery?.stop();
    });
    expect(
      await waitFor(
        () => Object.values(cluster.synced()).every(Boolean) && discovery?.isSynced() === true,
        5_000,
      ),
    ).toBe(true);
    expect(await waitFor(() => published.length > 0, 5_000)).toBe(true);
    expect(published[0]).toEqual({ sources: [], problems: [] });

    const names = [...new Set(seen.map((event) => event.slice(event.indexOf(':') + 1)))];
    expect(names.length).toBeGreaterThanOrEqual(11);
    expect(seen.filter((event) => /^(failed|relisted):/.test(event))).toEqual([]);
    for (const name of names) {
      expect(
        seen.filter((event) => event === `synced:${name}`),
        name,
      ).toHaveLength(1);
      expect(await metric(registry, 'driftgate_cluster_watch_errors_total', name), name).toBe(0);
    }

    // Watching, not only listed: an HPA added now frees its target's replicas.
    const hpa = recordedList('01a-hpa-list-all').items as JsonObject[];
    const { resourceVersion: _rv, uid: _uid, ...metadata } = hpa[1]?.metadata as JsonObject;
    server.put(resourceTypes.hpas, {
      ...hpa[1],
      metadata: { ...metadata, namespace: 'shop', name: 'web' },
    });
    const web = { group: 'apps', kind: 'Deployment', namespace: 'shop', name: 'web' };
    expect(await waitFor(() => cluster.facts().hpaOf(web)?.name === 'shop/web', 5_000)).toBe(true);
  });
});

describe('synced', () => {
  it('is said only once the cache holds what the list returned', async () => {
    const server = await startApi();
    server.put(resourceTypes.statefulsets, statefulSet());
    const log = captureLogger();
    let heldWhenSynced: number | undefined;
    const { events } = recorded();
    const parents: WatchedCollection<KubernetesObject> = watchCollection(
      server.connection(),
      { name: 'statefulsets', path: '/apis/apps/v1/statefulsets', metadataOnly: true },
      {
        logger: log.logger,
        events: {
          ...events,
          synced: (name) => {
            heldWhenSynced = parents.list().length;
            events.synced(name);
          },
        },
        timing: fast,
      },
    );
    stops.push(() => parents.stop());
    expect(parents.isSynced()).toBe(false);
    expect(await waitFor(() => parents.isSynced(), 5_000)).toBe(true);
    expect(heldWhenSynced).toBe(1);
    expect(parents.get('db', 'shop')?.metadata?.name).toBe('db');
  });
});
