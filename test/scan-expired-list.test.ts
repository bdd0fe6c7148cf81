// A paged LIST whose continue token expires (410 Gone: etcd compacted the resourceVersion the
// first page pinned) is listed again from the start, once per read, as client-go's pager does;
// the scan then judges every object on the new list alone.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JsonObject, KubeObject } from '../src/kube/object.js';
import {
  createClusterReader,
  ExpiredListError,
  type ClusterReader,
  type ListPage,
} from '../src/scan/reader.js';
import { scanCluster } from '../src/scan/scan.js';
import { resourceTypes, startFakeApiServer, type FakeApiServer } from './support/fake-apiserver.js';
import { config, facts, snapshotOf } from './support/policy.js';

const PATH = '/api/v1/namespaces/shop/configmaps';

function configMap(name: string, value: string): JsonObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: 'shop' },
    data: { value },
  };
}

let api: FakeApiServer;
beforeEach(async () => {
  api = await startFakeApiServer();
  for (const name of ['a', 'b', 'c', 'd', 'e'])
    api.put(resourceTypes.configmaps, configMap(name, '1'));
});
afterEach(async () => {
  await api.stop();
});

const names = (page: ListPage) => page.items.map((item) => item.metadata?.name);

/** A write elsewhere, then compaction: the revision a list began at is gone. */
let writes = 0;
function compactAfterAWrite(): void {
  writes += 1;
  api.put(resourceTypes.configmaps, {
    ...configMap('other', String(writes)),
    metadata: { name: 'other', namespace: 'pay' },
  });
  api.compact();
}

describe('a paged LIST whose continue token expired', () => {
  it('is listed again from the start, the first page of the new list marked as such', async () => {
    const reader = createClusterReader(api.connection(), { qps: 1000, pageSize: 2 });
    const pages: ListPage[] = [];
    for await (const page of reader.list(PATH)) {
      pages.push(page);
      if (pages.length === 1) compactAfterAWrite();
    }
    expect(pages.map(names)).toEqual([['a', 'b'], ['a', 'b'], ['c', 'd'], ['e']]);
    expect(pages.map((page) => page.restarted === true)).toEqual([false, true, false, false]);
    const lists = api.requests.filter((r) => r.path === PATH);
    expect(lists.map((r) => r.query.has('continue'))).toEqual([false, true, false, true, true]);
  });

  it('is given up with a clear error when it expires again in the same read', async () => {
    const reader = createClusterReader(api.connection(), { qps: 1000, pageSize: 2 });
    const seen: ListPage[] = [];
    const read = async () => {
      for await (const page of reader.list(PATH)) {
        seen.push(page);
        compactAfterAWrite();
      }
    };
    await expect(read()).rejects.toThrow(ExpiredListError);
    expect(seen.map(names)).toEqual([
      ['a', 'b'],
      ['a', 'b'],
    ]);
    expect(api.requests.filter((r) => r.path === PATH)).toHaveLength(4);
  });

  it('leaves the scan judging each object by the new list, not the abandoned one', async () => {
    const inner = createClusterReader(api.connection(), { qps: 1000, pageSize: 2 });
    // Between the first page and the next, `a` is changed by hand and the token expires.
    const reader: ClusterReader = {
      get requests() {
        return inner.requests;
      },
      resource: (apiVersion, kind) => inner.resource(apiVersion, kind),
      async *list(path, query) {
        let pages = 0;
        for await (const page of inner.list(path, query)) {
          yield page;
          pages += 1;
          if (pages === 1) {
            api.put(resourceTypes.configmaps, configMap('a', 'changed by hand'));
            api.compact();
          }
        }
      },
    };
    const git: KubeObject[] = ['a', 'b', 'c', 'd', 'e'].map((name) => configMap(name, '1'));
    const settings = config();
    const report = await scanCluster({
      reader,
      snapshot: snapshotOf(git.map((object) => ({ name: object.metadata?.name ?? '', object }))),
      sources: settings.sources,
      config: settings,
      facts: facts(),
      now: new Date('2026-12-07T03:00:00Z'),
    });
    expect(report.objects.map((o) => [o.name, o.status])).toEqual([
      ['a', 'drifted'],
      ['b', 'in-sync'],
      ['c', 'in-sync'],
      ['d', 'in-sync'],
      ['e', 'in-sync'],
    ]);
    expect(report.objects[0]?.drift).toEqual([
      { path: 'data.value', git: '1', live: 'changed by hand' },
    ]);
  });
});
