// The cluster watches through the real @kubernetes/client-node, against a loopback API server
// that lists and watches the way a real one was recorded doing, with objects shaped exactly like
// the captured ones. Each test changes the cluster and checks the decision follows.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { watchCluster, type ClusterWatch } from '../src/cluster/cluster-facts.js';
import { watchDiscovery } from '../src/cluster/discovery-watch.js';
import type { WatchEvents } from '../src/cluster/watch.js';
import type { JsonObject } from '../src/kube/object.js';
import { decide } from '../src/policy/decide.js';
import type { ClusterFacts } from '../src/policy/facts.js';
import { captureLogger, waitFor } from './desired/git-fixture.js';
import { startFakeApiServer, resourceTypes, type FakeApiServer } from './support/fake-apiserver.js';
import { fixturePath, review } from './support/fixtures.js';
import { config, snapshot } from './support/policy.js';
import { allowedByDeploy, apiRequestOf, componentRbac, deployedRoles } from './support/rbac.js';
import { getText, postReview, startTestServer } from './support/server.js';

const NOW = new Date('2026-11-22T03:00:00Z');
const git = snapshot();
const fast = { initialBackoffMs: 50, maxBackoffMs: 200 };

function captured(name: string): JsonObject {
  return JSON.parse(readFileSync(fixturePath(`apiserver/${name}.json`), 'utf8')) as JsonObject;
}
/** The first item of a captured list, renamed into place (kind/apiVersion as in a real list). */
function capturedItem(
  list: string,
  index: number,
  namespace: string | null,
  name: string,
): JsonObject {
  const items = captured(list).items as JsonObject[];
  const item = items[index] as JsonObject & { metadata: JsonObject };
  const { resourceVersion: _rv, uid: _uid, ...metadata } = item.metadata;
  return {
    ...item,
    metadata: { ...metadata, name, ...(namespace === null ? {} : { namespace }) },
  };
}
/** The captured HPA on cap/web, made to scale shop/web. */
const webHpa = () => capturedItem('01a-hpa-list-all', 1, 'shop', 'web');
const shopNamespace = (
  labels: Record<string, string>,
  annotations: Record<string, string> = {},
) => {
  const namespace = capturedItem('05a-namespace-list', 0, null, 'shop') as JsonObject & {
    metadata: JsonObject;
  };
  return {
    ...namespace,
    metadata: {
      ...namespace.metadata,
      labels: { 'kubernetes.io/metadata.name': 'shop', ...labels },
      annotations,
    },
  };
};

function counting(): WatchEvents & { counts: Record<string, number> } {
  const counts: Record<string, number> = {};
  const bump = (what: string) => {
    counts[what] = (counts[what] ?? 0) + 1;
  };
  return {
    counts,
    started: (name) => {
      bump(`started:${name}`);
    },
    synced: (name) => {
      bump(`synced:${name}`);
    },
    changed: (name) => {
      bump(`changed:${name}`);
    },
    relisted: (name) => {
      bump(`relisted:${name}`);
    },
    failed: (name) => {
      bump(`failed:${name}`);
    },
  };
}

let api: FakeApiServer;
let cluster: ClusterWatch | undefined;
let log = captureLogger();

beforeEach(async () => {
  log = captureLogger();
  api = await startFakeApiServer();
});
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
  await api.stop();
});

function start(events = counting()) {
  cluster = watchCluster(
    api.connection(),
    { namespace: 'driftgate', overrideConfigMap: 'driftgate-override' },
    { logger: log.logger, events, timing: fast },
  );
  return { cluster, events };
}
const allSynced = (watch: ClusterWatch) => Object.values(watch.synced()).every(Boolean);
const judge = (facts: ClusterFacts, label: string, cfg = config()) =>
  decide(review(label), git, facts, cfg, NOW);

describe('HorizontalPodAutoscalers in the cluster', () => {
  it('an HPA added frees its target’s replicas for scale; removing it takes that back', async () => {
    const { cluster } = start();
    expect(await waitFor(() => allSynced(cluster), 5_000)).toBe(true);
    const facts = cluster.facts();
    expect(judge(facts, '27-scale-deployment-by-alice').kind).toBe('denied');

    api.put(resourceTypes.hpas, webHpa());
    expect(await waitFor(() => judge(facts, '27-scale-deployment-by-alice').allowed, 5_000)).toBe(
      true,
    );
    expect(judge(facts, '27-scale-deployment-by-alice').message).toContain(
      'left to HorizontalPodAutoscaler shop/web',
    );
    // The HPA frees only its own target.
    expect(judge(facts, '71-scale-statefulset-by-alice').kind).toBe('denied');

    api.remove(resourceTypes.hpas, 'shop', 'web');
    expect(await waitFor(() => !judge(facts, '27-scale-deployment-by-alice').allowed, 5_000)).toBe(
      true,
    );
  });

  it('an HPA that existed before driftgate started is known from the first list', async () => {
    api.put(resourceTypes.hpas, webHpa());
    const { cluster } = start();
    expect(await waitFor(() => cluster.synced().hpas === true, 5_000)).toBe(true);
    expect(
      cluster.facts().hpaOf({ group: 'apps', kind: 'Deployment', namespace: 'shop', name: 'web' }),
    ).toEqual({ name: 'shop/web', minReplicas: 2, maxReplicas: 6 });
  });
});

describe('Namespaces', () => {
  it('the driftgate.io/mode label flips the namespace’s mode without a restart', async () => {
    const { cluster } = start();
    const setImage = '20-set-image-deployment-by-alice';
    expect(await waitFor(() => allSynced(cluster), 5_000)).toBe(true);
    expect(judge(cluster.facts(), setImage).kind).toBe('denied');

    api.put(resourceTypes.namespaces, shopNamespace({ 'driftgate.io/mode': 'warn' }));
    expect(await waitFor(() => judge(cluster.facts(), setImage).kind === 'warned', 5_000)).toBe(
      true,
    );

    api.put(resourceTypes.namespaces, shopNamespace({ 'driftgate.io/mode': 'enforce' }));
    expect(await waitFor(() => judge(cluster.facts(), setImage).kind === 'denied', 5_000)).toBe(
      true,
    );
  });

  it('a namespace break-glass by an authorised on-call engineer allows a scale write', async () => {
    const { cluster } = start();
    const cfg = config({ breakGlass: { groups: ['developers'] } });
    const breakGlass = {
      'driftgate.io/break-glass': 'INC-4711 checkout is down',
      'driftgate.io/break-glass-by': 'alice@example.com',
      'driftgate.io/break-glass-at': '2026-11-22T02:30:00Z',
      'driftgate.io/break-glass-expires': '2026-11-22T06:30:00Z',
    };
    expect(await waitFor(() => allSynced(cluster), 5_000)).toBe(true);
    expect(judge(cluster.facts(), '27-scale-deployment-by-alice', cfg).kind).toBe('denied');
    api.put(resourceTypes.namespaces, shopNamespace({}, breakGlass));
    expect(
      await waitFor(
        () => judge(cluster.facts(), '27-scale-deployment-by-alice', cfg).kind === 'break-glass',
        5_000,
      ),
    ).toBe(true);
  });
});

describe('the parent of a scale write, watched as metadata only', () => {
  it('a break-glass on the Deployment itself covers writes to its scale subresource', async () => {
    const { cluster } = start();
    const cfg = config({ breakGlass: { groups: ['developers'] } });
    expect(await waitFor(() => allSynced(cluster), 5_000)).toBe(true);
    const deployment = capturedItem('04a-deploy-metadata-list', 0, 'shop', 'web') as JsonObject & {
      metadata: JsonObject;
    };
    api.put(resourceTypes.deployments, {
      kind: 'Deployment',
      apiVersion: 'apps/v1',
      metadata: {
        ...deployment.metadata,
        annotations: {
          'driftgate.io/break-glass': 'INC-4711 checkout is down',
          'driftgate.io/break-glass-by': 'alice@example.com',
          'driftgate.io/break-glass-at': '2026-11-22T02:30:00Z',
          'driftgate.io/break-glass-expires': '2026-11-22T06:30:00Z',
        },
      },
      spec: { replicas: 3 },
    });
    expect(
      await waitFor(
        () => judge(cluster.facts(), '27-scale-deployment-by-alice', cfg).kind === 'break-glass',
        5_000,
      ),
    ).toBe(true);
    // Asked as PartialObjectMetadata: no spec was sent, only metadata.
    const parent = cluster.facts().parentAnnotations({
      group: 'apps',
      kind: 'Deployment',
      namespace: 'shop',
      name: 'web',
    });
    expect(parent).toHaveProperty('driftgate.io/break-glass');
    const deploymentRequests = api.requests.filter((r) => r.path === '/apis/apps/v1/deployments');
    expect(deploymentRequests.map((r) => r.accept)).toContain(
      'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1',
    );
    expect(deploymentRequests.map((r) => r.accept)).toContain(
      'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1',
    );
  });
});

describe('the kill switch', () => {
  const overrideMap = (mode: string) => {
    const configMap = captured('06c-configmap-get') as JsonObject & { metadata: JsonObject };
    const { resourceVersion: _rv, uid: _uid, ...metadata } = configMap.metadata;
    return {
      ...configMap,
      metadata: { ...metadata, namespace: 'driftgate', name: 'driftgate-override' },
      data: { mode },
    };
  };

  it('mode: off turns enforcement off, and deleting the ConfigMap turns it back on', async () => {
    const { cluster } = start();
    const setImage = '20-set-image-deployment-by-alice';
    expect(await waitFor(() => allSynced(cluster), 5_000)).toBe(true);
    api.put(resourceTypes.configmaps, overrideMap('off'));
    expect(await waitFor(() => judge(cluster.facts(), setImage).allowed, 5_000)).toBe(true);
    expect(judge(cluster.facts(), setImage).reason).toBe('kill-switch');

    api.put(resourceTypes.configmaps, overrideMap('audit'));
    expect(await waitFor(() => judge(cluster.facts(), setImage).kind === 'audited', 5_000)).toBe(
      true,
    );

    api.remove(resourceTypes.configmaps, 'driftgate', 'driftgate-override');
    expect(await waitFor(() => judge(cluster.facts(), setImage).kind === 'denied', 5_000)).toBe(
      true,
    );
  });

  it('only the named ConfigMap in driftgate’s namespace counts', async () => {
    const { cluster } = start();
    expect(await waitFor(() => allSynced(cluster), 5_000)).toBe(true);
    const elsewhere = overrideMap('off');
    api.put(resourceTypes.configmaps, {
      ...elsewhere,
      metadata: { ...(elsewhere.metadata as JsonObject), namespace: 'shop' },
    });
    api.put(resourceTypes.configmaps, {
      ...elsewhere,
      metadata: { ...(elsewhere.metadata as JsonObject), name: 'something-else' },
    });
    api.put(resourceTypes.hpas, webHpa()); // a later change, so the watches have caught up
    expect(
      await waitFor(
        () =>
          cluster
            .facts()
            .hpaOf({ group: 'apps', kind: 'Deployment', namespace: 'shop', name: 'web' }) !==
          undefined,
        5_000,
      ),
    ).toBe(true);
    expect(cluster.facts().override).toBeUndefined();
    expect(
      api.requests.some(
        (r) =>
          r.path === '/api/v1/namespaces/driftgate/configmaps' &&
          r.query.get('fieldSelector') === 'metadata.name=driftgate-override',
      ),
    ).toBe(true);
  });

  it('a mode it does not know is ignored and logged, never guessed', async () => {
    const { cluster } = start();
    expect(await waitFor(() => allSynced(cluster), 5_000)).toBe(true);
    api.put(resourceTypes.configmaps, overrideMap('disabled'));
    expect(
      await waitFor(
        () => log.lines().some((line) => String(line.msg).includes('kill switch ignored')),
        5_000,
      ),
    ).toBe(true);
    expect(cluster.facts().override).toBeUndefined();
  });
});

describe('recovery', () => {
  it('a watch whose resourceVersion expired (410) lists again and keeps up', async () => {
    const { cluster, events } = start();
    expect(await waitFor(() => allSynced(cluster), 5_000)).toBe(true);
    api.put(resourceTypes.hpas, webHpa());
    const key = { group: 'apps', kind: 'Deployment', namespace: 'shop', name: 'web' };
    expect(await waitFor(() => cluster.facts().hpaOf(key) !== undefined, 5_000)).toBe(true);

    // The watch ends; meanwhile the HPA is deleted and history is compacted, so the watch
    // cannot resume from its resourceVersion: the server answers ERROR 410, client-node relists.
    await api.goDown();
    await api.comeBack();
    api.remove(resourceTypes.hpas, 'shop', 'web');
    api.compact();
    expect(await waitFor(() => cluster.facts().hpaOf(key) === undefined, 10_000)).toBe(true);
    expect(events.counts['relisted:hpas']).toBeGreaterThanOrEqual(1);

    // And it is watching again, not just relisted once.
    api.put(resourceTypes.hpas, webHpa());
    expect(await waitFor(() => cluster.facts().hpaOf(key) !== undefined, 5_000)).toBe(true);
  });

  it('a watch the server ends (timeoutSeconds) resumes without a relist', async () => {
    const { cluster, events } = start();
    expect(await waitFor(() => allSynced(cluster), 5_000)).toBe(true);
    api.endWatches();
    api.put(resourceTypes.hpas, webHpa());
    const key = { group: 'apps', kind: 'Deployment', namespace: 'shop', name: 'web' };
    expect(await waitFor(() => cluster.facts().hpaOf(key) !== undefined, 5_000)).toBe(true);
    expect(events.counts['relisted:hpas']).toBeUndefined();
  });

  it('with the API server down at start it knows nothing, retries, and syncs when it is back', async () => {
    await api.goDown();
    const { cluster, events } = start();
    const facts = cluster.facts();
    expect(await waitFor(() => (events.counts['failed:hpas'] ?? 0) >= 2, 5_000)).toBe(true);
    // Git alone decides meanwhile.
    expect(judge(facts, '20-set-image-deployment-by-alice').kind).toBe('denied');
    expect(Object.values(cluster.synced()).some(Boolean)).toBe(false);
    expect(log.lines().some((line) => String(line.msg).includes('deciding on Git alone'))).toBe(
      true,
    );

    api.put(resourceTypes.hpas, webHpa());
    await api.comeBack();
    expect(await waitFor(() => allSynced(cluster), 5_000)).toBe(true);
    expect(judge(facts, '27-scale-deployment-by-alice').allowed).toBe(true);
  });

  it('a watch it may not make (403) is retried with backoff while the others work', async () => {
    api.forbid(resourceTypes.hpas);
    const { cluster, events } = start();
    expect(await waitFor(() => cluster.synced().namespaces === true, 5_000)).toBe(true);
    expect(await waitFor(() => (events.counts['failed:hpas'] ?? 0) >= 2, 5_000)).toBe(true);
    expect(cluster.synced().hpas).toBe(false);
    const forbidden = log
      .lines()
      .find((line) => line.watch === 'hpas' && typeof line.err === 'string');
    expect(String(forbidden?.err)).toContain('forbidden');
  });
});

describe('through the webhook', () => {
  it('serves at once, decides on Git alone while the API server is down, and learns when it is back', async () => {
    await api.goDown();
    const server = await startTestServer({ connection: api.connection() });
    try {
      const { driftgate } = server;
      expect((await getText(driftgate, '/readyz')).status).toBe(200);
      const scale = review('27-scale-deployment-by-alice');
      expect((await postReview(driftgate, 'validate', scale)).allowed).toBe(false);
      expect((await getText(driftgate, '/metrics')).body).toContain(
        'driftgate_cluster_watch_synced{watch="hpas"} 0',
      );

      api.put(resourceTypes.hpas, webHpa());
      await api.comeBack();
      const allowedNow = async () => (await postReview(driftgate, 'validate', scale)).allowed;
      const deadline = Date.now() + 5_000;
      while (!(await allowedNow()) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(await allowedNow()).toBe(true);
      const metrics = (await getText(driftgate, '/metrics')).body;
      expect(metrics).toContain('driftgate_cluster_watch_synced{watch="hpas"} 1');
      expect(metrics).toMatch(/driftgate_cluster_watch_errors_total\{watch="hpas"\} [1-9]/);
    } finally {
      await server.stop();
    }
  });
});

describe('the RBAC in deploy/', () => {
  it('grants every request the cluster and discovery watches make, and they use every read it grants', async () => {
    const { cluster } = start();
    expect(await waitFor(() => allSynced(cluster), 5_000)).toBe(true);
    api.endWatches(); // and once more, so reconnects are checked too
    api.put(resourceTypes.hpas, webHpa());
    const key = { group: 'apps', kind: 'Deployment', namespace: 'shop', name: 'web' };
    expect(await waitFor(() => cluster.facts().hpaOf(key) !== undefined, 5_000)).toBe(true);

    const discovery = watchDiscovery(
      api.connection(),
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
      { logger: log.logger, events: counting(), publish: () => undefined, timing: fast },
    );
    expect(await waitFor(() => discovery?.isSynced() === true, 5_000)).toBe(true);
    await discovery?.stop();

    // Discovery (/api, /apis) is granted to every authenticated identity by Kubernetes' own
    // system:discovery ClusterRole, not by deploy/.
    const made = api.requests
      .filter((r) => r.path !== '/api' && r.path !== '/apis')
      .map((r) => apiRequestOf(r.method, r.path, r.query));
    expect(made.length).toBeGreaterThanOrEqual(12);
    for (const request of made)
      expect(allowedByDeploy(request), JSON.stringify(request)).toBe(true);

    const { clusterRules, namespacedRules } = deployedRoles();
    const reads = [...clusterRules, ...[...namespacedRules.values()].flat()].filter((rule) =>
      rule.verbs.some((verb) => ['get', 'list', 'watch'].includes(verb)),
    );
    for (const rule of reads) {
      for (const resource of rule.resources ?? []) {
        expect(
          made.some(
            (request) =>
              request.resource === resource && (rule.apiGroups ?? []).includes(request.group),
          ),
          `${resource} is granted but never read`,
        ).toBe(true);
      }
      for (const url of rule.nonResourceURLs ?? []) {
        const prefix = url.replace(/\*$/, '');
        expect(
          made.some((request) => request.nonResourceURL?.startsWith(prefix) === true),
          `${url} is granted but never read`,
        ).toBe(true);
      }
    }
  });

  it('lending Argo CD’s repository credentials needs exactly what its component adds', async () => {
    const component = componentRbac('argocd-repo-credentials');
    const credentialsDir = mkdtempSync(join(tmpdir(), 'driftgate-credentials-'));
    try {
      const discovery = watchDiscovery(
        api.connection(),
        {
          argocd: {
            namespace: 'argocd',
            controller: 'system:serviceaccount:argocd:argocd-application-controller',
            repoCredentials: true,
            trackingMethod: 'annotation',
            instanceLabelKey: 'app.kubernetes.io/instance',
            hub: null,
          },
          flux: null,
          pollIntervalMs: 60_000,
          credentialsDir,
        },
        { logger: log.logger, events: counting(), publish: () => undefined, timing: fast },
      );
      expect(await waitFor(() => discovery?.isSynced() === true, 5_000)).toBe(true);
      // Listed, and watching since (the watch opens just after the list).
      const watching = (path: string) =>
        api.requests.some((r) => r.path.endsWith(path) && r.query.get('watch') === 'true');
      expect(await waitFor(() => watching('/secrets') && watching('/configmaps'), 5_000)).toBe(
        true,
      );
      await discovery?.stop();
    } finally {
      rmSync(credentialsDir, { recursive: true, force: true });
    }
    // Discovery (/api, /apis) is granted to every authenticated identity by Kubernetes' own
    // system:discovery ClusterRole, not by deploy/.
    const made = api.requests
      .filter((r) => r.path !== '/api' && r.path !== '/apis')
      .map((r) => apiRequestOf(r.method, r.path, r.query));
    const secrets = made.filter((request) => request.resource === 'secrets');
    expect(secrets.length).toBeGreaterThanOrEqual(2); // a list and a watch
    for (const request of made) {
      expect(allowedByDeploy(request), JSON.stringify(request)).toBe(
        request.resource !== 'secrets' && request.name !== 'argocd-ssh-known-hosts-cm',
      );
      expect(allowedByDeploy(request, [component]), JSON.stringify(request)).toBe(true);
    }
    // Only Argo CD's labelled Secrets are asked for.
    const query = api.requests.find((r) => r.path.endsWith('/secrets'))?.query;
    expect(query?.get('labelSelector')).toBe(
      'argocd.argoproj.io/secret-type in (repository,repo-creds)',
    );
    const granted = deployedRoles([component]).namespacedRules.get('argocd') ?? [];
    for (const rule of granted) {
      for (const resource of rule.resources ?? [])
        expect(made.some((request) => request.resource === resource)).toBe(true);
    }
  });
});

describe('Events', () => {
  it('a denial through the webhook leaves one Event on the object; a dry run leaves none', async () => {
    const server = await startTestServer({ connection: api.connection() });
    try {
      const setImage = review('20-set-image-deployment-by-alice');
      expect(
        (await postReview(server.driftgate, 'validate', { ...setImage, dryRun: true })).allowed,
      ).toBe(false);
      expect((await postReview(server.driftgate, 'validate', setImage)).allowed).toBe(false);
      expect(await waitFor(() => api.events.length > 0, 5_000)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(api.events).toHaveLength(1);
      expect(api.events[0]).toMatchObject({
        reason: 'DriftDenied',
        type: 'Warning',
        regarding: { kind: 'Deployment', namespace: 'shop', name: 'web' },
        reportingController: 'driftgate.io/driftgate',
      });
    } finally {
      await server.stop();
    }
  });
});
