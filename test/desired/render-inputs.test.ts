// A new commit is rendered again only for the sources whose files it changes: plain manifests
// under their path, kustomizations with every directory they reach, Helm charts with their
// dependencies and value files. Commands, whose inputs are not known, are rendered on every commit.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createGitProvider } from '../../src/desired/git-provider.js';
import { kustomizeCommand } from '../../src/desired/render.js';
import { renderInputs, touchesInputs } from '../../src/desired/render-inputs.js';
import type { DesiredSnapshot } from '../../src/desired/snapshot.js';
import {
  capturedManifests,
  captureLogger,
  helmOptions,
  sourceConfig,
  tempDir,
} from './git-fixture.js';
import { cleanedAfterEach } from '../support/cleanups.js';

const fixture = (name: string): string => readFileSync(join(capturedManifests, name), 'utf8');
const deployment = { group: 'apps', kind: 'Deployment', namespace: 'shop', name: 'web' };
const configMap = { group: '', kind: 'ConfigMap', namespace: 'shop', name: 'from-command' };

const { cleanups, repo } = cleanedAfterEach();

async function started(source: Parameters<typeof sourceConfig>[0]) {
  const cache = tempDir('driftgate-cache-');
  cleanups.push(cache.cleanup);
  const log = captureLogger();
  const provider = createGitProvider(
    { poll: false, cacheDir: cache.path, sources: [sourceConfig(source)] },
    { logger: log.logger },
  );
  cleanups.push(() => provider.stop());
  await provider.start();
  /** The commits the source was rendered at, and those it was served at without a render. */
  const history = () => ({
    rendered: log
      .lines()
      .filter((line) => line['msg'] === 'source rendered')
      .map((line) => line['commit']),
    kept: log
      .lines()
      .filter((line) => String(line['msg']).startsWith('source not rendered again'))
      .map((line) => line['commit']),
  });
  return { provider, history };
}

function imageOf(snapshot: DesiredSnapshot): unknown {
  const object = snapshot.get(deployment)?.object as
    { spec: { template: { spec: { containers: { image: string }[] } } } } | undefined;
  return object?.spec.template.spec.containers[0]?.image;
}

function hasKustomize(): boolean {
  try {
    kustomizeCommand();
    return true;
  } catch {
    return false;
  }
}

describe('a new commit and the sources it renders again', () => {
  it('plain: a commit elsewhere in the repository keeps the render, under the new commit', async () => {
    const git = repo();
    git.commit({
      'apps/shop/deploy-web.yaml': fixture('deploy-web.yaml'),
      'apps/other/cm.yaml': fixture('cm-web-config.yaml'),
    });
    const { provider, history } = await started({ repoURL: git.fileURL, path: 'apps/shop' });
    const first = provider.current().commits['shop'];
    const rendered = provider.current().get(deployment)?.object;
    expect(rendered).toBeDefined();

    const elsewhere = git.commit({ 'apps/other/cm.yaml': null, 'README.md': 'docs\n' });
    await provider.refreshAll();
    expect(provider.current().commits['shop']).toBe(elsewhere);
    expect(provider.current().get(deployment)?.commit).toBe(elsewhere);
    expect(provider.current().get(deployment)?.object).toEqual(rendered);
    expect(history()).toEqual({ rendered: [first], kept: [elsewhere] });

    const here = git.commit({
      'apps/shop/deploy-web.yaml': fixture('deploy-web.yaml').replace('web:1.4.2', 'web:2.0.0'),
    });
    await provider.refreshAll();
    expect(provider.current().commits['shop']).toBe(here);
    expect(imageOf(provider.current())).toBe('registry.example.com/shop/web:2.0.0');
    expect(history()).toEqual({ rendered: [first, here], kept: [elsewhere] });
  });

  it('a monorepo: only the source whose directory the commit changes is rendered again', async () => {
    const git = repo();
    git.commit({
      'apps/shop/deploy-web.yaml': fixture('deploy-web.yaml'),
      'apps/billing/cm.yaml': fixture('cm-web-config.yaml').replace(
        'namespace: shop',
        'namespace: billing',
      ),
    });
    const cache = tempDir('driftgate-cache-');
    cleanups.push(cache.cleanup);
    const log = captureLogger();
    const provider = createGitProvider(
      {
        poll: false,
        cacheDir: cache.path,
        sources: [
          sourceConfig({ repoURL: git.fileURL, path: 'apps/shop' }),
          sourceConfig({
            name: 'billing',
            repoURL: git.fileURL,
            path: 'apps/billing',
            namespace: 'billing',
          }),
        ],
      },
      { logger: log.logger },
    );
    cleanups.push(() => provider.stop());
    await provider.start();
    const next = git.commit({
      'apps/shop/deploy-web.yaml': fixture('deploy-web.yaml').replace('web:1.4.2', 'web:2.0.0'),
    });
    await provider.refreshAll();
    const about = (message: string) =>
      log
        .lines()
        .filter((line) => String(line['msg']).startsWith(message) && line['commit'] === next)
        .map((line) => line['source']);
    expect(about('source rendered')).toEqual(['shop']);
    expect(about('source not rendered again')).toEqual(['billing']);
    expect(provider.current().commits).toEqual({ shop: next, billing: next });
    expect(imageOf(provider.current())).toBe('registry.example.com/shop/web:2.0.0');
  });

  it('a symbolic link under the path: a commit to what it leads to renders again', async () => {
    const git = repo();
    git.commit({
      'apps/shop/deploy-web.yaml': fixture('deploy-web.yaml'),
      'apps/common/cm.yaml': fixture('cm-web-config.yaml'),
    });
    git.symlink('apps/shop/cm.yaml', '../common/cm.yaml');
    const { provider, history } = await started({ repoURL: git.fileURL, path: 'apps/shop' });
    const key = { group: '', kind: 'ConfigMap', namespace: 'shop', name: 'web-config' };
    expect(provider.current().get(key)).toBeDefined();
    const linked = git.commit({
      'apps/common/cm.yaml': fixture('cm-web-config.yaml').replace(
        'name: web-config',
        'name: web-settings',
      ),
    });
    await provider.refreshAll();
    expect(history().rendered).toContain(linked);
    expect(provider.current().get(key)).toBeUndefined();
    expect(provider.current().get({ ...key, name: 'web-settings' })).toBeDefined();
  });

  it('a directory whose name begins like the path is not the path', async () => {
    const git = repo();
    git.commit({ 'apps/shop/deploy-web.yaml': fixture('deploy-web.yaml') });
    const { provider, history } = await started({ repoURL: git.fileURL, path: 'apps/shop' });
    const beside = git.commit({ 'apps/shop-staging/notes.txt': 'x\n' });
    await provider.refreshAll();
    expect(history().kept).toEqual([beside]);
  });

  it('kustomize: a commit to a base the overlay reaches renders it again; one elsewhere does not', async (context) => {
    if (!hasKustomize()) {
      console.warn('SKIPPED: no kustomize or kubectl binary on PATH');
      context.skip();
      return;
    }
    const git = repo();
    git.commit({
      'base/kustomization.yaml': 'resources:\n- deploy-web.yaml\n',
      'base/deploy-web.yaml': fixture('deploy-web.yaml'),
      'overlays/prod/kustomization.yaml': 'resources:\n- ../../base\n',
      'docs/readme.md': 'docs\n',
    });
    const { provider, history } = await started({
      repoURL: git.fileURL,
      path: 'overlays/prod',
      render: 'kustomize',
    });
    const first = provider.current().commits['shop'];
    expect(imageOf(provider.current())).toBe('registry.example.com/shop/web:1.4.2');

    const elsewhere = git.commit({ 'docs/readme.md': 'more docs\n' });
    await provider.refreshAll();
    expect(provider.current().commits['shop']).toBe(elsewhere);
    expect(history()).toEqual({ rendered: [first], kept: [elsewhere] });

    const inBase = git.commit({
      'base/deploy-web.yaml': fixture('deploy-web.yaml').replace('web:1.4.2', 'web:2.0.0'),
    });
    await provider.refreshAll();
    expect(imageOf(provider.current())).toBe('registry.example.com/shop/web:2.0.0');
    expect(history()).toEqual({ rendered: [first, inBase], kept: [elsewhere] });
  });

  it('a command renderer, whose inputs are unknown, is rendered on every commit', async () => {
    const git = repo();
    git.commit({
      'render/cm.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-command\ndata:\n  a: "1"\n',
    });
    const { provider, history } = await started({
      repoURL: git.fileURL,
      path: 'render',
      render: 'command',
      command: ['cat', 'cm.yaml'],
    });
    const first = provider.current().commits['shop'];
    expect(provider.current().get(configMap)).toBeDefined();
    const elsewhere = git.commit({ 'README.md': 'docs\n' });
    await provider.refreshAll();
    expect(provider.current().commits['shop']).toBe(elsewhere);
    expect(history()).toEqual({ rendered: [first, elsewhere], kept: [] });
  });
});

describe('renderInputs', () => {
  function checkout(files: Record<string, string>): string {
    const dir = tempDir('driftgate-inputs-');
    cleanups.push(dir.cleanup);
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir.path, path)), { recursive: true });
      writeFileSync(join(dir.path, path), text);
    }
    return dir.path;
  }
  const kustomize = (path: string) =>
    sourceConfig({ repoURL: 'file:///unused', path, render: 'kustomize' });

  it('plain manifests: the path', () => {
    const root = checkout({ 'apps/shop/a.yaml': '' });
    expect(
      renderInputs(sourceConfig({ repoURL: 'file:///unused', path: 'apps/shop' }), root),
    ).toEqual(['apps/shop']);
  });

  it('kustomize: every directory reached through resources, components and bases, once', () => {
    const root = checkout({
      'overlays/prod/kustomization.yaml': [
        'resources:',
        '- ../../base',
        '- ../../shared/cm.yaml',
        '- missing.yaml',
        'components:',
        '- ../../components/monitoring',
        'patches:',
        '- path: ../../patches/replicas.yaml',
        '',
      ].join('\n'),
      'base/kustomization.yaml': 'bases:\n- ../common\nresources:\n- ../overlays/prod\n',
      'common/Kustomization': 'resources:\n- cm.yaml\n',
      'common/cm.yaml': '',
      'shared/cm.yaml': '',
      'components/monitoring/kustomization.yml': 'kind: Component\n',
      'patches/replicas.yaml': '',
      'unrelated/x.yaml': '',
    });
    expect(renderInputs(kustomize('overlays/prod'), root)?.sort()).toEqual([
      'base',
      'common',
      'components/monitoring',
      'overlays/prod',
      'patches',
      'shared',
    ]);
  });

  it.each([
    'https://github.com/example/remote//deploy?ref=v1',
    'github.com/example/other/deploy?ref=main',
    'git@github.com:example/other.git',
  ])('kustomize: unknown with a remote base, which moves without a commit here: %s', (base) => {
    const root = checkout({ 'app/kustomization.yaml': `resources:\n- ${base}\n` });
    expect(renderInputs(kustomize('app'), root)).toBeUndefined();
  });

  it('kustomize: unknown with charts from a Helm repository', () => {
    const root = checkout({
      'app/kustomization.yaml': 'helmCharts:\n- name: redis\n  repo: https://charts.example.com\n',
    });
    expect(renderInputs(kustomize('app'), root)).toBeUndefined();
  });

  it('kustomize: unknown when a kustomization cannot be read or reaches out of the repository', () => {
    expect(
      renderInputs(kustomize('app'), checkout({ 'app/kustomization.yaml': 'resources: [oops\n' })),
    ).toBeUndefined();
    expect(
      renderInputs(
        kustomize('app'),
        checkout({ 'app/kustomization.yaml': 'resources:\n- ../../outside\n' }),
      ),
    ).toBeUndefined();
  });

  const helm = (valueFiles: string[]) =>
    sourceConfig({
      repoURL: 'file:///unused',
      path: 'charts/web',
      render: 'helm',
      helm: helmOptions({ valueFiles }),
    });

  it('Helm: the chart and its value files, relative to the chart or, with /, to the root', () => {
    const root = checkout({ 'charts/web/Chart.yaml': 'name: web\n' });
    expect(
      renderInputs(helm(['values-prod.yaml', '../../env/prod.yaml', '/shared/values.yaml']), root),
    ).toEqual(['charts/web', 'charts/web/values-prod.yaml', 'env/prod.yaml', 'shared/values.yaml']);
    expect(renderInputs(helm(['../../../outside.yaml']), root)).toBeUndefined();
  });

  it('Helm: with the charts it depends on from the repository, and theirs', () => {
    const root = checkout({
      'charts/web/Chart.yaml': [
        'name: web',
        'dependencies:',
        '- name: common',
        '  repository: file://../common',
        '- name: redis',
        '  repository: https://charts.example.com',
        '',
      ].join('\n'),
      'charts/common/Chart.yaml': 'name: common\n',
      'charts/common/requirements.yaml':
        'dependencies:\n- name: base\n  repository: file://../../lib/base\n',
    });
    expect(renderInputs(helm([]), root)?.sort()).toEqual([
      'charts/common',
      'charts/web',
      'lib/base',
    ]);
  });

  it('commands: unknown', () => {
    const root = checkout({ 'chart/Chart.yaml': 'name: x\n' });
    expect(
      renderInputs(
        sourceConfig({
          repoURL: 'file:///unused',
          path: 'chart',
          render: 'command',
          command: ['x'],
        }),
        root,
      ),
    ).toBeUndefined();
  });
});

describe('touchesInputs', () => {
  it.each([
    { changed: ['apps/shop/a.yaml'], inputs: ['apps/shop'], touches: true },
    { changed: ['apps/shop'], inputs: ['apps/shop'], touches: true },
    { changed: ['apps/shop-2/a.yaml'], inputs: ['apps/shop'], touches: false },
    { changed: ['README.md'], inputs: ['apps/shop', 'base'], touches: false },
    { changed: ['README.md'], inputs: ['.'], touches: true },
    { changed: [], inputs: ['.'], touches: false },
    { changed: ['env/prod.yaml'], inputs: ['charts/web', 'env/prod.yaml'], touches: true },
    { changed: ['env/prod.yaml.bak'], inputs: ['env/prod.yaml'], touches: false },
  ])('$changed in $inputs: $touches', ({ changed, inputs, touches }) => {
    expect(touchesInputs(changed, inputs)).toBe(touches);
  });
});
