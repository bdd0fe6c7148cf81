// The scan's judgement without a cluster: an in-memory reader, the captured manifests and the
// objects a real API server stored. Each object must be judged exactly as a write of it would be.
import { describe, expect, it } from 'vitest';
import { edited, review, stored131 } from '../../test/support/fixtures.js';
import { config, facts, snapshot, snapshotOf } from '../../test/support/policy.js';
import type { KubeObject } from '../kube/object.js';
import { decide } from '../policy/decide.js';
import type { ClusterFacts } from '../policy/facts.js';
import type { ClusterReader } from './reader.js';
import { scanCluster } from './scan.js';

const deployment = review('10-apply-create-deployment-by-argocd').object!;
const configMap = review('02-apply-create-configmap-by-argocd').object!;
const setImage = review('20-set-image-deployment-by-alice');

/** A cluster of these objects, served as a real API server lists them, 2 to a page. */
function reader(objects: readonly KubeObject[]): ClusterReader & { paths: string[] } {
  const paths: string[] = [];
  const served: Record<string, { resource: string; namespaced: boolean }> = {
    'apps/v1/Deployment': { resource: 'deployments', namespaced: true },
    'v1/ConfigMap': { resource: 'configmaps', namespaced: true },
    'v1/Namespace': { resource: 'namespaces', namespaced: false },
  };
  return {
    paths,
    requests: 0,
    resource: (apiVersion, kind) => {
      const found = served[`${apiVersion}/${kind}`];
      return Promise.resolve(found === undefined ? undefined : { ...found, listable: true });
    },
    async *list(path) {
      paths.push(path);
      const items = objects.filter((object) => {
        const plural = object.kind === 'Deployment' ? 'deployments' : 'configmaps';
        return path.endsWith(`/namespaces/${object.metadata?.namespace ?? ''}/${plural}`);
      });
      for (let i = 0; i < items.length; i += 2) {
        yield await Promise.resolve({ items: items.slice(i, i + 2) });
      }
    },
  };
}

async function scan(
  objects: readonly KubeObject[],
  options: { config?: Record<string, unknown>; facts?: ClusterFacts; now?: Date } = {},
) {
  const settings = config(options.config);
  return scanCluster({
    reader: reader(objects),
    snapshot: snapshot(['deploy-web', 'cm-web-config']),
    sources: settings.sources,
    config: settings,
    facts: options.facts ?? facts(),
    now: options.now ?? new Date('2026-12-07T03:00:00Z'),
  });
}

const web = (report: Awaited<ReturnType<typeof scan>>) =>
  report.objects.find((o) => o.kind === 'Deployment');

describe('scanCluster', () => {
  it('finds the drift a CREATE of the same object would be judged by', async () => {
    const live = setImage.object!;
    const report = await scan([live, configMap]);
    const create = decide(
      { ...setImage, operation: 'CREATE', oldObject: null },
      snapshot(['deploy-web', 'cm-web-config']),
      facts(),
      config(),
      new Date('2026-12-07T03:00:00Z'),
    );
    expect(create.kind).toBe('denied');
    expect(web(report)?.drift.map((d) => d.path)).toEqual(create.drift.map((d) => d.path));
    expect(web(report)?.drift.length).toBeGreaterThan(0);
  });

  it('leaves spec.replicas to an HPA of the cluster, as a write', async () => {
    const scaled = { ...deployment, spec: { ...(deployment.spec as object), replicas: 3 } };
    expect(web(await scan([scaled, configMap]))?.status).toBe('drifted');
    const withHpa = await scan([scaled, configMap], {
      facts: facts({ hpaTargets: ['Deployment/web'] }),
    });
    expect(web(withHpa)?.status).toBe('in-sync');
  });

  it('removes ignore rules and every allowance: no one writes during a scan', async () => {
    const live = edited(deployment, (d) => {
      d.spec.template.spec.containers[0].image = 'registry.example.com/shop/web:hotfix';
    });
    expect(web(await scan([live, configMap]))?.drift.map((d) => d.path)).toEqual([
      'spec.template.spec.containers[name=app].image',
    ]);
    const image = '/spec/template/spec/containers/0/image';
    const ignored = await scan([live, configMap], {
      config: { ignoreDifferences: [{ group: 'apps', kind: 'Deployment', jsonPointers: [image] }] },
    });
    expect(web(ignored)?.status).toBe('in-sync');
    const allowed = await scan([live, configMap], {
      config: {
        allowances: [
          { users: ['image-updater'], group: 'apps', kind: 'Deployment', jsonPointers: [image] },
        ],
      },
    });
    expect(web(allowed)?.status).toBe('in-sync');
  });

  it('gives each object its effective mode, and the kill switch turns it off', async () => {
    const labelled = await scan([deployment, configMap], {
      facts: facts({ namespaces: { shop: { labels: { 'driftgate.io/mode': 'warn' } } } }),
    });
    expect(labelled.objects.map((o) => o.mode)).toEqual(['warn', 'warn']);
    const off = await scan([deployment, configMap], { facts: facts({ override: 'off' }) });
    expect(off.objects.map((o) => o.mode)).toEqual(['off', 'off']);
  });

  it('does not count what an active break-glass covers as a write enforce would refuse', async () => {
    const live = {
      ...setImage.object!,
      metadata: {
        ...setImage.object!.metadata,
        annotations: {
          'driftgate.io/break-glass': 'INC-42 payment outage',
          'driftgate.io/break-glass-by': 'carol',
          'driftgate.io/break-glass-at': '2026-12-07T02:30:00Z',
          'driftgate.io/break-glass-expires': '2026-12-07T06:30:00Z',
        },
      },
    };
    const report = await scan([live, configMap]);
    expect(web(report)).toMatchObject({ status: 'drifted', breakGlass: 'INC-42 payment outage' });
    expect(report.summary).toMatchObject({ drifted: 1, wouldRefuse: 0 });
    const later = await scan([live, configMap], { now: new Date('2026-12-07T07:00:00Z') });
    expect(later.summary).toMatchObject({ drifted: 1, wouldRefuse: 1 });
  });

  it('does not read excluded namespaces or kinds, and says why', async () => {
    const excluded = await scan([deployment, configMap], {
      config: { namespaces: { exclude: ['shop'] } },
    });
    expect(excluded.objects.map((o) => [o.status, o.reason])).toEqual([
      ['not-judged', 'namespace shop is excluded'],
      ['not-judged', 'namespace shop is excluded'],
    ]);
    const kinds = await scan([deployment, configMap], {
      config: { kinds: { exclude: ['ConfigMap'] } },
    });
    expect(kinds.objects.find((o) => o.kind === 'ConfigMap')?.reason).toBe(
      '/ConfigMap is not a managed kind',
    );
  });

  it('judges a Namespace by its own name, as a write of it', async () => {
    const settings = config({
      sources: [{ name: 'shop', repoURL: 'https://git.example.com/ops.git' }],
    });
    const report = await scanCluster({
      reader: reader([]),
      snapshot: snapshot(['ns-shop']),
      sources: settings.sources,
      config: { ...settings, namespaces: { ...settings.namespaces, exclude: ['shop'] } },
      facts: facts(),
      now: new Date(),
    });
    expect(report.objects).toMatchObject([
      {
        kind: 'Namespace',
        namespace: '',
        status: 'not-judged',
        reason: 'namespace shop is excluded',
      },
    ]);
  });
});

describe('what protects each object', () => {
  // helm-controller's write as recorded, with the namespace label helm-controller adds beside
  // the name label: in shop, among the Deployments the scan lists for web.
  const helmApp = edited(stored131('64b-apply-update-deployment-helm-app-by-helm'), (d) => {
    d.metadata.labels['helm.toolkit.fluxcd.io/namespace'] = 'shop';
  });
  const sync = ['argocd-controller', 'kustomize-controller', 'helm-controller'];

  it('Git for what a source declares, the sync record for what a sync tool deployed beside it', async () => {
    const report = await scan([deployment, configMap, helmApp]);
    expect(report.objects.map((o) => o.protection)).toEqual(['git', 'git']);
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
    expect(report.summary.byProtection).toEqual({ git: 2, 'sync-record': 1, none: 0 });
  });

  it('nothing, where the marks are there but no sync manager owns a field, or records are off', async () => {
    const unrecorded = edited(helmApp, (d) => {
      d.metadata.managedFields = d.metadata.managedFields.filter(
        (entry: { manager: string }) => !sync.includes(entry.manager),
      );
    });
    const report = await scan([deployment, configMap, unrecorded]);
    expect(report.syncTracked).toMatchObject([
      {
        name: 'helm-app',
        protection: 'none',
        deployedBy: 'Flux HelmRelease shop/helm-app',
        reason: `no field is owned by a sync manager (${sync.join(', ')})`,
      },
    ]);
    const off = await scan([deployment, configMap, helmApp], { config: { syncRecords: 'off' } });
    expect(off.syncTracked).toMatchObject([{ protection: 'none', reason: 'syncRecords is off' }]);
    expect(off.summary.byProtection).toEqual({ git: 2, 'sync-record': 0, none: 1 });
  });

  it('an object without tracking marks is not counted; one Git declares is Git’s', async () => {
    const unmarked = edited(helmApp, (d) => {
      d.metadata.labels = { app: 'helm-app' };
    });
    expect((await scan([deployment, configMap, unmarked])).syncTracked).toEqual([]);
    const marked = edited(deployment, (d) => {
      d.metadata.labels = { ...d.metadata.labels, 'helm.toolkit.fluxcd.io/name': 'web' };
    });
    const report = await scan([marked, configMap]);
    expect(report.syncTracked).toEqual([]);
    expect(report.summary.byProtection).toEqual({ git: 2, 'sync-record': 0, none: 0 });
  });

  it('nothing protects what Git declares in an excluded namespace', async () => {
    const excluded = await scan([deployment, configMap, helmApp], {
      config: { namespaces: { exclude: ['shop'] } },
    });
    expect(excluded.objects.map((o) => o.protection)).toEqual(['none', 'none']);
    expect(excluded.summary.byProtection).toEqual({ git: 0, 'sync-record': 0, none: 2 });
  });

  it('an object Git declares in another API version of its kind is Git’s, not sync-tracked', async () => {
    // Git declares HPA web in autoscaling/v2 and HPA api in autoscaling/v1: the scan lists the
    // namespace's HPAs once per version, and each list holds the other one too.
    const tracked = (object: KubeObject) =>
      edited(object, (h) => {
        h.metadata.annotations['argocd.argoproj.io/tracking-id'] =
          `shop:autoscaling/HorizontalPodAutoscaler:shop/${h.metadata.name as string}`;
      });
    const web = tracked(review('50-apply-create-hpa-by-argocd').object!);
    const api = tracked(edited(web, (h) => (h.metadata.name = 'api')));
    const apiV1: KubeObject = {
      apiVersion: 'autoscaling/v1',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'api' },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'api' },
        minReplicas: 2,
        maxReplicas: 3,
      },
    };
    const lists: string[] = [];
    const hpas: ClusterReader = {
      requests: 0,
      resource: () =>
        Promise.resolve({ resource: 'horizontalpodautoscalers', namespaced: true, listable: true }),
      async *list(path) {
        lists.push(path);
        yield await Promise.resolve({ items: [web, api] });
      },
    };
    const settings = config();
    const report = await scanCluster({
      reader: hpas,
      snapshot: snapshotOf([
        { name: 'hpa-web', object: review('50-apply-create-hpa-by-argocd').object! },
        { name: 'hpa-api', object: apiV1 },
      ]),
      sources: settings.sources,
      config: settings,
      facts: facts(),
      now: new Date('2026-12-07T03:00:00Z'),
    });
    expect(lists).toEqual([
      '/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers',
      '/apis/autoscaling/v1/namespaces/shop/horizontalpodautoscalers',
    ]);
    expect(report.syncTracked).toEqual([]);
    expect(report.summary.byProtection).toEqual({ git: 2, 'sync-record': 0, none: 0 });
  });
});
