// Discovered sources in the Git provider, against real local repositories: what admission
// would serve as Argo CD Applications and Flux Kustomizations appear, sync and go.
import { readFileSync, renameSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { discoveryProblemMetrics } from '../../src/cluster/metrics.js';
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

describe('GitDesiredProvider with discovered Argo CD Applications read as Argo CD reads them', () => {
  /** A provider whose log lines the test reads. */
  function logged(cacheDir?: string) {
    const cache =
      cacheDir === undefined
        ? tempDir('driftgate-cache-')
        : { path: cacheDir, cleanup: () => undefined };
    cleanups.push(cache.cleanup);
    const log = captureLogger();
    const created = createGitProvider(
      { sources: [], cacheDir: cache.path, poll: false },
      { logger: log.logger },
    );
    cleanups.push(() => created.stop());
    return { provider: created, lines: log.lines, cacheDir: cache.path };
  }

  /** An Application whose source has `extra` (directory, helm) besides repo, path and revision. */
  function withSource(
    name: string,
    repoURL: string,
    path: string,
    revision: string,
    extra: Record<string, unknown> = {},
  ) {
    const app = application(name, repoURL, path, revision);
    return { ...app, spec: { ...app.spec, source: { ...app.spec.source, ...extra } } };
  }

  // reposerver/repository/repository.go getObjsFromYAMLOrJSON: a file that does not decode into
  // objects and holds no `apiVersion:`, `kind:` and `metadata:` is skipped.
  it('a plain values.yaml next to the manifests does not stop the Application being judged', async () => {
    const git = repo();
    const commit = git.commit({
      'apps/deploy-web.yaml': fixture('deploy-web.yaml'),
      'apps/values.yaml': 'replicaCount: 3\nimage:\n  tag: 1.4.2\n',
    });
    const { provider: gitProvider } = logged();
    await gitProvider.start();
    await gitProvider.setDiscoveredSources(
      discovered([application('shop', git.fileURL, 'apps', commit)]),
    );
    expect(gitProvider.current().get(deployment)?.commit).toBe(commit);
    expect(gitProvider.status()[0]?.lastError).toBeNull();
    expect(gitProvider.discoveryProblems()).toEqual([]);
  });

  it('a render failure is a discovery problem naming the Application, counted and logged once', async () => {
    const git = repo();
    const broken = git.commit({
      'apps/deploy-web.yaml': fixture('deploy-web.yaml'),
      'apps/bad.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata: [unclosed\n',
      'chart/Chart.yaml': 'apiVersion: v2\nname: shop\nversion: 0.1.0\n',
    });
    // git, and no helm: a chart source cannot be rendered.
    const bin = tempDir('driftgate-bin-');
    cleanups.push(bin.cleanup);
    symlinkSync('/usr/bin/git', join(bin.path, 'git'));
    const path = process.env['PATH'];
    process.env['PATH'] = bin.path;
    cleanups.push(() => {
      process.env['PATH'] = path;
    });
    const { provider: gitProvider, lines } = logged();
    const registry = new Registry();
    const publishMapped = discoveryProblemMetrics(registry, () => gitProvider.discoveryProblems());
    publishMapped([]);
    await gitProvider.start();
    await gitProvider.setDiscoveredSources(
      discovered([
        application('shop', git.fileURL, 'apps', broken),
        withSource('chart', git.fileURL, 'chart', broken, { helm: { releaseName: 'shop' } }),
      ]),
    );
    for (let poll = 0; poll < 3; poll++) await gitProvider.refreshAll();

    const problems = gitProvider.discoveryProblems();
    expect(problems).toEqual([
      {
        object: 'Application argocd/shop',
        source: 'argocd:argocd/shop',
        effect: 'skipped',
        reason: expect.stringMatching(
          /^cannot be fetched or rendered, its objects are not judged: source argocd:argocd\/shop: apps\/bad\.yaml:6: invalid YAML/,
        ) as unknown,
      },
      {
        object: 'Application argocd/chart',
        source: 'argocd:argocd/chart',
        effect: 'skipped',
        reason:
          'cannot be fetched or rendered, its objects are not judged: source argocd:argocd/chart: a Helm chart needs the helm binary on PATH, which is not installed',
      },
    ]);
    const metric = await registry.getSingleMetricAsString('driftgate_discovery_problems');
    expect(metric).toContain('driftgate_discovery_problems{tool="argocd",effect="skipped"} 2');
    // Four refreshes, each failing the same way: one error line per Application.
    const errors = lines().filter((line) => line['level'] === 50);
    expect(errors.map((line) => line['source']).sort()).toEqual([
      'argocd:argocd/chart',
      'argocd:argocd/shop',
    ]);
    expect(errors.every((line) => line['object'] !== undefined)).toBe(true);

    // Fixed in Git and synced by Argo CD: the problem goes.
    const fixed = git.commit({ 'apps/bad.yaml': null });
    await gitProvider.setDiscoveredSources(
      discovered([application('shop', git.fileURL, 'apps', fixed)]),
    );
    expect(gitProvider.discoveryProblems()).toEqual([]);
    expect(gitProvider.current().get(deployment)?.commit).toBe(fixed);
  });

  // repository.go findManifests evaluates `.jsonnet` files of a directory source; driftgate
  // has no Jsonnet evaluator, so the Application is judged in part, and says which files.
  it('names the .jsonnet files it cannot evaluate as a partial problem, also after a restart', async () => {
    const git = repo();
    const commit = git.commit({
      'apps/deploy-web.yaml': fixture('deploy-web.yaml'),
      'apps/web.jsonnet': '{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "j" } }',
    });
    const apps = [withSource('shop', git.fileURL, 'apps', commit, { directory: { jsonnet: {} } })];
    const expected = [
      {
        object: 'Application argocd/shop',
        source: 'argocd:argocd/shop',
        effect: 'partial',
        reason: 'apps/web.jsonnet: Jsonnet is not evaluated; its objects are not judged',
      },
    ];
    const first = logged();
    await first.provider.start();
    await first.provider.setDiscoveredSources(discovered(apps));
    expect(first.provider.current().get(deployment)?.commit).toBe(commit);
    expect(first.provider.discoveryProblems()).toEqual(expected);
    await first.provider.refreshAll();
    const warned = (lines: Record<string, unknown>[]) =>
      lines.filter((line) => String(line['msg']).includes('web.jsonnet'));
    expect(warned(first.lines())).toHaveLength(1);
    await first.provider.stop();

    const second = logged(first.cacheDir);
    await second.provider.start();
    renameSync(git.bare, `${git.bare}.gone`);
    await second.provider.setDiscoveredSources(discovered(apps));
    expect(second.provider.current().origin).toBe('restored');
    // The served render's notes, and Git being out of reach, both reported.
    expect(second.provider.discoveryProblems()).toEqual([
      expect.objectContaining({
        effect: 'partial',
        reason: expect.stringContaining(
          'cannot be fetched or rendered, judged against commit',
        ) as unknown,
      }),
      ...expected,
    ]);
  });
});
