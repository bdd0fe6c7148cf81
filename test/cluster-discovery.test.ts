// Discovery through the real client library: Applications, GitRepositories and Kustomizations
// served by the loopback API server become sources, and follow every change to them.
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { watchDiscovery, type DiscoveryWatch } from '../src/cluster/discovery-watch.js';
import type { WatchEvents } from '../src/cluster/watch.js';
import type { HelmReleaseDiscovery } from '../src/discovery/flux-helm.js';
import type { DiscoveryResult } from '../src/discovery/result.js';
import type { JsonObject } from '../src/kube/object.js';
import { captureLogger, waitFor } from './desired/git-fixture.js';
import { resourceTypes, startFakeApiServer, type FakeApiServer } from './support/fake-apiserver.js';
import { fixturePath } from './support/fixtures.js';

const quiet: WatchEvents = {
  started: () => undefined,
  synced: () => undefined,
  changed: () => undefined,
  relisted: () => undefined,
  failed: () => undefined,
};
const argocd = {
  namespace: 'argocd',
  controller: 'system:serviceaccount:argocd:argocd-application-controller',
  repoCredentials: false,
  trackingMethod: 'annotation' as const,
  instanceLabelKey: 'app.kubernetes.io/instance',
  hub: null,
};

/** The captured guestbook Application (no status yet), moved into the argocd namespace. */
function guestbook(status?: JsonObject): JsonObject {
  const list = JSON.parse(
    readFileSync(fixturePath('apiserver/07d-application-list-all.json'), 'utf8'),
  ) as { items: (JsonObject & { metadata: JsonObject })[] };
  const app = list.items[0]!;
  const { resourceVersion: _rv, uid: _uid, ...metadata } = app.metadata;
  return {
    ...app,
    metadata: { ...metadata, namespace: 'argocd' },
    ...(status === undefined ? {} : { status }),
  };
}

let api: FakeApiServer;
let discovery: DiscoveryWatch | undefined;
let published: DiscoveryResult[];
let releases: HelmReleaseDiscovery[];

beforeEach(async () => {
  api = await startFakeApiServer();
  published = [];
  releases = [];
});
afterEach(async () => {
  await discovery?.stop();
  discovery = undefined;
  await api.stop();
});

function start(settings: {
  argocd?: typeof argocd | null;
  flux?: { namespace: string | null } | null;
}) {
  discovery = watchDiscovery(
    api.connection(),
    { argocd: settings.argocd ?? null, flux: settings.flux ?? null, pollIntervalMs: 60_000 },
    {
      logger: captureLogger().logger,
      events: quiet,
      publish: (result) => published.push(result),
      releases: (result) => releases.push(result),
      timing: { initialBackoffMs: 50, maxBackoffMs: 200 },
      debounceMs: 20,
    },
  );
  return discovery!;
}
const last = () => published.at(-1);
const sourceNamed = (name: string) => last()?.sources.find((source) => source.name === name);

describe('Argo CD Applications', () => {
  it('become sources at targetRevision before the first sync, then at the synced revision', async () => {
    start({ argocd });
    expect(await waitFor(() => published.length > 0, 5_000)).toBe(true);
    expect(last()?.sources).toEqual([]);

    api.put(resourceTypes.applications, guestbook());
    expect(await waitFor(() => sourceNamed('argocd:argocd/guestbook') !== undefined, 5_000)).toBe(
      true,
    );
    expect(sourceNamed('argocd:argocd/guestbook')).toMatchObject({
      repoURL: 'https://github.com/argoproj/argocd-example-apps.git',
      revision: null, // targetRevision HEAD: the remote's default branch
      path: 'guestbook',
      namespace: 'cap',
      syncIdentities: { users: [argocd.controller] },
    });

    const revision = '53e28ff20cc530b9ada2173fbbd64d48338583ba';
    api.put(resourceTypes.applications, guestbook({ sync: { status: 'Synced', revision } }));
    expect(
      await waitFor(() => sourceNamed('argocd:argocd/guestbook')?.revision === revision, 5_000),
    ).toBe(true);
    // Its ignoreDifferences travel with it: jsonPointers kept, jq turned into pointers where exact.
    expect(sourceNamed('argocd:argocd/guestbook')?.ignoreDifferences?.[0]).toMatchObject({
      group: 'apps',
      kind: 'Deployment',
      jsonPointers: ['/spec/replicas'],
    });

    api.remove(resourceTypes.applications, 'argocd', 'guestbook');
    expect(await waitFor(() => sourceNamed('argocd:argocd/guestbook') === undefined, 5_000)).toBe(
      true,
    );
  });

  it('tracks resources as argocd-cm says, over the config, and maps again when it changes', async () => {
    start({ argocd });
    api.put(resourceTypes.applications, guestbook());
    expect(await waitFor(() => sourceNamed('argocd:argocd/guestbook') !== undefined, 5_000)).toBe(
      true,
    );
    expect(sourceNamed('argocd:argocd/guestbook')?.trackingLabel).toBeNull(); // annotation
    api.put(resourceTypes.configmaps, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'argocd-cm', namespace: 'argocd' },
      data: {
        'application.resourceTrackingMethod': 'label',
        'application.instanceLabelKey': 'argocd.argoproj.io/instance',
      },
    });
    expect(
      await waitFor(
        () =>
          sourceNamed('argocd:argocd/guestbook')?.trackingLabel === 'argocd.argoproj.io/instance',
        5_000,
      ),
    ).toBe(true);
  });

  it('maps only what changed: an untouched Application keeps the very same source', async () => {
    start({ argocd });
    api.put(resourceTypes.applications, guestbook());
    expect(await waitFor(() => sourceNamed('argocd:argocd/guestbook') !== undefined, 5_000)).toBe(
      true,
    );
    const before = sourceNamed('argocd:argocd/guestbook');
    api.put(resourceTypes.applications, {
      ...guestbook(),
      metadata: { ...(guestbook().metadata as JsonObject), name: 'other' },
    });
    expect(await waitFor(() => sourceNamed('argocd:argocd/other') !== undefined, 5_000)).toBe(true);
    // The same object: the provider skips it without comparing its options.
    expect(sourceNamed('argocd:argocd/guestbook')).toBe(before);
  });

  it('only Applications in the configured namespace count', async () => {
    start({ argocd });
    api.put(resourceTypes.applications, {
      ...guestbook(),
      metadata: { ...(guestbook().metadata as JsonObject), namespace: 'team-a' },
    });
    api.put(resourceTypes.applications, guestbook());
    expect(await waitFor(() => last()?.sources.length === 1, 5_000)).toBe(true);
    expect(last()?.sources.map((source) => source.name)).toEqual(['argocd:argocd/guestbook']);
  });

  it('publishes nothing before its watch has listed: a slow API server never empties the sources', async () => {
    await api.goDown();
    start({ argocd });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(published).toEqual([]);
    api.put(resourceTypes.applications, guestbook());
    await api.comeBack();
    expect(await waitFor(() => published.length > 0, 5_000)).toBe(true);
    expect(published[0]?.sources.map((source) => source.name)).toEqual(['argocd:argocd/guestbook']);
  });
});

describe('Flux', () => {
  const commit = '2f4c8a1e9b7d6c5a4f3e2d1c0b9a8f7e6d5c4b3a';
  const gitRepository: JsonObject = {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name: 'podinfo', namespace: 'flux-system' },
    spec: {
      interval: '1m',
      url: 'https://github.com/stefanprodan/podinfo',
      ref: { branch: 'master' },
    },
    status: { artifact: { revision: `master@sha1:${commit}` } },
  };
  const kustomization = (lastAppliedRevision?: string): JsonObject => ({
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name: 'podinfo', namespace: 'flux-system' },
    spec: {
      interval: '10m',
      path: './kustomize',
      prune: true,
      sourceRef: { kind: 'GitRepository', name: 'podinfo' },
      targetNamespace: 'podinfo',
      postBuild: { substitute: { cluster_env: 'prod' } },
    },
    ...(lastAppliedRevision === undefined ? {} : { status: { lastAppliedRevision } }),
  });

  it('a Kustomization of a GitRepository becomes a source at the revision Flux last applied', async () => {
    start({ flux: { namespace: null } });
    api.put(resourceTypes.gitrepositories, gitRepository);
    api.put(resourceTypes.kustomizations, kustomization(`master@sha1:${commit}`));
    expect(await waitFor(() => sourceNamed('flux:flux-system/podinfo') !== undefined, 5_000)).toBe(
      true,
    );
    expect(sourceNamed('flux:flux-system/podinfo')).toMatchObject({
      repoURL: 'https://github.com/stefanprodan/podinfo',
      revision: commit,
      path: 'kustomize',
      namespace: 'podinfo',
      substitute: { cluster_env: 'prod' },
    });
    api.remove(resourceTypes.kustomizations, 'flux-system', 'podinfo');
    expect(await waitFor(() => sourceNamed('flux:flux-system/podinfo') === undefined, 5_000)).toBe(
      true,
    );
  });

  const helmRelease = (serviceAccountName?: string): JsonObject => ({
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
      ...(serviceAccountName === undefined ? {} : { serviceAccountName }),
    },
    status: {
      history: [
        {
          chartName: 'podinfo',
          chartVersion: '6.5.4',
          configDigest: 'sha256:2c5b4b3f0f6a2b8e9d1c7e4a5f6b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b',
          digest: 'sha256:8e9d1c7e4a5f6b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b2c5b4b3f0f6a2b',
          firstDeployed: '2026-12-01T10:00:00Z',
          lastDeployed: '2026-12-06T10:00:00Z',
          name: 'podinfo',
          namespace: 'team-a',
          status: 'deployed',
          version: 1,
        },
      ],
      lastAttemptedRevision: '6.5.4',
    },
  });
  const release = () => releases.at(-1)?.releases.find((r) => r.name === 'team-a/podinfo');

  it('a HelmRelease names who applies its objects and what it released, and follows changes', async () => {
    start({ flux: { namespace: null } });
    expect(await waitFor(() => releases.length > 0, 5_000)).toBe(true);
    expect(releases.at(-1)?.releases).toEqual([]);
    api.put(resourceTypes.helmreleases, helmRelease());
    expect(await waitFor(() => release() !== undefined, 5_000)).toBe(true);
    expect(release()).toEqual({
      name: 'team-a/podinfo',
      syncIdentities: { users: ['system:serviceaccount:flux-system:helm-controller'], groups: [] },
      revision: 'podinfo@6.5.4, Helm release team-a/podinfo.v1',
    });
    api.put(resourceTypes.helmreleases, helmRelease('deployer'));
    expect(await waitFor(() => release()?.syncIdentities.users.length === 2, 5_000)).toBe(true);
    expect(release()?.syncIdentities.users[1]).toBe('system:serviceaccount:team-a:deployer');
    api.remove(resourceTypes.helmreleases, 'team-a', 'podinfo');
    expect(await waitFor(() => release() === undefined, 5_000)).toBe(true);
    // HelmReleases make no sources: driftgate renders no chart.
    expect(last()?.sources ?? []).toEqual([]);
  });

  it('Kustomizations are discovered though HelmReleases cannot be listed', async () => {
    api.forbid(resourceTypes.helmreleases);
    start({ flux: { namespace: null } });
    api.put(resourceTypes.gitrepositories, gitRepository);
    api.put(resourceTypes.kustomizations, kustomization(`master@sha1:${commit}`));
    expect(await waitFor(() => sourceNamed('flux:flux-system/podinfo') !== undefined, 5_000)).toBe(
      true,
    );
    expect(releases).toEqual([]);
  });
});

describe('Argo CD sync impersonation', () => {
  const project = {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AppProject',
    metadata: { name: 'default', namespace: 'argocd' },
    spec: {
      destinations: [{ namespace: '*', server: '*' }],
      destinationServiceAccounts: [
        {
          server: 'https://kubernetes.default.svc',
          namespace: 'cap',
          defaultServiceAccount: 'deployer',
        },
      ],
    },
  };
  const argocdCm = (enabled: string) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'argocd-cm', namespace: 'argocd' },
    data: { 'application.sync.impersonation.enabled': enabled },
  });

  it('when argocd-cm turns it on, the project’s destination service account syncs too', async () => {
    start({ argocd });
    api.put(resourceTypes.applications, guestbook());
    api.put(resourceTypes.appprojects, project);
    api.put(resourceTypes.configmaps, argocdCm('false'));
    const users = () => sourceNamed('argocd:argocd/guestbook')?.syncIdentities.users ?? [];
    expect(await waitFor(() => users().length === 1, 5_000)).toBe(true);
    expect(users()).toEqual([argocd.controller]);

    api.put(resourceTypes.configmaps, argocdCm('true'));
    expect(await waitFor(() => users().length === 2, 5_000)).toBe(true);
    expect(users()).toEqual([argocd.controller, 'system:serviceaccount:cap:deployer']);
  });
});
