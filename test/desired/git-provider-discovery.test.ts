// Discovered sources in the Git provider, against real local repositories: what admission
// would serve as Argo CD Applications and Flux Kustomizations appear, sync and go.
import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SourceConfig } from '../../src/config/config.js';
import { createGitProvider } from '../../src/desired/git-provider.js';
import type { DesiredSnapshot } from '../../src/desired/snapshot.js';
import { sourcesFromApplications } from '../../src/discovery/argocd.js';
import { capturedManifests, captureLogger, listDir, sourceConfig, tempDir } from './git-fixture.js';
import { cleanedAfterEach } from '../support/cleanups.js';

const fixture = (name: string): string => readFileSync(join(capturedManifests, name), 'utf8');
const deployment = { group: 'apps', kind: 'Deployment', namespace: 'shop', name: 'web' };
const service = { group: '', kind: 'Service', namespace: 'shop', name: 'web' };
const configMap = { group: '', kind: 'ConfigMap', namespace: 'shop', name: 'web-config' };

function imageOf(snapshot: DesiredSnapshot): unknown {
  const object = snapshot.get(deployment)?.object as
    { spec: { template: { spec: { containers: { image: string }[] } } } } | undefined;
  return object?.spec.template.spec.containers[0]?.image;
}

const { cleanups, repo } = cleanedAfterEach();

function provider(sources: readonly SourceConfig[] = [], cacheDir?: string) {
  const cache =
    cacheDir === undefined
      ? tempDir('driftgate-cache-')
      : { path: cacheDir, cleanup: () => undefined };
  cleanups.push(cache.cleanup);
  const created = createGitProvider(
    { sources, cacheDir: cache.path, poll: false },
    { logger: captureLogger().logger },
  );
  cleanups.push(() => created.stop());
  return { provider: created, cacheDir: cache.path };
}

/** An Application as Argo CD stores it after syncing `revision` of `repoURL`. */
function application(name: string, repoURL: string, path: string, revision: string) {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: { name, namespace: 'argocd' },
    spec: {
      project: 'default',
      source: { repoURL, path, targetRevision: 'main' },
      destination: { server: 'https://kubernetes.default.svc', namespace: 'shop' },
    },
    status: { sync: { status: 'Synced', revision } },
  };
}

function discovered(apps: unknown[]): readonly SourceConfig[] {
  const result = sourcesFromApplications(apps, {
    controller: 'system:serviceaccount:argocd:argocd-application-controller',
    trackingMethod: 'annotation',
    instanceLabelKey: 'app.kubernetes.io/instance',
    pollIntervalMs: 300_000,
  });
  expect(result.problems).toEqual([]);
  return result.sources;
}

const v2 = fixture('deploy-web.yaml').replace(
  'registry.example.com/shop/web:1.4.2',
  'registry.example.com/shop/web:2.0.0',
);

describe('GitDesiredProvider with discovered sources', () => {
  it('serves a discovered source next to a configured one, and lists both', async () => {
    const git = repo();
    const first = git.commit({
      'config/cm.yaml': fixture('cm-web-config.yaml'),
      'apps/deploy-web.yaml': fixture('deploy-web.yaml'),
    });
    const { provider: gitProvider } = provider([
      sourceConfig({ name: 'base', repoURL: git.fileURL, path: 'config' }),
    ]);
    await gitProvider.start();
    expect(gitProvider.current().get(deployment)).toBeUndefined();

    const sources = discovered([application('shop', git.fileURL, 'apps', first)]);
    await gitProvider.setDiscoveredSources(sources);
    const snapshot = gitProvider.current();
    expect(snapshot.get(deployment)).toMatchObject({
      source: 'argocd:argocd/shop',
      file: 'apps/deploy-web.yaml',
      commit: first,
    });
    expect(snapshot.get(configMap)?.source).toBe('base');
    expect(gitProvider.sources().map((source) => source.name)).toEqual([
      'base',
      'argocd:argocd/shop',
    ]);
    expect(
      gitProvider.status().map((status) => [status.name, status.commit, status.objects]),
    ).toEqual([
      ['base', first, 1],
      ['argocd:argocd/shop', first, 1],
    ]);
  });

  it('renders the commit Argo CD synced, and again at the next synced revision', async () => {
    const git = repo();
    const first = git.commit({ 'apps/deploy-web.yaml': fixture('deploy-web.yaml') });
    const second = git.commit({ 'apps/deploy-web.yaml': v2 });
    // Branch main is already at `second`; Argo CD has synced only `first` so far.
    const { provider: gitProvider } = provider();
    await gitProvider.start();
    await gitProvider.setDiscoveredSources(
      discovered([application('shop', git.fileURL, 'apps', first)]),
    );
    expect(imageOf(gitProvider.current())).toBe('registry.example.com/shop/web:1.4.2');
    expect(gitProvider.current().get(deployment)?.commit).toBe(first);

    const before = gitProvider.sources();
    await gitProvider.setDiscoveredSources(
      discovered([application('shop', git.fileURL, 'apps', second)]),
    );
    expect(imageOf(gitProvider.current())).toBe('registry.example.com/shop/web:2.0.0');
    expect(gitProvider.current().get(deployment)?.commit).toBe(second);
    // A new list for decide: its caches are keyed by the list.
    expect(gitProvider.sources()).not.toBe(before);
  });

  it('renders again when only how it renders changes (Flux substitution)', async () => {
    const git = repo();
    const commit = git.commit({
      'apps/cm.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  env: "${env}"\n',
    });
    const flux = (env: string): SourceConfig =>
      sourceConfig({
        name: 'flux:flux-system/apps',
        repoURL: git.fileURL,
        revision: commit,
        path: 'apps',
        render: 'auto',
        substitute: { env },
        fluxAnnotations: true,
      });
    const { provider: gitProvider } = provider();
    await gitProvider.start();
    const envOf = () =>
      (gitProvider.current().get(configMap)?.object as { data: { env: string } } | undefined)?.data
        .env;
    await gitProvider.setDiscoveredSources([flux('staging')]);
    expect(envOf()).toBe('staging');
    await gitProvider.setDiscoveredSources([flux('production')]);
    expect(envOf()).toBe('production');
  });

  it('drops a removed source’s objects in one swap, down to an empty snapshot', async () => {
    const git = repo();
    const commit = git.commit({
      'apps/deploy-web.yaml': fixture('deploy-web.yaml'),
      'svc/svc-web.yaml': fixture('svc-web.yaml'),
    });
    const { provider: gitProvider } = provider();
    await gitProvider.start();
    const both = discovered([
      application('shop', git.fileURL, 'apps', commit),
      application('svc', git.fileURL, 'svc', commit),
    ]);
    await gitProvider.setDiscoveredSources(both);
    expect(gitProvider.current().size).toBe(2);

    await gitProvider.setDiscoveredSources(both.filter((s) => s.name === 'argocd:argocd/svc'));
    const after = gitProvider.current();
    expect(after.get(deployment)).toBeUndefined();
    expect(after.get(service)?.source).toBe('argocd:argocd/svc');
    expect(gitProvider.status().map((status) => status.name)).toEqual(['argocd:argocd/svc']);

    await gitProvider.setDiscoveredSources([]);
    expect(gitProvider.current().size).toBe(0);
    expect(gitProvider.sources()).toEqual([]);
  });

  it('two Applications on one repository share one clone', async () => {
    const git = repo();
    const commit = git.commit({
      'apps/deploy-web.yaml': fixture('deploy-web.yaml'),
      'svc/svc-web.yaml': fixture('svc-web.yaml'),
    });
    const { provider: gitProvider, cacheDir } = provider();
    await gitProvider.start();
    await gitProvider.setDiscoveredSources(
      discovered([
        application('shop', git.fileURL, 'apps', commit),
        application('svc', git.fileURL, 'svc', commit),
      ]),
    );
    expect(gitProvider.current().size).toBe(2);
    expect(listDir(join(cacheDir, 'repos'))).toHaveLength(1);
    // Their persisted renders have file names of their own.
    expect(listDir(join(cacheDir, 'snapshots')).sort()).toEqual([
      expect.stringMatching(/^argocd_argocd_shop-[0-9a-f]{12}\.json$/),
      expect.stringMatching(/^argocd_argocd_svc-[0-9a-f]{12}\.json$/),
    ]);
  });

  it('after a restart, serves a discovered source’s last render while Git is unreachable', async () => {
    const git = repo();
    const commit = git.commit({
      'apps/deploy-web.yaml': fixture('deploy-web.yaml'),
      'apps/cm.yaml': fixture('cm-web-config.yaml').replace(
        'metadata:',
        'metadata:\n  annotations:\n    kustomize.toolkit.fluxcd.io/ssa: IfNotPresent',
      ),
    });
    const flux = sourceConfig({
      name: 'flux:flux-system/apps',
      repoURL: git.fileURL,
      revision: commit,
      path: 'apps',
      render: 'auto',
      fluxAnnotations: true,
    });
    const first = provider();
    await first.provider.start();
    await first.provider.setDiscoveredSources([flux]);
    expect(first.provider.current().get(deployment)?.commit).toBe(commit);
    // Created once by Flux and never corrected: not Flux's desired state.
    expect(first.provider.current().get(configMap)).toBeUndefined();
    await first.provider.stop();

    renameSync(git.bare, `${git.bare}.gone`);
    const second = provider([], first.cacheDir);
    await second.provider.start();
    await second.provider.setDiscoveredSources([flux]);
    const snapshot = second.provider.current();
    expect(snapshot.origin).toBe('restored');
    expect(snapshot.get(deployment)?.commit).toBe(commit);
    expect(snapshot.get(configMap)).toBeUndefined();
    expect(second.provider.status()[0]).toMatchObject({
      name: 'flux:flux-system/apps',
      restored: true,
      stale: true,
      lastError: expect.objectContaining({ code: expect.stringMatching(/^DRIFTGATE_ERR_GIT/) }),
    });
  });

  it('a discovered name that a configured source holds is ignored', async () => {
    const git = repo();
    git.commit({ 'apps/deploy-web.yaml': fixture('deploy-web.yaml') });
    const configured = sourceConfig({ name: 'shop', repoURL: git.fileURL, path: 'apps' });
    const { provider: gitProvider } = provider([configured]);
    await gitProvider.start();
    await gitProvider.setDiscoveredSources([{ ...configured, path: 'elsewhere' }]);
    expect(gitProvider.sources()).toEqual([configured]);
    expect(gitProvider.current().get(deployment)?.source).toBe('shop');
  });
});
