// The Event recorder with the real client-node talking HTTPS to a loopback API server that
// answers as the captured kube-apiserver did: shape on the wire, series, failures, bounds.
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../src/admission/app.js';
import { createMetrics, type Metrics } from '../src/admission/metrics.js';
import { startServer, type RunningServer } from '../src/admission/server.js';
import type { DriftgateEvent } from '../src/audit/event.js';
import { selfSignedForDevelopment } from '../src/certs/generate.js';
import { sendJson } from '../src/cluster/get-json.js';
import {
  createEventRecorder,
  eventName,
  microTime,
  type EventRecorder,
  type EventRecorderOptions,
} from '../src/cluster/events.js';
import { validateConfig } from '../src/config/config.js';
import { createGitProvider, type GitDesiredProvider } from '../src/desired/git-provider.js';
import type { AdmissionRequest, AdmissionReview } from '../src/kube/admission.js';
import { noClusterFacts } from '../src/policy/facts.js';
import {
  capturedManifests,
  captureLogger,
  createTestRepo,
  eventually,
  tempDir,
  waitFor,
  type TestRepo,
} from './desired/git-fixture.js';
import { edited, review } from './support/fixtures.js';
import { SHOP_MANIFESTS } from './support/policy.js';
import {
  connectionFor,
  startEventsApiServer,
  type EventsApiServer,
} from './support/events-apiserver.js';

const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

const denial = (name = 'web', namespace = 'shop'): DriftgateEvent => ({
  reason: 'DriftDenied',
  type: 'Warning',
  action: 'DenyUpdate',
  regarding: {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    namespace,
    name,
    uid: 'de5ffee6-4df4-4748-b6d7-bebdf9e5583f',
  },
  note: `driftgate denied UPDATE of apps/Deployment ${namespace}/${name} by alice@example.com: 1 field differs from Git. Fields: spec.replicas`,
});

let apiserver: EventsApiServer;
let registry: Registry;
let recorder: EventRecorder | undefined;
let log: ReturnType<typeof captureLogger>;

beforeEach(async () => {
  apiserver = await startEventsApiServer();
  registry = new Registry();
  log = captureLogger();
});

afterEach(async () => {
  await recorder?.stop(1_000);
  recorder = undefined;
  await apiserver.stop();
});

function start(options: Partial<EventRecorderOptions> = {}): EventRecorder {
  recorder = createEventRecorder({
    connection: apiserver.connection(),
    registry,
    logger: log.logger,
    reportingInstance: 'driftgate-6d4f9c7b8-x2k4q',
    seriesUpdateIntervalMs: 100,
    requestTimeoutMs: 2_000,
    retryBaseDelayMs: 20,
    ...options,
  });
  return recorder;
}

async function counter(name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    .reduce((sum, v) => sum + v.value, 0);
}

const writes = () => apiserver.requests.filter((r) => r.method !== 'GET');
const posts = () => apiserver.requests.filter((r) => r.method === 'POST');
const patches = () => apiserver.requests.filter((r) => r.method === 'PATCH');

describe('an Event on the wire', () => {
  it('is created as the captured one: fields, name, namespace, six-digit eventTime', async () => {
    const at = new Date('2026-11-22T03:56:46.700Z');
    start({ now: () => at });
    recorder?.record(denial());
    expect(await waitFor(() => posts().length === 1, 5_000)).toBe(true);

    const [request] = posts();
    expect(request?.status).toBe(201);
    expect(request?.path).toBe('/apis/events.k8s.io/v1/namespaces/shop/events');
    expect(request?.contentType).toBe('application/json');
    const body = JSON.parse(request!.body);
    expect(Object.keys(body).sort()).toEqual(
      [
        'action',
        'apiVersion',
        'eventTime',
        'kind',
        'metadata',
        'note',
        'reason',
        'regarding',
        'reportingController',
        'reportingInstance',
        'type',
      ].sort(),
    );
    expect(body).toMatchObject({
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      // client-go's name: the object's name and the time in hexadecimal nanoseconds.
      metadata: {
        name: `web.${(BigInt(at.getTime()) * 1_000_000n).toString(16)}`,
        namespace: 'shop',
      },
      eventTime: '2026-11-22T03:56:46.700000Z',
      reportingController: 'driftgate.io/driftgate',
      reportingInstance: 'driftgate-6d4f9c7b8-x2k4q',
      action: 'DenyUpdate',
      reason: 'DriftDenied',
      type: 'Warning',
      regarding: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace: 'shop',
        name: 'web',
        uid: 'de5ffee6-4df4-4748-b6d7-bebdf9e5583f',
      },
    });
    expect(body.eventTime).toMatch(MICRO_TIME);
    await recorder?.stop(5_000);
    expect(apiserver.events.size).toBe(1);
    expect(await counter('driftgate_events_sent_total', { operation: 'create' })).toBe(1);
  });

  it('a plain Date has three digits, which the API server refuses: the recorder never sends one', async () => {
    // Why microTime() exists: JSON.stringify writes a Date with toISOString()'s three digits.
    const create = (body: unknown) =>
      sendJson(
        apiserver.connection(),
        'POST',
        '/apis/events.k8s.io/v1/namespaces/shop/events',
        body,
      );
    const body = {
      metadata: { name: 'web.plain-date', namespace: 'shop' },
      eventTime: new Date('2026-11-22T03:56:59.681Z'),
      reportingController: 'driftgate.io/driftgate',
      reportingInstance: 'test',
      action: 'DenyUpdate',
      reason: 'DriftDenied',
      type: 'Warning',
      regarding: { kind: 'Deployment', namespace: 'shop', name: 'web' },
    };
    await expect(create(body)).rejects.toMatchObject({ statusCode: 400 });
    expect(JSON.parse(apiserver.requests.at(-1)!.body).eventTime).toBe('2026-11-22T03:56:59.681Z');
    await expect(
      create({ ...body, eventTime: microTime(new Date('2026-11-22T03:56:59.681Z')) }),
    ).resolves.toMatchObject({ metadata: { name: 'web.plain-date' } });
    expect(JSON.parse(apiserver.requests.at(-1)!.body).eventTime).toBe(
      '2026-11-22T03:56:59.681000Z',
    );
  });

  it('a cluster-scoped object gets its Event in default, as client-go does', async () => {
    start();
    recorder?.record({
      ...denial('widgets-reader'),
      regarding: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        namespace: '',
        name: 'system:widgets-reader',
      },
    });
    expect(await waitFor(() => posts().length === 1, 5_000)).toBe(true);
    const [request] = posts();
    expect(request?.status).toBe(201);
    expect(request?.path).toBe('/apis/events.k8s.io/v1/namespaces/default/events');
    const body = JSON.parse(request!.body);
    expect(body.regarding).toEqual({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      name: 'system:widgets-reader',
    });
    // An object's name may hold characters an Event's name may not.
    expect(body.metadata.name).toMatch(/^system-widgets-reader\.[0-9a-f]+$/);
  });

  it('names stay valid and distinct within one nanosecond tick', () => {
    expect(eventName('web', 0x18ea41da289ac771n)).toBe('web.18ea41da289ac771');
    expect(eventName('A'.repeat(300), 1n)).toMatch(/^a{251}\.1$/);
    expect(eventName(':::', 1n)).toBe('object.1');
  });
});

describe('repeats are one Event with a series', () => {
  it('50 identical denials: one create, then a few series updates, count 50', async () => {
    start();
    recorder?.record(denial());
    expect(await waitFor(() => posts().length === 1, 5_000)).toBe(true);
    for (let i = 1; i < 50; i++) {
      recorder?.record(denial());
      if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 60));
    }
    await recorder?.stop(5_000);

    expect(posts()).toHaveLength(1);
    // Updates are coalesced: at most one per interval, whatever the rate of denials.
    expect(patches().length).toBeGreaterThanOrEqual(1);
    expect(patches().length).toBeLessThanOrEqual(6);
    for (const patch of patches()) {
      expect(patch.status).toBe(200);
      expect(patch.contentType).toBe('application/strategic-merge-patch+json');
      const body = JSON.parse(patch.body);
      expect(Object.keys(body)).toEqual(['series']);
      expect(Object.keys(body.series).sort()).toEqual(['count', 'lastObservedTime']);
      expect(body.series.lastObservedTime).toMatch(MICRO_TIME);
    }
    const [stored] = [...apiserver.events.values()];
    expect(stored?.series).toMatchObject({ count: 50 });
    expect(await counter('driftgate_events_recorded_total', { reason: 'DriftDenied' })).toBe(50);
  });

  it('many distinct objects are rate-limited: a burst, then writes wait their turn', async () => {
    // One write per 10 s after a burst of 3: the fourth cannot start within this test.
    start({ writesPerSecond: 0.1, writeBurst: 3 });
    for (let i = 0; i < 10; i++) recorder?.record(denial(`web-${i}`));
    expect(await waitFor(() => posts().length === 3, 5_000)).toBe(true);
    expect(posts().map((r) => r.status)).toEqual([201, 201, 201]);
    // The fourth leaves the queue to wait for its token just after the third is answered.
    expect(
      await eventually(async () => (await counter('driftgate_events_queue_length')) === 6, 5_000),
    ).toBe(true);
    await recorder?.stop(100);
    expect(posts()).toHaveLength(3);
    expect(await counter('driftgate_events_dropped_total', { reason: 'stopped' })).toBe(7);
  });

  it('distinct objects get distinct Events', async () => {
    start();
    recorder?.record(denial('web'));
    recorder?.record(denial('api'));
    recorder?.record(denial('web', 'other'));
    recorder?.record(denial('web'));
    await recorder?.stop(5_000);
    expect(posts().map((r) => r.status)).toEqual([201, 201, 201]);
    expect([...apiserver.events.keys()].map((k) => k.replace(/\.[0-9a-f]+$/, '')).sort()).toEqual([
      'other/web',
      'shop/api',
      'shop/web',
    ]);
  });

  it('a repeat after the series ended starts a new Event', async () => {
    let now = new Date('2026-11-22T03:00:00Z');
    start({ now: () => now, seriesTtlMs: 60_000 });
    recorder?.record(denial());
    expect(await waitFor(() => posts().length === 1, 5_000)).toBe(true);
    now = new Date('2026-11-22T03:02:00Z');
    recorder?.record(denial());
    expect(await waitFor(() => posts().length === 2, 5_000)).toBe(true);
    expect(patches()).toHaveLength(0);
    expect(apiserver.events.size).toBe(2);
  });

  it('a series update of an Event that is gone (404) creates it again, series and all', async () => {
    start();
    recorder?.record(denial());
    expect(await waitFor(() => posts().length === 1, 5_000)).toBe(true);
    const [name] = [...apiserver.events.keys()];
    apiserver.events.clear(); // as when the API server's Event TTL (1 h) expired it
    recorder?.record(denial());
    await recorder?.stop(5_000);
    expect(writes().map((r) => `${r.method} ${r.status}`)).toEqual([
      'POST 201',
      'PATCH 404',
      'POST 201',
    ]);
    expect([...apiserver.events.keys()]).toEqual([name]);
    expect(JSON.parse(posts()[1]!.body).series).toMatchObject({ count: 2 });
    expect(JSON.parse(posts()[1]!.body).series.lastObservedTime).toMatch(MICRO_TIME);
  });

  it('a name already taken (409) is replaced by a fresh one', async () => {
    const at = new Date('2026-11-22T03:56:46.700Z');
    const taken = `web.${(BigInt(at.getTime()) * 1_000_000n).toString(16)}`;
    apiserver.events.set(`shop/${taken}`, { metadata: { name: taken } });
    start({ now: () => at });
    recorder?.record(denial());
    await recorder?.stop(5_000);
    expect(posts().map((r) => r.status)).toEqual([409, 201]);
    expect(JSON.parse(posts()[1]!.body).metadata.name).not.toBe(taken);
    expect(apiserver.events.size).toBe(2);
  });
});

describe('a failing API server never reaches the review', () => {
  it('403: logged once, counted, and Events flow again once allowed', async () => {
    apiserver.forbid = true;
    start();
    for (const name of ['a', 'b', 'c']) recorder?.record(denial(name));
    expect(
      await waitFor(() => posts().length === 3 && posts().every((r) => r.status === 403), 5_000),
    ).toBe(true);
    expect(
      await eventually(
        async () =>
          (await counter('driftgate_events_dropped_total', { reason: 'forbidden' })) === 3,
      ),
    ).toBe(true);
    const warnings = log.lines().filter((l) => String(l.msg).includes('forbids'));
    expect(warnings).toHaveLength(1);

    apiserver.forbid = false;
    recorder?.record(denial('d'));
    expect(await waitFor(() => posts().at(-1)?.status === 201, 5_000)).toBe(true);
  });

  it('a hung API server: record() returns at once, the queue stays bounded, drops are counted', async () => {
    apiserver.hang = true;
    start({ queueCapacity: 5, requestTimeoutMs: 200, maxAttempts: 2 });
    let returned = 0;
    for (let i = 0; i < 200; i++) {
      recorder?.record(denial(`web-${i}`));
      returned++;
    }
    // All 200 calls came back while the API server had answered nothing.
    expect(returned).toBe(200);
    expect(apiserver.requests.every((r) => r.status === 0)).toBe(true);
    expect(await counter('driftgate_events_queue_length')).toBe(5);
    // One write in flight, five waiting, the rest dropped oldest first.
    expect(await counter('driftgate_events_dropped_total', { reason: 'queue-full' })).toBe(194);

    await recorder?.stop(300);
    expect(await counter('driftgate_events_dropped_total')).toBe(200);
    expect(await counter('driftgate_events_sent_total')).toBe(0);
    expect(await counter('driftgate_events_queue_length')).toBe(0);
  });

  it('API server down: retried a bounded number of times, dropped, counted, no crash', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as { port: number };
    await new Promise<void>((resolve) => {
      closed.close(() => {
        resolve();
      });
    });
    const { caCert } = selfSignedForDevelopment(['127.0.0.1']);
    recorder = createEventRecorder({
      connection: connectionFor(`https://127.0.0.1:${port}`, caCert),
      registry,
      logger: log.logger,
      maxAttempts: 3,
      retryBaseDelayMs: 10,
    });
    for (const name of ['a', 'b', 'c']) recorder.record(denial(name));
    expect(
      await waitFor(() => log.lines().some((l) => String(l.msg).includes('cannot reach')), 5_000),
    ).toBe(true);
    await recorder.stop(5_000);
    expect(await counter('driftgate_events_dropped_total', { reason: 'unreachable' })).toBe(3);
    expect(log.lines().filter((l) => String(l.msg).includes('cannot reach'))).toHaveLength(1);
  });

  it('after stop(), record() is a counted no-op', async () => {
    start();
    await recorder?.stop();
    recorder?.record(denial());
    expect(await counter('driftgate_events_dropped_total', { reason: 'stopped' })).toBe(1);
    expect(apiserver.requests).toHaveLength(0);
  });
});

describe('through the admission server', () => {
  // driftgate as main.ts wires it, plus the recorder the integrator adds: a real Git
  // repository, HTTPS on 127.0.0.1, and Events to the loopback API server of each test.
  const NOW = new Date('2026-11-22T03:00:00Z');
  let repo: TestRepo;
  let cache: ReturnType<typeof tempDir>;
  let provider: GitDesiredProvider;
  let metrics: Metrics;
  let server: RunningServer;
  let caCert: string;

  beforeAll(async () => {
    repo = createTestRepo();
    repo.commit(
      Object.fromEntries(
        SHOP_MANIFESTS.map((name) => [
          `apps/shop/${name}.yaml`,
          readFileSync(join(capturedManifests, `${name}.yaml`), 'utf8'),
        ]),
      ),
      'shop manifests',
    );
    cache = tempDir('driftgate-cache-');
    const result = validateConfig({
      cacheDir: cache.path,
      sources: [
        {
          name: 'shop',
          repoURL: repo.fileURL,
          revision: 'main',
          path: 'apps/shop',
          namespace: 'shop',
        },
      ],
      breakGlass: { groups: ['oncall'], ttl: '4h' },
    });
    if ('errors' in result) throw new Error(JSON.stringify(result.errors));
    const config = result.config;
    const { logger } = captureLogger();
    provider = createGitProvider(
      { sources: config.sources, cacheDir: config.cacheDir },
      { logger, now: () => NOW.getTime() },
    );
    await provider.start();
    metrics = createMetrics(provider);
    const app = createApp({
      config,
      provider,
      facts: () => noClusterFacts,
      now: () => NOW,
      logger,
      metrics,
      ready: () => true,
      // Each test's recorder, talking to that test's API server.
      events: {
        record: (event) => recorder?.record(event),
        stop: async () => {},
      },
    });
    const tls = selfSignedForDevelopment(['127.0.0.1']);
    caCert = tls.caCert;
    server = await startServer(app, {
      port: 0,
      host: '127.0.0.1',
      tls: { kind: 'memory', cert: tls.cert, key: tls.key },
      logger,
    });
  });

  afterAll(async () => {
    await server.close();
    await provider.stop();
    cache.cleanup();
    repo.cleanup();
  });

  function post(
    webhook: 'validate' | 'mutate',
    request: AdmissionRequest,
  ): Promise<NonNullable<AdmissionReview['response']>> {
    const body = JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request,
    });
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        `${server.url}/${webhook}?timeout=10s`,
        {
          method: 'POST',
          ca: caCert,
          headers: { 'content-type': 'application/json' },
          timeout: 10_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            try {
              expect(res.statusCode).toBe(200);
              resolve(
                (JSON.parse(Buffer.concat(chunks).toString('utf8')) as AdmissionReview).response!,
              );
            } catch (error) {
              reject(error instanceof Error ? error : new Error(String(error)));
            }
          });
        },
      );
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.end(body);
    });
  }

  const created = () =>
    posts()
      .filter((r) => r.status === 201)
      .map((r) => JSON.parse(r.body));

  it('a denial yields an Event about the object', async () => {
    start();
    const request = review('20-set-image-deployment-by-alice');
    expect((await post('validate', request)).allowed).toBe(false);
    expect(await waitFor(() => posts().length === 1, 5_000)).toBe(true);
    expect(posts()[0]?.status).toBe(201);
    expect(created()[0]).toMatchObject({
      reason: 'DriftDenied',
      type: 'Warning',
      action: 'DenyUpdate',
      regarding: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web' },
    });
    expect(created()[0].note).toContain('spec.template.spec.containers[name=app].image');
    expect(created()[0].note).not.toContain('web:1.5.0');
  });

  it('a dry-run denial and the mutating webhook yield none', async () => {
    start();
    expect(
      (await post('validate', review('31-apply-dryrun-server-deployment-by-alice'))).allowed,
    ).toBe(false);
    expect(
      (await post('validate', review('55-delete-dryrun-server-deployment-by-alice'))).allowed,
    ).toBe(false);
    await post('mutate', review('20-set-image-deployment-by-alice', 'mutating'));
    // Events are written in order by one writer: once this one arrives, the others would have.
    expect((await post('validate', review('58-delete-deployment-by-alice'))).allowed).toBe(false);
    await recorder?.stop(5_000);
    expect(created().map((e) => e.action)).toEqual(['DenyDelete']);
  });

  it('a write under break-glass yields a BreakGlass Event; the allowed write without drift none', async () => {
    start();
    const stamps = {
      'driftgate.io/break-glass': 'INC-42 rollback',
      'driftgate.io/break-glass-by': 'bob@example.com',
      'driftgate.io/break-glass-at': '2026-11-22T02:50:00Z',
      'driftgate.io/break-glass-expires': '2026-11-22T06:50:00Z',
    };
    const setImage = review('20-set-image-deployment-by-alice');
    const response = await post('validate', {
      ...setImage,
      userInfo: { username: 'bob@example.com', groups: ['oncall', 'system:authenticated'] },
      object: edited(setImage.object!, (o) => Object.assign(o.metadata.annotations, stamps)),
      oldObject: edited(setImage.oldObject!, (o) => Object.assign(o.metadata.annotations, stamps)),
    });
    expect(response).toMatchObject({
      allowed: true,
      auditAnnotations: { decision: 'break-glass' },
    });
    expect((await post('validate', review('22-patch-merge-deployment-by-alice'))).allowed).toBe(
      true,
    );
    await recorder?.stop(5_000);
    expect(created()).toHaveLength(1);
    expect(created()[0]).toMatchObject({
      reason: 'BreakGlass',
      action: 'AllowUpdate',
      regarding: { kind: 'Deployment', namespace: 'shop', name: 'web' },
    });
    expect(created()[0].note).toContain('INC-42 rollback');
  });

  it('a hung API server does not hold up reviews', async () => {
    apiserver.hang = true;
    start({ queueCapacity: 2, requestTimeoutMs: 60_000 });
    for (let i = 0; i < 10; i++) {
      expect((await post('validate', review('20-set-image-deployment-by-alice'))).allowed).toBe(
        false,
      );
    }
    // Ten answers came back while the one Event write is still waiting for the API server.
    expect(apiserver.requests).toHaveLength(1);
    expect(apiserver.requests[0]?.status).toBe(0);
  });
});
