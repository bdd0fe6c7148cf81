// The Git DesiredProvider against real repositories, over file:// and over git daemon on
// 127.0.0.1: what admission would serve after each push, failure and restart.
import { createHmac } from 'node:crypto';
import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorCodes } from '../../src/desired/errors.js';
import { createGitProvider, type GitProviderOptions } from '../../src/desired/git-provider.js';
import type { GitPushRequest } from '../../src/desired/git-push.js';
import type { DesiredSnapshot } from '../../src/desired/snapshot.js';
import {
  capturedManifests,
  captureLogger,
  listDir,
  sourceConfig,
  startGitDaemon,
  startSilentServer,
  tempDir,
  testProvider,
  waitFor,
  type TestRepo,
} from './git-fixture.js';
import { cleanedAfterEach } from '../support/cleanups.js';

const fixture = (name: string): string => readFileSync(join(capturedManifests, name), 'utf8');
const deployment = { group: 'apps', kind: 'Deployment', namespace: 'shop', name: 'web' };
const service = { group: '', kind: 'Service', namespace: 'shop', name: 'web' };
const configMap = (name: string) => ({ group: '', kind: 'ConfigMap', namespace: 'shop', name });

function imageOf(snapshot: DesiredSnapshot): unknown {
  const object = snapshot.get(deployment)?.object as
    { spec: { template: { spec: { containers: { image: string }[] } } } } | undefined;
  return object?.spec.template.spec.containers[0]?.image;
}

const { cleanups, repo } = cleanedAfterEach();

function provider(options: Omit<GitProviderOptions, 'cacheDir'> & { cacheDir?: string }) {
  return testProvider(cleanups, options);
}

const v2Image = 'registry.example.com/shop/web:2.0.0';
const deploymentV2 = fixture('deploy-web.yaml').replace(
  'registry.example.com/shop/web:1.4.2',
  v2Image,
);

describe('GitDesiredProvider over file://', () => {
  it('renders every manifest with its key, source, file and commit', async () => {
    const git = repo();
    const sha = git.commit({
      'apps/deploy-web.yaml': fixture('deploy-web.yaml'),
      'apps/svc-web.yaml': fixture('svc-web.yaml'),
      'apps/nested/ns-shop.yaml': fixture('ns-shop.yaml'),
      'apps/clusterrole.yaml': fixture('clusterrole-widgets.yaml'),
      'apps/cm.json': JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'from-json' } }],
      }),
      'apps/multi.yml':
        '---\n# nothing\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: second\n  namespace: other\ndata:\n  enabled: yes\n',
      'apps/README.md': 'not a manifest',
      'other/ignored.yaml': fixture('sa-web.yaml'),
    });
    const { provider: gitProvider } = provider({
      sources: [sourceConfig({ repoURL: git.fileURL, path: 'apps' })],
    });
    await gitProvider.start();
    const snapshot = gitProvider.current();
    expect(snapshot.origin).toBe('rendered');
    expect(snapshot.size).toBe(6);
    expect(snapshot.get(deployment)).toMatchObject({
      source: 'shop',
      file: 'apps/deploy-web.yaml',
      line: 1,
      commit: sha,
    });
    expect(snapshot.get(service)?.file).toBe('apps/svc-web.yaml');
    // Cluster-scoped kinds have no namespace; unnamespaced objects take the source's.
    expect(snapshot.get({ group: '', kind: 'Namespace', namespace: '', name: 'shop' })?.file).toBe(
      'apps/nested/ns-shop.yaml',
    );
    expect(
      snapshot.get({
        group: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        namespace: '',
        name: 'shop-widget-viewer',
      }),
    ).toBeDefined();
    expect(snapshot.get(configMap('from-json'))?.file).toBe('apps/cm.json');
    const second = snapshot.get({
      group: '',
      kind: 'ConfigMap',
      namespace: 'other',
      name: 'second',
    });
    expect(second?.line).toBe(4);
    // YAML 1.1, as the API server reads it.
    expect((second?.object as { data: { enabled: unknown } }).data.enabled).toBe(true);
    expect(
      snapshot.get({ group: '', kind: 'ServiceAccount', namespace: 'shop', name: 'web' }),
    ).toBeUndefined();
    expect(gitProvider.status()).toEqual([
      expect.objectContaining({
        name: 'shop',
        commit: sha,
        objects: 6,
        stale: false,
        lastError: null,
      }),
    ]);
  });

  it('renders a commit from the files it changed: the same snapshot as a full render, and after a restart', async () => {
    const git = repo();
    const several = (names: string[]): string =>
      names
        .map((name) => fixture('cm-web-config.yaml').replace('name: web-config', `name: ${name}`))
        .join('---\n');
    git.commit({
      'apps/deploy-web.yaml': fixture('deploy-web.yaml'),
      'apps/svc-web.yaml': fixture('svc-web.yaml'),
      'apps/several.yaml': several(['one', 'two']),
      'apps/gone.yaml': several(['gone']),
      'apps/moved.yaml': several(['moved']),
    });
    const cache = tempDir('driftgate-cache-');
    cleanups.push(cache.cleanup);
    const sources = [sourceConfig({ repoURL: git.fileURL, path: 'apps' })];
    const first = provider({ sources, cacheDir: cache.path });
    await first.provider.start();
    const rendered = () => first.log.lines().filter((line) => line['msg'] === 'source rendered');
    expect(rendered()[0]).toMatchObject({ objects: 6, objectsSent: 6, delta: false });

    const next = git.commit({
      'apps/deploy-web.yaml': deploymentV2,
      'apps/several.yaml': several(['one', 'two', 'three']),
      'apps/gone.yaml': null,
      'apps/moved.yaml': null,
      'apps/nested/moved.yaml': several(['moved']),
    });
    await first.provider.refreshAll();
    // Only the changed files' documents crossed from the parser: 1 + 3 + 1.
    expect(rendered()[1]).toMatchObject({ commit: next, objects: 6, objectsSent: 5, delta: true });
    const entries = (snapshot: DesiredSnapshot) =>
      JSON.parse(JSON.stringify([...snapshot.entries()])) as unknown;
    const delta = first.provider.current();
    expect(imageOf(delta)).toBe(v2Image);
    expect(delta.get(configMap('gone'))).toBeUndefined();
    expect(delta.get(configMap('moved'))?.file).toBe('apps/nested/moved.yaml');

    const full = provider({ sources });
    await full.provider.start();
    expect(entries(full.provider.current())).toEqual(entries(delta));
    await first.provider.stop();

    // The persisted snapshot is the delta render's, whole.
    renameSync(git.bare, `${git.bare}.moved`);
    const restarted = provider({ sources, cacheDir: cache.path }).provider;
    await restarted.start();
    expect(restarted.current().origin).toBe('restored');
    expect(entries(restarted.current())).toEqual(entries(delta));
  });

  it('honours include and exclude globs', async () => {
    const git = repo();
    git.commit({
      'deploy-web.yaml': fixture('deploy-web.yaml'),
      'svc-web.yaml': fixture('svc-web.yaml'),
      'test/cm.yaml': fixture('cm-web-config.yaml'),
    });
    const { provider: gitProvider } = provider({
      sources: [
        sourceConfig({ repoURL: git.fileURL, include: ['*.yaml', 'test/**'], exclude: ['svc-*'] }),
      ],
    });
    await gitProvider.start();
    const keys = [...gitProvider.current().entries()].map((entry) => entry.file).sort();
    expect(keys).toEqual(['deploy-web.yaml', 'test/cm.yaml']);
  });

  it('picks up a new commit when it polls', async () => {
    const git = repo();
    git.commit({ 'deploy-web.yaml': fixture('deploy-web.yaml') });
    const { provider: gitProvider } = provider({
      poll: true,
      sources: [sourceConfig({ repoURL: git.fileURL, pollIntervalMs: 200 })],
    });
    await gitProvider.start();
    expect(imageOf(gitProvider.current())).toBe('registry.example.com/shop/web:1.4.2');
    const next = git.commit({ 'deploy-web.yaml': deploymentV2 });
    expect(await waitFor(() => gitProvider.current().commits['shop'] === next, 10_000)).toBe(true);
    expect(imageOf(gitProvider.current())).toBe(v2Image);
  });

  it('keeps the last good snapshot when a manifest breaks, naming file and line', async () => {
    const git = repo();
    const good = git.commit({ 'deploy-web.yaml': fixture('deploy-web.yaml') });
    const { provider: gitProvider } = provider({
      sources: [sourceConfig({ repoURL: git.fileURL })],
    });
    await gitProvider.start();
    const before = gitProvider.current();
    git.commit({ 'broken.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [oops\n' });
    await gitProvider.refreshAll();
    expect(gitProvider.current()).toBe(before);
    expect(gitProvider.current().commits['shop']).toBe(good);
    const [status] = gitProvider.status();
    expect(status?.stale).toBe(true);
    expect(status?.commit).toBe(good);
    expect(status?.lastError?.code).toBe(errorCodes.manifest);
    expect(status?.lastError?.message).toMatch(/^source shop: broken\.yaml:5: invalid YAML/);

    git.commit({ 'broken.yaml': 'apiVersion: v1\nkind: ConfigMap\ndata: {}\n' });
    await gitProvider.refreshAll();
    expect(gitProvider.status()[0]?.lastError?.message).toBe(
      'source shop: broken.yaml:1: not a Kubernetes object: metadata is missing (exclude the file if it is not a manifest)',
    );
    git.commit({ 'broken.yaml': null });
    await gitProvider.refreshAll();
    expect(gitProvider.status()[0]).toMatchObject({ stale: false, lastError: null });
  });

  it('reports conflicting keys and keeps the first source, with one clone per repository', async () => {
    const git = repo();
    git.commit({
      'a/deploy-web.yaml': fixture('deploy-web.yaml'),
      'b/deploy-web.yaml': deploymentV2,
      'b/svc-web.yaml': fixture('svc-web.yaml'),
    });
    const {
      provider: gitProvider,
      cacheDir,
      log,
    } = provider({
      sources: [
        sourceConfig({ name: 'first', repoURL: git.fileURL, path: 'a' }),
        sourceConfig({ name: 'second', repoURL: git.fileURL, path: 'b' }),
      ],
    });
    await gitProvider.start();
    const snapshot = gitProvider.current();
    expect(snapshot.get(deployment)?.source).toBe('first');
    expect(imageOf(snapshot)).toBe('registry.example.com/shop/web:1.4.2');
    expect(snapshot.get(service)?.source).toBe('second');
    expect(snapshot.conflicts).toEqual([
      {
        key: deployment,
        kept: { source: 'first', file: 'a/deploy-web.yaml', line: 1 },
        dropped: { source: 'second', file: 'b/deploy-web.yaml', line: 1 },
      },
    ]);
    expect(
      log.lines().some((line) => String(line['conflict']).startsWith('apps/Deployment shop/web')),
    ).toBe(true);
    expect(listDir(join(cacheDir, 'repos'))).toHaveLength(1);
  });

  it('refuses a path that leaves the repository through a symbolic link', async () => {
    const git = repo();
    git.commit({ 'apps/deploy-web.yaml': fixture('deploy-web.yaml') });
    git.symlink('apps/passwd.yaml', '/etc/passwd');
    git.symlink('escape', '../../..');
    const { provider: gitProvider } = provider({
      sources: [
        sourceConfig({ name: 'files', repoURL: git.fileURL, path: 'apps' }),
        sourceConfig({ name: 'dir', repoURL: git.fileURL, path: 'escape' }),
      ],
    });
    await gitProvider.start();
    const [files, dir] = gitProvider.status();
    expect(files?.lastError?.message).toBe(
      'source files: apps/passwd.yaml: leads outside the repository (symbolic link)',
    );
    expect(dir?.lastError).toMatchObject({
      code: errorCodes.unsafeSource,
      message: 'source dir: path escape leads outside the repository (symbolic link)',
    });
    expect(gitProvider.current().size).toBe(0);
  });

  it('refuses a malicious repoURL, revision or path before running git', async () => {
    const git = repo();
    git.commit({ 'deploy-web.yaml': fixture('deploy-web.yaml') });
    for (const repoURL of [
      'ext::sh -c touch% /tmp/pwned',
      'ext::sh%20-c%20id',
      '-uhttps://x/y.git',
    ]) {
      expect(() => provider({ sources: [sourceConfig({ repoURL })] })).toThrow(
        expect.objectContaining({ code: errorCodes.unsafeSource }),
      );
    }
    const { provider: gitProvider } = provider({
      sources: [
        sourceConfig({
          name: 'option',
          repoURL: git.fileURL,
          revision: '--upload-pack=touch /tmp/pwned',
        }),
        sourceConfig({ name: 'range', repoURL: git.fileURL, revision: 'HEAD@{1}' }),
        sourceConfig({ name: 'parent', repoURL: git.fileURL, path: '../..' }),
      ],
    });
    await gitProvider.start();
    const byName = Object.fromEntries(gitProvider.status().map((s) => [s.name, s.lastError]));
    expect(byName['option']).toMatchObject({
      code: errorCodes.unsafeSource,
      message: 'source option: revision is refused: must not start with "-"',
    });
    expect(byName['range']?.code).toBe(errorCodes.unsafeSource);
    expect(byName['parent']).toMatchObject({
      code: errorCodes.unsafeSource,
      message: 'source parent: path ../.. leads outside the repository (symbolic link)',
    });
  });
});

describe('GitDesiredProvider over git daemon on 127.0.0.1', () => {
  async function served(): Promise<{ git: TestRepo; url: string; stop: () => Promise<void> }> {
    const git = repo();
    const daemon = await startGitDaemon(git.base);
    cleanups.push(() => daemon.stop());
    return { git, url: daemon.url('ops.git'), stop: () => daemon.stop() };
  }

  it('follows a tag, an annotated tag and a pinned commit SHA', async () => {
    const { git, url } = await served();
    const first = git.commit({ 'deploy-web.yaml': fixture('deploy-web.yaml') });
    git.tag('v1');
    git.tag('v1-annotated', true);
    const second = git.commit({ 'deploy-web.yaml': deploymentV2 });
    const third = git.commit({ 'svc-web.yaml': fixture('svc-web.yaml') });
    const { provider: gitProvider } = provider({
      sources: [
        sourceConfig({ name: 'tag', repoURL: url, revision: 'v1', namespace: 'a' }),
        sourceConfig({ name: 'annotated', repoURL: url, revision: 'v1-annotated', namespace: 'b' }),
        sourceConfig({ name: 'sha', repoURL: url, revision: second, namespace: 'c' }),
        sourceConfig({ name: 'branch', repoURL: url, revision: 'main', namespace: 'd' }),
      ],
    });
    await gitProvider.start();
    const commits = gitProvider.current().commits;
    expect(commits['tag']).toBe(first);
    expect(commits['annotated']).toBe(first);
    expect(commits['sha']).toBe(second);
    expect(commits['branch']).toBe(third);
    expect(gitProvider.status().map((s) => [s.name, s.objects, s.lastError])).toEqual([
      ['tag', 1, null],
      ['annotated', 1, null],
      ['sha', 1, null],
      ['branch', 2, null],
    ]);
    expect(imageOf(gitProvider.current())).toBe('registry.example.com/shop/web:1.4.2');
  });

  it('reports an unknown revision by name', async () => {
    const { git, url } = await served();
    git.commit({ 'deploy-web.yaml': fixture('deploy-web.yaml') });
    const { provider: gitProvider } = provider({
      sources: [
        sourceConfig({ name: 'missing', repoURL: url, revision: 'no-such-branch' }),
        sourceConfig({ name: 'gone', repoURL: url, revision: 'f'.repeat(40) }),
      ],
    });
    await gitProvider.start();
    for (const status of gitProvider.status()) {
      expect(status.lastError?.code).toBe(errorCodes.gitRevision);
      expect(status.lastError?.message).toContain(`not found in ${url}`);
    }
  });

  it('follows a force-push that rewrites the branch', async () => {
    const { git, url } = await served();
    git.commit({ 'deploy-web.yaml': fixture('deploy-web.yaml') });
    const pushed = git.commit({ 'deploy-web.yaml': deploymentV2 });
    const { provider: gitProvider } = provider({ sources: [sourceConfig({ repoURL: url })] });
    await gitProvider.start();
    expect(gitProvider.current().commits['shop']).toBe(pushed);
    const rewritten = git.amendAndForcePush({
      'deploy-web.yaml': fixture('deploy-web.yaml'),
      'svc-web.yaml': fixture('svc-web.yaml'),
    });
    expect(rewritten).not.toBe(pushed);
    await gitProvider.refreshAll();
    expect(gitProvider.current().commits['shop']).toBe(rewritten);
    expect(imageOf(gitProvider.current())).toBe('registry.example.com/shop/web:1.4.2');
    expect(gitProvider.current().get(service)).toBeDefined();
  });

  it('keeps the last good snapshot and reports the source stale when Git is unreachable', async () => {
    const { git, url, stop } = await served();
    const sha = git.commit({ 'deploy-web.yaml': fixture('deploy-web.yaml') });
    const { provider: gitProvider } = provider({ sources: [sourceConfig({ repoURL: url })] });
    await gitProvider.start();
    const before = gitProvider.current();
    await stop();
    await gitProvider.refreshAll();
    expect(gitProvider.current()).toBe(before);
    const [status] = gitProvider.status();
    expect(status).toMatchObject({ commit: sha, objects: 1, stale: true });
    expect(status?.lastError?.code).toBe(errorCodes.gitFetch);
    expect(status?.lastError?.message).toContain(`cannot fetch HEAD from ${url}`);
    expect(status?.ageMs).toBeGreaterThanOrEqual(0);
  });

  it('serves the persisted snapshot at once after a restart with Git unreachable', async () => {
    const { git, url, stop } = await served();
    const sha = git.commit({
      'deploy-web.yaml': fixture('deploy-web.yaml'),
      'svc-web.yaml': fixture('svc-web.yaml'),
    });
    const cache = tempDir('driftgate-cache-');
    cleanups.push(cache.cleanup);
    const sources = [sourceConfig({ repoURL: url })];
    const first = provider({ sources, cacheDir: cache.path }).provider;
    await first.start();
    await first.stop();
    expect(listDir(join(cache.path, 'snapshots'))).toEqual(['shop.json']);

    await stop();
    renameSync(git.bare, `${git.bare}.moved`);
    const second = provider({ sources, cacheDir: cache.path }).provider;
    await second.start();
    const snapshot = second.current();
    expect(snapshot.origin).toBe('restored');
    expect(snapshot.size).toBe(2);
    expect(snapshot.get(deployment)).toMatchObject({ commit: sha, file: 'deploy-web.yaml' });
    await second.refreshAll();
    expect(second.current().get(deployment)?.commit).toBe(sha);
    expect(second.status()[0]).toMatchObject({ restored: true, stale: true, commit: sha });
    expect(second.status()[0]?.lastError?.code).toBe(errorCodes.gitFetch);

    // A changed source config must not be served from a render made for another one.
    const third = provider({
      sources: [sourceConfig({ repoURL: url, path: 'elsewhere' })],
      cacheDir: cache.path,
    }).provider;
    await third.start();
    expect(third.current().origin).toBe('empty');
  });

  it('fetches now on a signed push notification and refuses a bad signature', async () => {
    const { git, url } = await served();
    git.commit({ 'deploy-web.yaml': fixture('deploy-web.yaml') });
    const { provider: gitProvider } = provider({ sources: [sourceConfig({ repoURL: url })] });
    await gitProvider.start();
    const next = git.commit({ 'deploy-web.yaml': deploymentV2 });
    const body = JSON.stringify({
      ref: 'refs/heads/main',
      after: next,
      repository: { clone_url: url, default_branch: 'main' },
    });
    const secret = 'hook-secret';
    const signed = (signature: string): GitPushRequest => ({
      headers: { 'x-github-event': 'push', 'x-hub-signature-256': signature },
      rawBody: Buffer.from(body),
    });

    const forged = gitProvider.handleGitPush(
      signed(`sha256=${createHmac('sha256', 'wrong').update(body).digest('hex')}`),
      secret,
    );
    expect(forged).toEqual({
      kind: 'unauthorized',
      reason: 'signature does not match the configured secret',
    });
    expect(
      gitProvider.handleGitPush({ headers: { 'x-github-event': 'push' }, rawBody: body }, secret)
        .kind,
    ).toBe('unauthorized');

    const result = gitProvider.handleGitPush(
      signed(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`),
      secret,
    );
    expect(result).toMatchObject({ kind: 'triggered', sources: ['shop'], ref: 'refs/heads/main' });
    if (result.kind !== 'triggered') return;
    await result.completion;
    expect(gitProvider.current().commits['shop']).toBe(next);
    expect(imageOf(gitProvider.current())).toBe(v2Image);

    const gitlab = gitProvider.handleGitPush(
      {
        headers: { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': secret },
        rawBody: JSON.stringify({
          ref: 'refs/heads/other',
          project: { git_http_url: url, default_branch: 'main' },
        }),
      },
      secret,
    );
    expect(gitlab.kind).toBe('ignored');
  });
});

describe('renderers', () => {
  it('renders a kustomize overlay', async (context) => {
    const { kustomizeCommand } = await import('../../src/desired/render.js');
    let command: string[];
    try {
      command = kustomizeCommand();
    } catch {
      console.warn('SKIPPED: no kustomize or kubectl binary on PATH');
      context.skip();
      return;
    }
    console.info(`kustomize overlay rendered with: ${command.join(' ')}`);
    const git = repo();
    const sha = git.commit({
      'base/kustomization.yaml': 'resources:\n- deploy-web.yaml\n- svc-web.yaml\n',
      'base/deploy-web.yaml': fixture('deploy-web.yaml'),
      'base/svc-web.yaml': fixture('svc-web.yaml'),
      'overlays/prod/kustomization.yaml': [
        'resources:',
        '- ../../base',
        'images:',
        '- name: registry.example.com/shop/web',
        '  newTag: 3.0.0',
        'commonLabels:',
        '  env: prod',
        '',
      ].join('\n'),
    });
    const { provider: gitProvider } = provider({
      sources: [sourceConfig({ repoURL: git.fileURL, path: 'overlays/prod', render: 'kustomize' })],
    });
    await gitProvider.start();
    const snapshot = gitProvider.current();
    expect(gitProvider.status()[0]?.lastError).toBeNull();
    expect(snapshot.size).toBe(2);
    expect(imageOf(snapshot)).toBe('registry.example.com/shop/web:3.0.0');
    expect(snapshot.get(service)).toMatchObject({ commit: sha });
    expect(snapshot.get(service)?.file).toMatch(
      /^output of kubectl kustomize \. in overlays\/prod$|^output of kustomize build \. in overlays\/prod$/,
    );
    expect((snapshot.get(service)?.object.metadata?.labels ?? {})['env']).toBe('prod');
  });

  it('runs a command renderer with a clean environment', async () => {
    const git = repo();
    git.commit({ 'chart/values.yaml': 'x: 1\n' });
    process.env['DRIFTGATE_TEST_SECRET'] = 'must-not-leak';
    cleanups.push(() => delete process.env['DRIFTGATE_TEST_SECRET']);
    const script = [
      'printf "apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: env\\ndata:\\n"',
      'printf "  secret: \\"%s\\"\\n  cwd: \\"%s\\"\\n  keys: \\"%s\\"\\n" "$DRIFTGATE_TEST_SECRET" "$(basename "$PWD")" "$(env | cut -d= -f1 | sort | tr "\\n" " ")"',
    ].join('; ');
    const { provider: gitProvider } = provider({
      sources: [
        sourceConfig({
          repoURL: git.fileURL,
          path: 'chart',
          render: 'command',
          command: ['sh', '-c', script],
        }),
      ],
    });
    await gitProvider.start();
    expect(gitProvider.status()[0]?.lastError).toBeNull();
    const data = (
      gitProvider.current().get(configMap('env'))?.object as { data: Record<string, string> }
    ).data;
    expect(data['secret']).toBe('');
    expect(data['cwd']).toBe('chart');
    const keys = (data['keys'] ?? '').trim().split(' ');
    expect(keys.filter((key) => !['PWD', 'SHLVL', '_'].includes(key)).sort()).toEqual(
      [
        'HELM_PLUGINS',
        'HOME',
        'KUSTOMIZE_PLUGIN_HOME',
        'LANG',
        'PATH',
        'TMPDIR',
        'XDG_CACHE_HOME',
        'XDG_CONFIG_HOME',
        'XDG_DATA_HOME',
      ].sort(),
    );
  });

  it('stops a renderer that hangs and keeps the last good snapshot', async () => {
    const git = repo();
    const good = git.commit({ 'deploy-web.yaml': fixture('deploy-web.yaml') });
    // Hangs (with a child of its own) only once the repository holds a file named "hang".
    const script = 'if [ -f hang ]; then sleep 30 & sleep 30; fi; cat *.yaml';
    const { provider: gitProvider } = provider({
      // Long enough for a loaded machine to start a shell; far shorter than the 30 s it hangs.
      limits: { timeoutMs: 3_000 },
      sources: [
        sourceConfig({ repoURL: git.fileURL, render: 'command', command: ['sh', '-c', script] }),
      ],
    });
    await gitProvider.start();
    expect(gitProvider.current().get(deployment)?.commit).toBe(good);
    git.commit({ hang: '' });
    const started = Date.now();
    await gitProvider.refreshAll();
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(gitProvider.status()[0]?.lastError).toMatchObject({
      code: errorCodes.renderTimeout,
      message: `source shop: sh -c ${script} did not finish within 3000 ms and was stopped`,
    });
    expect(gitProvider.current().get(deployment)?.commit).toBe(good);
  });

  it('refuses renderer output over the size limit', async () => {
    const git = repo();
    git.commit({ 'a.txt': 'x' });
    const { provider: gitProvider } = provider({
      limits: { maxOutputBytes: 1024 },
      sources: [
        sourceConfig({
          repoURL: git.fileURL,
          render: 'command',
          command: ['sh', '-c', 'yes "# filler"'],
        }),
      ],
    });
    await gitProvider.start();
    expect(gitProvider.status()[0]?.lastError?.code).toBe(errorCodes.renderOutputLimit);
  });
});

describe('lifecycle', () => {
  it('stops polling and ends a hung fetch on stop()', async () => {
    const git = repo();
    const first = git.commit({ 'deploy-web.yaml': fixture('deploy-web.yaml') });
    const { provider: gitProvider } = provider({
      poll: true,
      sources: [sourceConfig({ repoURL: git.fileURL, pollIntervalMs: 100 })],
    });
    await gitProvider.start();
    await gitProvider.stop();
    git.commit({ 'deploy-web.yaml': deploymentV2 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(gitProvider.current().commits['shop']).toBe(first);

    const silent = await startSilentServer();
    cleanups.push(() => silent.stop());
    const { provider: hung, log } = provider({
      gitTimeoutMs: 60_000,
      sources: [sourceConfig({ repoURL: silent.url })],
    });
    const refreshing = hung.refreshAll();
    expect(await waitFor(() => silent.connections() > 0, 5_000)).toBe(true);
    const stopping = Date.now();
    await hung.stop();
    expect(Date.now() - stopping).toBeLessThan(5_000);
    await refreshing;
    // The fetch that stopping ended is no failure of the source: nothing logged as one.
    expect(log.lines().filter((line) => Number(line['level']) >= 50)).toEqual([]);
  });

  it('never replaces the persisted snapshot with a failed render', async () => {
    const git = repo();
    const good = git.commit({ 'deploy-web.yaml': fixture('deploy-web.yaml') });
    const cache = tempDir('driftgate-cache-');
    cleanups.push(cache.cleanup);
    const sources = [sourceConfig({ repoURL: git.fileURL })];
    const first = provider({ sources, cacheDir: cache.path }).provider;
    await first.start();
    git.commit({ 'broken.yaml': 'kind: [\n' });
    await first.refreshAll();
    expect(first.status()[0]?.lastError?.code).toBe(errorCodes.manifest);
    await first.stop();
    expect(listDir(join(cache.path, 'snapshots'))).toEqual(['shop.json']);

    const second = provider({ sources, cacheDir: cache.path, restore: true }).provider;
    renameSync(git.bare, `${git.bare}.moved`);
    await second.start();
    expect(second.current()).toMatchObject({ origin: 'restored', size: 1 });
    expect(second.current().get(deployment)?.commit).toBe(good);
  });
});

describe('refreshIfOlderThan', () => {
  it('shares one fetch between concurrent callers and returns within about a second', async () => {
    const silent = await startSilentServer();
    cleanups.push(() => silent.stop());
    const { provider: gitProvider } = provider({
      gitTimeoutMs: 5_000,
      sources: [sourceConfig({ repoURL: silent.url })],
    });
    const startedAt = Date.now();
    await Promise.all([1, 2, 3, 4, 5].map(() => gitProvider.refreshIfOlderThan(0)));
    const waited = Date.now() - startedAt;
    expect(waited).toBeGreaterThanOrEqual(900);
    expect(waited).toBeLessThan(2_500);
    expect(await waitFor(() => silent.connections() > 0, 2_000)).toBe(true);
    expect(silent.connections()).toBe(1);
    // Within the minimum interval no new fetch starts even once the first one is over.
    await silent.stop();
    await gitProvider.refreshAll();
    const again = Date.now();
    await gitProvider.refreshIfOlderThan(0);
    expect(Date.now() - again).toBeLessThan(200);
  });

  it('fetches ahead without waiting once the snapshot is nearly as old as asked', async () => {
    const git = repo();
    const first = git.commit({ 'deploy-web.yaml': fixture('deploy-web.yaml') });
    let clock = 1_000_000;
    const cache = tempDir('driftgate-cache-');
    cleanups.push(cache.cleanup);
    const gitProvider = createGitProvider(
      {
        poll: false,
        refreshWaitMs: 10_000,
        sources: [sourceConfig({ repoURL: git.fileURL })],
        cacheDir: cache.path,
      },
      { logger: captureLogger().logger, now: () => clock },
    );
    cleanups.push(() => gitProvider.stop());
    await gitProvider.start();

    const second = git.commit({ 'deploy-web.yaml': deploymentV2 });
    clock += 8_000;
    await gitProvider.refreshIfOlderThan(10_000);
    // Returned before the fetch it started could have run: the denial was not held up.
    expect(gitProvider.current().commits['shop']).toBe(first);
    expect(await waitFor(() => gitProvider.current().commits['shop'] === second, 10_000)).toBe(
      true,
    );

    const third = git.commit({ 'deploy-web.yaml': fixture('deploy-web.yaml') });
    clock += 11_000;
    await gitProvider.refreshIfOlderThan(10_000);
    // Older than asked: the fetch is waited for.
    expect(gitProvider.current().commits['shop']).toBe(third);
  });

  it('does nothing while the snapshot is fresh enough', async () => {
    const git = repo();
    git.commit({ 'deploy-web.yaml': fixture('deploy-web.yaml') });
    const { provider: gitProvider, log } = provider({
      sources: [sourceConfig({ repoURL: git.fileURL })],
    });
    await gitProvider.start();
    const fetches = () => log.lines().filter((line) => line['msg'] === 'fetched').length;
    const before = fetches();
    await gitProvider.refreshIfOlderThan(60_000);
    expect(fetches()).toBe(before);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await gitProvider.refreshIfOlderThan(0);
    expect(fetches()).toBe(before + 1);
  });
});
