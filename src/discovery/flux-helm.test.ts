import { describe, expect, it } from 'vitest';
import { defaultHelmController, releasesFromFlux } from './flux-helm.js';

// Shaped as helm-controller v1.x stores a HelmRelease (helm.toolkit.fluxcd.io/v2): status.history
// holds Snapshots, newest first.
const podinfo = (extra: { spec?: object; status?: object } = {}) => ({
  apiVersion: 'helm.toolkit.fluxcd.io/v2',
  kind: 'HelmRelease',
  metadata: { name: 'podinfo', namespace: 'team-a' },
  spec: {
    interval: '10m',
    chart: {
      spec: {
        chart: 'podinfo',
        version: '6.x',
        sourceRef: { kind: 'HelmRepository', name: 'podinfo', namespace: 'flux-system' },
      },
    },
    ...extra.spec,
  },
  ...(extra.status === undefined ? {} : { status: extra.status }),
});

const snapshot = (version: number, chartVersion: string, status: string) => ({
  chartName: 'podinfo',
  chartVersion,
  configDigest: 'sha256:2c5b4b3f0f6a2b8e9d1c7e4a5f6b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b',
  digest: 'sha256:8e9d1c7e4a5f6b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b2c5b4b3f0f6a2b',
  firstDeployed: '2026-12-01T10:00:00Z',
  lastDeployed: '2026-12-06T10:00:00Z',
  name: 'podinfo',
  namespace: 'team-a',
  status,
  version,
});

const options = { controller: defaultHelmController };

describe('releasesFromFlux', () => {
  it('helm-controller and the service account it impersonates, in the release’s namespace', () => {
    const { releases, problems } = releasesFromFlux(
      [podinfo({ spec: { serviceAccountName: 'deployer', targetNamespace: 'web' } })],
      options,
    );
    expect(problems).toEqual([]);
    expect(releases).toEqual([
      {
        name: 'team-a/podinfo',
        syncIdentities: {
          users: [defaultHelmController, 'system:serviceaccount:team-a:deployer'],
          groups: [],
        },
        revision: undefined,
      },
    ]);
  });

  it('without serviceAccountName, only helm-controller', () => {
    const [release] = releasesFromFlux([podinfo()], options).releases;
    expect(release?.syncIdentities.users).toEqual([defaultHelmController]);
  });

  it('names the latest Helm release of status.history, whatever its order', () => {
    const [release] = releasesFromFlux(
      [
        podinfo({
          status: {
            history: [snapshot(2, '6.5.3', 'superseded'), snapshot(3, '6.5.4', 'deployed')],
            lastAttemptedRevision: '6.5.4',
          },
        }),
      ],
      options,
    ).releases;
    expect(release?.revision).toBe('podinfo@6.5.4, Helm release team-a/podinfo.v3');
  });

  it('before the first release, the chart version last attempted', () => {
    const [release] = releasesFromFlux(
      [podinfo({ status: { lastAttemptedRevision: '6.5.4+0a1b2c3d4e5f' } })],
      options,
    ).releases;
    expect(release?.revision).toBe('chart version 6.5.4+0a1b2c3d4e5f (last attempted)');
  });

  it('a release to another cluster (spec.kubeConfig) gives no identity here, and says why', () => {
    const { releases, problems } = releasesFromFlux(
      [
        podinfo({
          spec: {
            serviceAccountName: 'deployer',
            kubeConfig: { secretRef: { name: 'prod-kubeconfig' } },
          },
        }),
      ],
      options,
    );
    expect(releases).toEqual([]);
    expect(problems).toEqual([
      {
        object: 'HelmRelease team-a/podinfo',
        source: null,
        effect: 'skipped',
        reason: 'spec.kubeConfig: it deploys to another cluster',
      },
    ]);
  });
});
