import { describe, expect, it } from 'vitest';
import { sourceNameProblem } from '../config/config.js';
import {
  commitOfFluxRevision,
  defaultFluxController,
  sourcesFromFlux,
  type FluxMappingOptions,
} from './flux.js';

const options: FluxMappingOptions = { controller: defaultFluxController, pollIntervalMs: 300_000 };
const sha = '7d5e2e0c8c8b6f4a1e2d3c4b5a69788796a5b4c3';

// Shapes of source.toolkit.fluxcd.io/v1 GitRepository and kustomize.toolkit.fluxcd.io/v1
// Kustomization as `flux bootstrap` and `flux create kustomization --export` write them.
const gitRepository = (ref: Record<string, unknown> = { branch: 'main' }) => ({
  apiVersion: 'source.toolkit.fluxcd.io/v1',
  kind: 'GitRepository',
  metadata: { name: 'flux-system', namespace: 'flux-system' },
  spec: {
    interval: '1m0s',
    ref,
    secretRef: { name: 'flux-system' },
    url: 'ssh://git@github.com/example/fleet-infra',
  },
  status: { artifact: { revision: `main@sha1:${sha}` } },
});

function kustomization(
  spec: Record<string, unknown>,
  status?: Record<string, unknown>,
): Record<string, unknown> {
  return {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name: 'apps', namespace: 'flux-system' },
    spec: {
      interval: '10m0s',
      path: './apps/production',
      prune: true,
      sourceRef: { kind: 'GitRepository', name: 'flux-system' },
      ...spec,
    },
    ...(status === undefined ? {} : { status }),
  };
}

describe('sourcesFromFlux', () => {
  it('maps an applied Kustomization to a source at its lastAppliedRevision', () => {
    const { sources, problems } = sourcesFromFlux(
      [gitRepository()],
      [
        kustomization(
          {
            targetNamespace: 'shop',
            serviceAccountName: 'shop-deployer',
            postBuild: { substitute: { cluster_env: 'prod', replicas: '3' } },
          },
          { lastAppliedRevision: `main@sha1:${sha}` },
        ),
      ],
      options,
    );
    expect(problems).toEqual([]);
    expect(sources).toEqual([
      {
        name: 'flux:flux-system/apps',
        repoURL: 'ssh://git@github.com/example/fleet-infra',
        revision: sha,
        path: 'apps/production',
        namespace: 'shop',
        render: 'auto',
        command: [],
        pollIntervalMs: 300_000,
        include: [],
        exclude: [],
        auth: null,
        syncIdentities: {
          users: [defaultFluxController, 'system:serviceaccount:flux-system:shop-deployer'],
          groups: [],
        },
        ignoreDifferences: [],
        trackingLabel: null,
        kustomize: {
          images: [],
          namePrefix: null,
          nameSuffix: null,
          namespace: 'shop',
          replicas: [],
        },
        substitute: { cluster_env: 'prod', replicas: '3' },
        fluxAnnotations: true,
        origin: { kind: 'flux', object: 'flux-system/apps' },
      },
    ]);
    expect(sourceNameProblem('flux:flux-system/apps')).toBeUndefined();
  });

  it('before the first apply, follows the GitRepository ref (master when none)', () => {
    const revisionWith = (ref: Record<string, unknown> | undefined) =>
      sourcesFromFlux(
        [{ ...gitRepository(), spec: { url: 'https://github.com/example/fleet', ref } }],
        [kustomization({})],
        options,
      ).sources[0]?.revision;
    expect(revisionWith({ branch: 'main' })).toBe('main');
    expect(revisionWith({ tag: 'v1.2.0', branch: 'main' })).toBe('v1.2.0');
    expect(revisionWith({ commit: sha, branch: 'main' })).toBe(sha);
    expect(revisionWith(undefined)).toBe('master');
  });

  it('maps images, prefix and suffix as Flux sets them on the kustomization', () => {
    const { sources } = sourcesFromFlux(
      [gitRepository()],
      [
        kustomization({
          images: [
            { name: 'podinfo', newName: 'ghcr.io/stefanprodan/podinfo', newTag: '6.5.0' },
            {
              name: 'redis',
              digest: 'sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3',
            },
          ],
          namePrefix: 'prod-',
          nameSuffix: '-a',
        }),
      ],
      options,
    );
    expect(sources[0]?.kustomize).toEqual({
      images: [
        'podinfo=ghcr.io/stefanprodan/podinfo:6.5.0',
        'redis=redis@sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3',
      ],
      namePrefix: 'prod-',
      nameSuffix: '-a',
      namespace: null,
      replicas: [],
    });
  });

  it.each([
    {
      name: 'substituteFrom',
      spec: { postBuild: { substituteFrom: [{ kind: 'ConfigMap', name: 'cluster-vars' }] } },
      reason: 'postBuild.substituteFrom (ConfigMaps/Secrets) cannot be reproduced',
    },
    {
      name: 'an OCIRepository source',
      spec: { sourceRef: { kind: 'OCIRepository', name: 'podinfo' } },
      reason: 'reads a OCIRepository source, not a GitRepository',
    },
    {
      name: 'an unknown GitRepository',
      spec: { sourceRef: { kind: 'GitRepository', name: 'other', namespace: 'team' } },
      reason: 'its GitRepository team/other is not known',
    },
    {
      name: 'patches',
      spec: {
        patches: [
          { patch: '- op: remove\n  path: /spec/replicas', target: { kind: 'Deployment' } },
        ],
      },
      reason: 'spec.patches cannot be reproduced',
    },
  ])('skips a Kustomization with $name, naming it', ({ spec, reason }) => {
    const { sources, problems } = sourcesFromFlux(
      [gitRepository()],
      [kustomization(spec, { lastAppliedRevision: `main@sha1:${sha}` })],
      options,
    );
    expect(sources).toEqual([]);
    expect(problems).toEqual([
      {
        object: 'Kustomization flux-system/apps',
        source: 'flux:flux-system/apps',
        effect: 'skipped',
        reason,
      },
    ]);
  });
});

describe('commitOfFluxRevision', () => {
  it.each([
    [`main@sha1:${sha}`, sha],
    [`refs/tags/v1.0.0@sha1:${sha}`, sha],
    [`sha1:${sha}`, sha],
    [`main/${sha}`, sha],
    ['latest@sha256:abc', undefined],
  ])('%s', (revision, commit) => {
    expect(commitOfFluxRevision(revision)).toBe(commit);
  });
});
