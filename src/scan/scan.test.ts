// The scan's judgement without a cluster: an in-memory reader, the captured manifests and the
// objects a real API server stored. Each object must be judged exactly as a write of it would be.
import { describe, expect, it } from 'vitest';
import { edited, review } from '../../test/support/fixtures.js';
import { config, facts, snapshot } from '../../test/support/policy.js';
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
