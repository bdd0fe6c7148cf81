// Rendering discovered sources: the helm and kustomize command lines Argo CD and Flux run, Flux
// substitution and opt-out annotations on real files, a clear error where a binary is missing,
// and what Argo CD takes from a source (hooks left out, its directory walk and globs).
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { SourceConfig } from '../../src/config/config.js';
import { errorCodes } from '../../src/desired/errors.js';
import type { RenderedDocument } from '../../src/desired/manifest-parser.js';
import { ParseWorkerPool } from '../../src/desired/parse-task.js';
import {
  escapeHelmValue,
  helmTemplateArgv,
  kustomizeEditArgvs,
  substituteVariables,
} from '../../src/desired/render-options.js';
import { defaultRenderLimits, renderKindAt, renderSource } from '../../src/desired/render.js';
import { sourcesFromApplications } from '../../src/discovery/argocd.js';
import { helmOptions, sourceConfig, tempDir } from './git-fixture.js';

const helm = helmOptions();

describe('helm template as Argo CD runs it', () => {
  it('puts value files, inline values, parameters and flags where Argo CD does', () => {
    expect(
      helmTemplateArgv(
        {
          ...helm,
          kubeVersion: '1.30.0',
          parameters: [
            { name: 'image.tag', value: '1.4.2', forceString: false },
            { name: 'hosts', value: 'a.example.com,b.example.com', forceString: true },
          ],
          apiVersions: ['monitoring.coreos.com/v1/ServiceMonitor'],
          skipSchemaValidation: true,
        },
        ['/checkout/charts/shop/values-prod.yaml'],
        '/scratch/values-1.yaml',
      ),
    ).toEqual([
      'helm',
      'template',
      '.',
      '--name-template',
      'shop-prod',
      '--namespace',
      'shop',
      '--kube-version',
      '1.30.0',
      '--set',
      'image.tag=1.4.2',
      '--set-string',
      'hosts=a.example.com\\,b.example.com',
      '--values',
      '/checkout/charts/shop/values-prod.yaml',
      '--values',
      '/scratch/values-1.yaml',
      '--api-versions',
      'monitoring.coreos.com/v1/ServiceMonitor',
      '--include-crds',
      '--skip-schema-validation',
    ]);
    expect(helmTemplateArgv({ ...helm, skipCrds: true }, [], null)).toEqual([
      'helm',
      'template',
      '.',
      '--name-template',
      'shop-prod',
      '--namespace',
      'shop',
    ]);
  });

  it.each([
    ['a,b', 'a\\,b'],
    ['a\\,b', 'a\\,b'],
    ['{a,b}', '{a,b}'],
    ['plain', 'plain'],
  ])('escapes %s as %s', (value, expected) => {
    expect(escapeHelmValue(value)).toBe(expected);
  });
});

describe('kustomize edit as Argo CD runs it', () => {
  it('sets prefix, suffix, images, replicas and namespace', () => {
    expect(
      kustomizeEditArgvs({
        images: ['nginx=registry.example.com/nginx:1.25'],
        namePrefix: 'prod-',
        nameSuffix: '-v2',
        namespace: 'shop',
        replicas: ['web=3'],
      }),
    ).toEqual([
      ['kustomize', 'edit', 'set', 'nameprefix', '--', 'prod-'],
      ['kustomize', 'edit', 'set', 'namesuffix', '--', '-v2'],
      ['kustomize', 'edit', 'set', 'image', 'nginx=registry.example.com/nginx:1.25'],
      ['kustomize', 'edit', 'set', 'replicas', 'web=3'],
      ['kustomize', 'edit', 'set', 'namespace', '--', 'shop'],
    ]);
  });
});

describe('Flux postBuild substitution', () => {
  it.each([
    { name: 'set', yaml: 'replicas: ${replicas}\n', expected: 'replicas: 3\n' },
    { name: 'unset', yaml: 'a: "${missing}"\n', expected: 'a: ""\n' },
    { name: 'default', yaml: 'a: ${missing:=blue}\n', expected: 'a: blue\n' },
    { name: 'escaped', yaml: 'a: $${replicas}\n', expected: 'a: ${replicas}\n' },
    { name: 'bare dollar kept', yaml: 'a: $replicas\n', expected: 'a: $replicas\n' },
    {
      name: 'disabled per document',
      yaml: 'a: ${replicas}\n---\nmetadata:\n  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\nb: ${replicas}\n',
      expected:
        'a: 3\n---\nmetadata:\n  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\nb: ${replicas}\n',
    },
  ])('$name', ({ yaml, expected }) => {
    expect(substituteVariables(yaml, { replicas: '3' })).toBe(expected);
  });
});

const pool = new ParseWorkerPool();
afterAll(() => pool.close());
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function checkout(files: Record<string, string>): string {
  const dir = tempDir('driftgate-render-');
  cleanups.push(dir.cleanup);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir.path, path, '..'), { recursive: true });
    writeFileSync(join(dir.path, path), content);
  }
  return dir.path;
}

async function render(source: SourceConfig, root: string): Promise<RenderedDocument[]> {
  const documents: RenderedDocument[] = [];
  const work = tempDir('driftgate-work-');
  cleanups.push(work.cleanup);
  await renderSource({
    source,
    checkout: root,
    workDir: work.path,
    limits: defaultRenderLimits,
    persist: null,
    parser: pool,
    onDocuments: (chunk) => documents.push(...chunk),
  });
  return documents;
}

/** An executable `name` in a directory of its own, running `script` with `$dir` set to it. */
function fakeTool(name: string, script: string): { dir: string } {
  const dir = tempDir('driftgate-bin-');
  cleanups.push(dir.cleanup);
  const file = join(dir.path, name);
  writeFileSync(file, `#!/bin/sh\ndir='${dir.path}'\n${script}\n`);
  chmodSync(file, 0o755);
  return { dir: dir.path };
}

/** Runs `work` with `dir` first on PATH (renderers see the PATH driftgate runs with). */
async function withPath<T>(dir: string, work: () => Promise<T>): Promise<T> {
  const path = process.env['PATH'];
  process.env['PATH'] = `${dir}${delimiter}${path ?? ''}`;
  try {
    return await work();
  } finally {
    process.env['PATH'] = path;
  }
}

const deployment = (replicas: string, annotations = '') =>
  `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web${annotations}\nspec:\n  replicas: ${replicas}\n`;

describe('rendering discovered sources', () => {
  it('applies Flux substitution to plain manifests before parsing, numbers stay numbers', async () => {
    const root = checkout({ 'apps/web.yaml': deployment('${replicas}') });
    const documents = await render(
      sourceConfig({
        repoURL: 'file:///unused',
        name: 'flux:flux-system/apps',
        path: 'apps',
        render: 'auto',
        substitute: { replicas: '3' },
      }),
      root,
    );
    expect(documents.map((d) => JSON.parse(d.json) as unknown)).toEqual([
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web' },
        spec: { replicas: 3 },
      },
    ]);
  });

  it('leaves out objects Flux never applies or corrects, by their annotations in Git', async () => {
    const annotated = (key: string, value: string) =>
      `\n  annotations:\n    kustomize.toolkit.fluxcd.io/${key}: ${value}`;
    const root = checkout({
      'apps/a.yaml': deployment('1'),
      'apps/b.yaml': deployment('1', annotated('ssa', 'Ignore')).replace('name: web', 'name: b'),
      'apps/c.yaml': deployment('1', annotated('ssa', 'IfNotPresent')).replace(
        'name: web',
        'name: c',
      ),
      'apps/d.yaml': deployment('1', annotated('reconcile', 'disabled')).replace(
        'name: web',
        'name: d',
      ),
      'apps/e.yaml': deployment('1', annotated('ssa', 'Merge')).replace('name: web', 'name: e'),
    });
    const source = sourceConfig({ repoURL: 'file:///unused', path: 'apps', render: 'auto' });
    expect((await render({ ...source, fluxAnnotations: true }, root)).map((d) => d.name)).toEqual([
      'web',
      'e',
    ]);
    // Configured sources are not Flux's: every object counts.
    expect(await render(source, root)).toHaveLength(5);
  });

  it('auto decides by the files at the path, as Argo CD does', () => {
    const root = checkout({
      'chart/Chart.yaml': 'name: shop\n',
      'overlay/kustomization.yaml': 'resources: []\n',
      'plain/a.yaml': deployment('1'),
    });
    const auto = sourceConfig({ repoURL: 'file:///unused', render: 'auto' });
    expect(renderKindAt({ ...auto, helm }, join(root, 'chart'))).toBe('helm');
    // Flux sources have no Helm options: a Chart.yaml is just a file to them.
    expect(renderKindAt(auto, join(root, 'chart'))).toBe('plain');
    expect(renderKindAt(auto, join(root, 'overlay'))).toBe('kustomize');
    expect(renderKindAt(auto, join(root, 'plain'))).toBe('plain');
  });

  it('runs helm with the value files of the chart and repository and the inline values', async () => {
    const root = checkout({
      'charts/shop/Chart.yaml': 'apiVersion: v2\nname: shop\nversion: 0.1.0\n',
      'charts/shop/values-prod.yaml': 'replicaCount: 3\n',
      'envs/prod.yaml': 'image: {tag: 1.4.2}\n',
    });
    const bin = fakeTool(
      'helm',
      // Records its argv and the values files it was given, prints one object.
      'n=0; prev=""; for a in "$@"; do echo "$a" >> "$dir/argv"; if [ "$prev" = --values ]; then n=$((n+1)); cp "$a" "$dir/values-$n"; fi; prev="$a"; done; ' +
        'printf "apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: from-helm\\n"',
    );
    const documents = await withPath(bin.dir, () =>
      render(
        sourceConfig({
          repoURL: 'file:///unused',
          name: 'argocd:argocd/shop',
          path: 'charts/shop',
          render: 'auto',
          helm: {
            ...helm,
            valueFiles: ['values-prod.yaml', '/envs/prod.yaml', 'missing.yaml'],
            ignoreMissingValueFiles: true,
            values: '{"image":{"tag":"9.9.9"}}',
          },
        }),
        root,
      ),
    );
    expect(documents.map((d) => d.name)).toEqual(['from-helm']);
    const argv = readFileSync(join(bin.dir, 'argv'), 'utf8').trim().split('\n');
    expect(argv.slice(0, 6)).toEqual([
      'template',
      '.',
      '--name-template',
      'shop-prod',
      '--namespace',
      'shop',
    ]);
    expect(argv.filter((a) => a === '--values')).toHaveLength(3);
    expect(readFileSync(join(bin.dir, 'values-1'), 'utf8')).toBe('replicaCount: 3\n');
    expect(readFileSync(join(bin.dir, 'values-2'), 'utf8')).toBe('image: {tag: 1.4.2}\n');
    expect(readFileSync(join(bin.dir, 'values-3'), 'utf8')).toBe('{"image":{"tag":"9.9.9"}}');
    expect(argv.at(-1)).toBe('--include-crds');
  });

  it('runs kustomize edit in a scratch copy, never in the shared checkout', async () => {
    const root = checkout({
      'base/deploy.yaml': deployment('1'),
      'overlays/prod/kustomization.yaml': 'resources: [../../base]\n',
    });
    const bin = fakeTool(
      'kustomize',
      'echo "$PWD $*" >> "$dir/calls"; if [ "$1" = edit ]; then echo "# $*" >> kustomization.yaml; else cat kustomization.yaml >> "$dir/built"; cat ../../base/deploy.yaml; fi',
    );
    const documents = await withPath(bin.dir, () =>
      render(
        sourceConfig({
          repoURL: 'file:///unused',
          path: 'overlays/prod',
          render: 'auto',
          kustomize: {
            images: ['web=registry.example.com/web:2.0.0'],
            namePrefix: 'prod-',
            nameSuffix: null,
            namespace: null,
            replicas: [],
          },
        }),
        root,
      ),
    );
    expect(documents.map((d) => d.name)).toEqual(['web']);
    const calls = readFileSync(join(bin.dir, 'calls'), 'utf8').trim().split('\n');
    expect(calls.map((call) => call.split(' ').slice(1).join(' '))).toEqual([
      'edit set nameprefix -- prod-',
      'edit set image web=registry.example.com/web:2.0.0',
      'build .',
    ]);
    expect(calls.every((call) => !call.startsWith(root))).toBe(true);
    expect(readFileSync(join(bin.dir, 'built'), 'utf8')).toContain(
      '# edit set image web=registry.example.com/web:2.0.0',
    );
    // The checkout is untouched and the scratch copy is gone.
    expect(readFileSync(join(root, 'overlays/prod/kustomization.yaml'), 'utf8')).toBe(
      'resources: [../../base]\n',
    );
    expect(existsSync(calls[0]?.split(' ')[0] ?? '/')).toBe(false);
  });

  it('a missing helm or kustomize binary is a clear render error, not a crash', async () => {
    const root = checkout({
      'chart/Chart.yaml': 'apiVersion: v2\nname: shop\nversion: 0.1.0\n',
      'overlay/kustomization.yaml': 'resources: []\n',
    });
    const path = process.env['PATH'];
    process.env['PATH'] = '/nonexistent';
    try {
      const base = sourceConfig({ repoURL: 'file:///unused', name: 'argocd:argocd/shop' });
      await expect(
        render({ ...base, path: 'chart', render: 'helm', helm }, root),
      ).rejects.toMatchObject({
        code: errorCodes.render,
        message:
          'source argocd:argocd/shop: a Helm chart needs the helm binary on PATH, which is not installed',
      });
      await expect(
        render(
          {
            ...base,
            path: 'overlay',
            render: 'kustomize',
            kustomize: {
              images: ['web:2'],
              namePrefix: null,
              nameSuffix: null,
              namespace: null,
              replicas: [],
            },
          },
          root,
        ),
      ).rejects.toMatchObject({
        code: errorCodes.render,
        message: expect.stringContaining('needs the kustomize binary on PATH') as unknown,
      });
    } finally {
      process.env['PATH'] = path;
    }
  });
});

/** The source Argo CD discovery makes of an Application whose only source is `source`. */
function argoSource(source: Record<string, unknown>): SourceConfig {
  const mapped = sourcesFromApplications(
    [
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Application',
        metadata: { name: 'shop', namespace: 'argocd' },
        spec: {
          project: 'default',
          source: { repoURL: 'https://git.example.com/ops.git', targetRevision: 'main', ...source },
          destination: { server: 'https://kubernetes.default.svc', namespace: 'shop' },
        },
      },
    ],
    {
      controller: 'system:serviceaccount:argocd:argocd-application-controller',
      trackingMethod: 'annotation',
      instanceLabelKey: 'app.kubernetes.io/instance',
      pollIntervalMs: 300_000,
    },
  );
  expect(mapped.problems).toEqual([]);
  const [made] = mapped.sources;
  if (made === undefined) throw new Error('no source');
  return made;
}

/** Renders an Argo CD source; the documents' names and the render's notes. */
async function renderArgo(
  source: SourceConfig,
  root: string,
): Promise<{ names: string[]; notes: readonly string[] }> {
  const documents: RenderedDocument[] = [];
  let notes: readonly string[] = [];
  const work = tempDir('driftgate-work-');
  cleanups.push(work.cleanup);
  await renderSource({
    source,
    checkout: root,
    workDir: work.path,
    limits: defaultRenderLimits,
    persist: null,
    parser: pool,
    onDocuments: (chunk) => documents.push(...chunk),
    onNotes: (found) => {
      notes = found;
    },
  });
  return { names: documents.map((document) => document.name), notes };
}

const configMap = (name: string, metadata = '') =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}${metadata}\ndata:\n  a: b\n`;
const annotated = (key: string, value: string) => `\n  annotations:\n    ${key}: ${value}`;

describe('Argo CD resource hooks are not desired state', () => {
  // gitops-engine pkg/sync/hook (IsHook, Skip, Types), pkg/sync/ignore (Ignore) and
  // pkg/sync/reconcile.go (splitHooks, before the diff); argo-cd controller/hook.go (PreDelete,
  // PostDelete, Helm's pre-delete and post-delete); docs user-guide/resource_hooks.md and
  // user-guide/helm.md (Helm hooks mapped to Argo CD hooks, `crd-install` is no hook).
  const hooks: [string, string][] = [
    ['argocd.argoproj.io/hook', 'PreSync'],
    ['argocd.argoproj.io/hook', 'Sync'],
    ['argocd.argoproj.io/hook', 'PostSync'],
    ['argocd.argoproj.io/hook', 'SyncFail'],
    ['argocd.argoproj.io/hook', 'PreDelete'],
    ['argocd.argoproj.io/hook', 'PostDelete'],
    ['argocd.argoproj.io/hook', 'Skip'],
    ['argocd.argoproj.io/hook', 'PreSync,PostSync'],
    ['helm.sh/hook', 'pre-install'],
    ['helm.sh/hook', 'post-upgrade'],
    ['helm.sh/hook', 'pre-delete'],
    ['helm.sh/hook', 'post-delete'],
    ['helm.sh/hook', 'test'],
  ];
  const files = () => {
    const tree: Record<string, string> = { 'apps/plain.yaml': configMap('plain') };
    hooks.forEach(([key, value], index) => {
      tree[`apps/hook-${index}.yaml`] = configMap(`hook-${index}`, annotated(key, `"${value}"`));
    });
    // Helm's CRD marker is not a hook: the object is applied like any other.
    tree['apps/crd-install.yaml'] = configMap(
      'crd-install',
      annotated('helm.sh/hook', 'crd-install'),
    );
    // Unstructured.GetAnnotations reads no annotation at all when one is not a string.
    tree['apps/unquoted.yaml'] = configMap(
      'unquoted',
      `${annotated('argocd.argoproj.io/hook', 'PreSync')}\n    argocd.argoproj.io/sync-wave: 1`,
    );
    // A hook named by generateName (a Job run on every sync) is left out before its name is asked for.
    tree['apps/migrate.yaml'] =
      'apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: migrate-\n  annotations:\n    argocd.argoproj.io/hook: PreSync\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: m, image: busybox}]\n';
    return tree;
  };

  it('in a directory source: only the objects Argo CD applies are rendered', async () => {
    const root = checkout(files());
    const { names, notes } = await renderArgo(argoSource({ path: 'apps' }), root);
    expect(names.sort()).toEqual(['crd-install', 'plain', 'unquoted']);
    expect(notes).toEqual([]);
    // A configured source reads the same files as kubectl would apply them: every object, and
    // the generateName Job is an error there.
    await expect(
      render(sourceConfig({ repoURL: 'file:///unused', path: 'apps' }), root),
    ).rejects.toMatchObject({
      message: expect.stringContaining('metadata.name is missing') as unknown,
    });
  });

  it('in helm template output: hooks are left out there too', async () => {
    const root = checkout({ 'chart/Chart.yaml': 'apiVersion: v2\nname: shop\nversion: 0.1.0\n' });
    const stream = Object.values(files()).join('---\n');
    const bin = fakeTool('helm', `cat <<'EOF'\n${stream}EOF`);
    const { names } = await withPath(bin.dir, () =>
      renderArgo(argoSource({ path: 'chart', helm: { releaseName: 'shop' } }), root),
    );
    expect(names.sort()).toEqual(['crd-install', 'plain', 'unquoted']);
  });

  it('a non-hook object named by generateName is reported and skipped, the rest is judged', async () => {
    const root = checkout({
      'apps/web.yaml': configMap('web'),
      'apps/job.yaml':
        'apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: report-\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: r, image: busybox}]\n',
    });
    const { names, notes } = await renderArgo(argoSource({ path: 'apps' }), root);
    expect(names).toEqual(['web']);
    expect(notes).toEqual([
      'apps/job.yaml:1: Job named by generateName report- is not judged (its name is chosen at creation)',
    ]);
  });
});

describe('Argo CD directory sources', () => {
  // reposerver/repository/repository.go getPotentiallyValidManifests: exclude then include,
  // util/glob.Match against the path relative to the source path; recurse off by default.
  const tree = {
    'apps/a.yaml': configMap('a'),
    'apps/a-test.yaml': configMap('a-test'),
    'apps/b.yml': configMap('b'),
    'apps/sub/c.yaml': configMap('c'),
    'apps/sub/x-test.yaml': configMap('x-test'),
    'apps/sub/deeper/d.json': JSON.stringify({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'd' },
    }),
    // Case-sensitive extensions, as repository.go's manifestFile regexp.
    'apps/UPPER.YAML': configMap('upper'),
  };

  it.each([
    { name: 'no settings: the top directory only', directory: {}, expected: ['a', 'a-test', 'b'] },
    {
      name: 'exclude *-test.yaml reaches subdirectories',
      directory: { recurse: true, exclude: '*-test.yaml' },
      expected: ['a', 'b', 'c', 'd'],
    },
    {
      name: 'include *.yaml with recurse reaches subdirectories',
      directory: { recurse: true, include: '*.yaml' },
      expected: ['a', 'a-test', 'c', 'x-test'],
    },
    {
      name: 'brace lists',
      directory: { recurse: true, include: '{*.yml,sub/deeper/*}' },
      expected: ['b', 'd'],
    },
    {
      name: 'include and exclude together',
      directory: { recurse: true, include: 'sub/*', exclude: '*test*' },
      expected: ['c', 'd'],
    },
  ])('$name', async ({ directory, expected }) => {
    const root = checkout(tree);
    const { names } = await renderArgo(argoSource({ path: 'apps', directory }), root);
    expect(names.sort()).toEqual(expected);
  });

  // repository.go getObjsFromYAMLOrJSON: a YAML file that does not decode into objects is
  // skipped unless it holds `apiVersion:`, `kind:` and `metadata:`, or objects came before.
  it('skips files that are not Kubernetes objects, as Argo CD does', async () => {
    const root = checkout({
      'apps/web.yaml': configMap('web'),
      'apps/values.yaml': 'replicaCount: 3\nimage:\n  tag: 1.4.2\n',
      'apps/broken-notes.yaml': 'notes: [unclosed\n',
      'apps/list.yaml':
        'apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: from-list\n',
      'apps/skipped.yaml': `# +argocd:skip-file-rendering\n${configMap('marked')}`,
    });
    const { names, notes } = await renderArgo(argoSource({ path: 'apps' }), root);
    expect(names.sort()).toEqual(['from-list', 'web']);
    expect(notes).toEqual([]);
  });

  it.each([
    {
      name: 'a file that looks like a manifest but does not decode',
      file: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata: [unclosed\n',
      message: 'apps/bad.yaml:6: invalid YAML',
    },
    {
      name: 'a document that is no object after one that is',
      file: `${configMap('first')}---\nreplicaCount: 3\n`,
      message: 'apps/bad.yaml:8: not a Kubernetes object',
    },
    {
      name: 'a JSON file that is no object',
      file: '{"name": "not-an-object"}',
      message: 'apps/bad.json:1: not a Kubernetes object',
    },
  ])('fails the source on $name, as Argo CD fails the Application', async ({ file, message }) => {
    const name = message.startsWith('apps/bad.json') ? 'apps/bad.json' : 'apps/bad.yaml';
    const root = checkout({ 'apps/web.yaml': configMap('web'), [name]: file });
    await expect(renderArgo(argoSource({ path: 'apps' }), root)).rejects.toMatchObject({
      code: errorCodes.manifest,
      message: expect.stringContaining(message) as unknown,
    });
  });

  // repository.go findManifests evaluates .jsonnet files with directory.jsonnet's options; no
  // Jsonnet evaluator runs here, so their objects are named as not judged, never silently left out.
  it('names the .jsonnet files it does not evaluate', async () => {
    const root = checkout({
      'apps/web.yaml': configMap('web'),
      'apps/app.jsonnet': '{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "jsonnet" } }',
      'apps/lib.libsonnet': '{}',
    });
    const { names, notes } = await renderArgo(
      argoSource({
        path: 'apps',
        directory: { jsonnet: { tlas: [{ name: 'env', value: 'prod' }] } },
      }),
      root,
    );
    expect(names).toEqual(['web']);
    expect(notes).toEqual([
      'apps/app.jsonnet: Jsonnet is not evaluated; its objects are not judged',
    ]);
  });
});
