// One list-and-watch against the loopback API server over TLS: where each watch starts (the
// list's resourceVersion, the last event's, a bookmark's), a relist when that is gone (410),
// and a growing backoff after errors.
import type { KubernetesObject } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { watchCollection, type WatchEvents, type WatchedCollection } from '../src/cluster/watch.js';
import type { JsonObject } from '../src/kube/object.js';
import { captureLogger, waitFor } from './desired/git-fixture.js';
import {
  resourceTypes,
  startFakeApiServer,
  type FakeApiServer,
  type RecordedRequest,
} from './support/fake-apiserver.js';

const PATH = '/api/v1/configmaps';
const configMap = (name: string, data: Record<string, string> = {}): JsonObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'shop' },
  data,
});

let api: FakeApiServer;
let watch: WatchedCollection<KubernetesObject> | undefined;
let log = captureLogger();
beforeEach(async () => {
  api = await startFakeApiServer();
  log = captureLogger();
});
afterEach(async () => {
  await watch?.stop();
  watch = undefined;
  await api.stop();
});

function start(timing = { initialBackoffMs: 20, maxBackoffMs: 80 }) {
  const counts = { changed: 0, relisted: 0, failed: 0, synced: 0 };
  const events: WatchEvents = {
    started: () => undefined,
    synced: () => {
      counts.synced++;
    },
    changed: () => {
      counts.changed++;
    },
    relisted: () => {
      counts.relisted++;
    },
    failed: () => {
      counts.failed++;
    },
  };
  watch = watchCollection(
    api.connection(),
    { name: 'configmaps', path: PATH },
    { logger: log.logger, events, timing },
  );
  return { watch, counts };
}

const lists = () => api.requests.filter((r) => r.path === PATH && !r.query.has('watch'));
const watches = () => api.requests.filter((r) => r.path === PATH && r.query.has('watch'));
const lastWatch = (): RecordedRequest | undefined => watches().at(-1);
const dataOf = (object: KubernetesObject | undefined) =>
  (object as { data?: Record<string, string> } | undefined)?.data;

describe('a list-and-watch', () => {
  it('lists, then watches from the list’s resourceVersion with bookmarks', async () => {
    api.put(resourceTypes.configmaps, configMap('a'));
    const { watch, counts } = start();
    expect(await waitFor(() => watches().length === 1, 5_000)).toBe(true);
    expect(watch.get('a', 'shop')?.metadata?.name).toBe('a');
    expect(counts.synced).toBe(1);
    const listed = lists()[0];
    expect(lastWatch()?.query.get('allowWatchBookmarks')).toBe('true');
    expect(lastWatch()?.query.get('watch')).toBe('true');
    expect(Number(lastWatch()?.query.get('timeoutSeconds'))).toBeGreaterThanOrEqual(300);
    expect(lastWatch()?.query.get('resourceVersion')).toMatch(/^\d+$/);
    expect(listed?.accept).toBe('application/json');

    api.put(resourceTypes.configmaps, configMap('b'));
    expect(await waitFor(() => watch.get('b', 'shop') !== undefined, 5_000)).toBe(true);
    api.remove(resourceTypes.configmaps, 'shop', 'a');
    expect(await waitFor(() => watch.get('a', 'shop') === undefined, 5_000)).toBe(true);
    expect(watch.list().map((o) => o.metadata?.name)).toEqual(['b']);
  });

  it('a watch the server ends resumes from the last event, without a relist', async () => {
    const { watch, counts } = start();
    expect(await waitFor(() => watches().length === 1, 5_000)).toBe(true);
    const stored = api.put(resourceTypes.configmaps, configMap('a', { v: '1' }));
    expect(await waitFor(() => watch.get('a', 'shop') !== undefined, 5_000)).toBe(true);
    api.endWatches();
    expect(await waitFor(() => watches().length === 2, 5_000)).toBe(true);
    expect(lastWatch()?.query.get('resourceVersion')).toBe(
      (stored.metadata as { resourceVersion: string }).resourceVersion,
    );
    api.put(resourceTypes.configmaps, configMap('a', { v: '2' }));
    expect(await waitFor(() => dataOf(watch.get('a', 'shop'))?.v === '2', 5_000)).toBe(true);
    expect(lists()).toHaveLength(1);
    expect(counts.relisted).toBe(0);
  });

  it('a bookmark moves where the next watch starts', async () => {
    start();
    expect(await waitFor(() => watches().length === 1 && api.openWatches() === 1, 5_000)).toBe(
      true,
    );
    const from = Number(lastWatch()?.query.get('resourceVersion'));
    // Changes to another kind move the server's resourceVersion; only a bookmark tells us.
    api.put(resourceTypes.namespaces, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'x' },
    });
    api.put(resourceTypes.namespaces, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'y' },
    });
    api.bookmark();
    // The bookmark is taken in before the watch ends: both arrive on the one connection.
    api.endWatches();
    expect(await waitFor(() => watches().length === 2, 5_000)).toBe(true);
    expect(Number(lastWatch()?.query.get('resourceVersion'))).toBe(from + 2);
    expect(lists()).toHaveLength(1);
  });

  it('lists again when its resourceVersion is gone (410), and keeps watching', async () => {
    api.put(resourceTypes.configmaps, configMap('a'));
    const { watch, counts } = start();
    expect(await waitFor(() => watches().length === 1 && api.openWatches() === 1, 5_000)).toBe(
      true,
    );
    api.remove(resourceTypes.configmaps, 'shop', 'a');
    api.put(resourceTypes.configmaps, configMap('b'));
    expect(await waitFor(() => watch.get('b', 'shop') !== undefined, 5_000)).toBe(true);
    // A change of another kind, then the history goes: the resumed watch is too old.
    api.put(resourceTypes.namespaces, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'x' },
    });
    api.compact();
    api.endWatches();
    expect(await waitFor(() => counts.relisted === 1, 5_000)).toBe(true);
    expect(lists()).toHaveLength(2);
    expect(watch.list().map((o) => o.metadata?.name)).toEqual(['b']);
    api.put(resourceTypes.configmaps, configMap('c'));
    expect(await waitFor(() => watch.get('c', 'shop') !== undefined, 5_000)).toBe(true);
    expect(counts.failed).toBe(0);
  });

  it('after an error starts again with a backoff that doubles up to its cap', async () => {
    api.forbid(resourceTypes.configmaps);
    const { watch, counts } = start({ initialBackoffMs: 10, maxBackoffMs: 40 });
    expect(await waitFor(() => counts.failed >= 5, 5_000)).toBe(true);
    const retries = log
      .lines()
      .filter((line) => line.watch === 'configmaps' && line.retryInMs !== undefined)
      .map((line) => line.retryInMs);
    expect(retries.slice(0, 5)).toEqual([10, 20, 40, 40, 40]);
    expect(watch.isSynced()).toBe(false);
    expect(watches()).toHaveLength(0);
  });

  it('after the API server was down, resumes from where it was, keeping its cache', async () => {
    api.put(resourceTypes.configmaps, configMap('a'));
    const { watch, counts } = start();
    expect(await waitFor(() => watches().length === 1 && api.openWatches() === 1, 5_000)).toBe(
      true,
    );
    await api.goDown();
    expect(await waitFor(() => counts.failed >= 1, 5_000)).toBe(true);
    expect(watch.get('a', 'shop')).toBeDefined();
    api.put(resourceTypes.configmaps, configMap('b'));
    await api.comeBack();
    expect(await waitFor(() => watch.get('b', 'shop') !== undefined, 5_000)).toBe(true);
    expect(lists()).toHaveLength(1);
    expect(counts.relisted).toBe(0);
  });
});
