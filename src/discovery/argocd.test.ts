import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sourceNameProblem } from '../config/config.js';
import { sourcesFromApplications, type ArgoCDMappingOptions } from './argocd.js';
import { jqToPointer } from './result.js';

const fixtures = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'captured', 'argocd');
const captured = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(fixtures, name), 'utf8')) as Record<string, unknown>;

const options: ArgoCDMappingOptions = {
  controller: 'system:serviceaccount:argocd:argocd-application-controller',
  trackingMethod: 'annotation',
  instanceLabelKey: 'app.kubernetes.io/instance',
  pollIntervalMs: 300_000,
};

const repoURL = 'https://github.com/argoproj/argocd-example-apps.git';
const sha = '53e28ff20cc530b9ada2173fbbd64d48338583ba';
const sha2 = '0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d';

/** An Application shaped as the API server stores it, with `source` and `status` to vary. */
function application(
  spec: Record<string, unknown>,
  status?: Record<string, unknown>,
  name = 'shop',
): Record<string, unknown> {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: { name, namespace: 'argocd' },
    spec: {
      project: 'default',
      destination: { server: 'https://kubernetes.default.svc', namespace: 'shop' },
      ...spec,
    },
    ...(status === undefined ? {} : { status }),
  };
}

function only(apps: unknown[], mapping: ArgoCDMappingOptions = options) {
  const result = sourcesFromApplications(apps, mapping);
  return { ...result, source: result.sources[0] };
}

describe('sourcesFromApplications', () => {
  it('maps a captured Application without status at its targetRevision, with its ignore rules', () => {
    const { sources, problems } = only([captured('app-guestbook.json')]);
    expect(sources).toHaveLength(1);
    const [source] = sources;
    expect(source).toMatchObject({
      name: 'argocd:cap/guestbook',
      repoURL,
      // targetRevision HEAD: the remote's default branch.
      revision: null,
      path: 'guestbook',
      namespace: 'cap',
      render: 'auto',
      syncIdentities: { users: [options.controller], groups: [] },
      trackingLabel: null,
      origin: { kind: 'argocd', object: 'cap/guestbook' },
    });
    expect(source?.ignoreDifferences).toEqual([
      {
        group: 'apps',
        kind: 'Deployment',
        name: null,
        namespace: null,
        jsonPointers: ['/spec/replicas'],
        jqPathExpressions: [],
        managedFieldsManagers: [],
      },
      {
        group: 'autoscaling',
        kind: 'HorizontalPodAutoscaler',
        name: 'web',
        namespace: null,
        jsonPointers: ['/spec/maxReplicas', '/spec/minReplicas'],
        jqPathExpressions: [],
        managedFieldsManagers: [],
      },
    ]);
    expect(problems).toEqual([]);
    expect(sourceNameProblem(source?.name ?? '')).toBeUndefined();
  });

  it('renders a synced Application at status.sync.revision with its Helm value files', () => {
    const { source, problems } = only([captured('app-helm-stored.json')]);
    expect(problems).toEqual([]);
    expect(source).toMatchObject({
      name: 'argocd:cap/helm-guestbook',
      revision: sha,
      path: 'helm-guestbook',
      render: 'helm',
    });
    expect(source?.helm).toEqual({
      releaseName: 'helm-guestbook',
      namespace: 'cap',
      valueFiles: ['values-production.yaml'],
      ignoreMissingValueFiles: false,
      values: null,
      parameters: [],
      skipCrds: false,
      skipSchemaValidation: false,
      kubeVersion: null,
      apiVersions: [],
    });
  });

  it('follows a new synced revision and drops the source with its Application', () => {
    const app = (revision: string) =>
      application(
        { source: { repoURL, path: 'guestbook', targetRevision: 'main' } },
        { sync: { status: 'Synced', revision } },
      );
    expect(only([app(sha)]).source?.revision).toBe(sha);
    expect(only([app(sha2)]).source?.revision).toBe(sha2);
    expect(only([]).sources).toEqual([]);
  });

  it('while OutOfSync, renders what the last successful sync deployed, not the new target', () => {
    const source = { repoURL, path: 'guestbook', targetRevision: 'main' };
    const outOfSync = application(
      { source },
      {
        sync: { status: 'OutOfSync', revision: sha2 },
        history: [{ id: 0, revision: sha, source, deployedAt: '2026-11-22T03:00:00Z' }],
      },
    );
    expect(only([outOfSync]).source?.revision).toBe(sha);
    // Never synced yet: the compared revision is all there is.
    const neverSynced = application({ source }, { sync: { status: 'OutOfSync', revision: sha2 } });
    expect(only([neverSynced]).source?.revision).toBe(sha2);
  });

  it('maps every Helm option as Argo CD passes it to helm template', () => {
    const { source, problems } = only([
      application(
        {
          source: {
            repoURL,
            path: 'charts/shop',
            targetRevision: 'v1.2.0',
            helm: {
              releaseName: 'shop-prod',
              namespace: 'shop-system',
              valueFiles: ['values-prod.yaml', '../common/$ARGOCD_APP_NAME.yaml'],
              ignoreMissingValueFiles: true,
              values: 'replicaCount: 2\n',
              valuesObject: { image: { tag: '1.4.2' } },
              parameters: [
                { name: 'image.repository', value: 'registry.example.com/shop' },
                { name: 'podAnnotations.rev', value: '$ARGOCD_APP_REVISION', forceString: true },
              ],
              skipCrds: true,
              skipSchemaValidation: true,
              kubeVersion: '1.30.0',
              apiVersions: ['monitoring.coreos.com/v1/ServiceMonitor'],
              passCredentials: false,
            },
          },
        },
        { sync: { revision: sha } },
      ),
    ]);
    expect(problems).toEqual([]);
    expect(source?.render).toBe('helm');
    expect(source?.helm).toEqual({
      releaseName: 'shop-prod',
      namespace: 'shop-system',
      valueFiles: ['values-prod.yaml', '../common/shop.yaml'],
      ignoreMissingValueFiles: true,
      // valuesObject wins over values.
      values: JSON.stringify({ image: { tag: '1.4.2' } }),
      parameters: [
        { name: 'image.repository', value: 'registry.example.com/shop', forceString: false },
        { name: 'podAnnotations.rev', value: sha, forceString: true },
      ],
      skipCrds: true,
      skipSchemaValidation: true,
      kubeVersion: '1.30.0',
      apiVersions: ['monitoring.coreos.com/v1/ServiceMonitor'],
    });
  });

  it('maps kustomize images, prefix, suffix, namespace and replicas; refuses patches', () => {
    const kustomize = {
      images: ['nginx=registry.example.com/nginx:1.25', 'web:${ARGOCD_APP_REVISION}'],
      namePrefix: 'prod-',
      nameSuffix: '-v2',
      namespace: 'shop-prod',
      replicas: [{ name: 'web', count: 3 }],
    };
    const { source } = only([
      application(
        { source: { repoURL, path: 'overlays/prod', kustomize } },
        { sync: { revision: sha } },
      ),
    ]);
    expect(source?.render).toBe('kustomize');
    expect(source?.kustomize).toEqual({
      images: ['nginx=registry.example.com/nginx:1.25', `web:${sha}`],
      namePrefix: 'prod-',
      nameSuffix: '-v2',
      namespace: 'shop-prod',
      replicas: ['web=3'],
    });

    const patched = only([
      application({
        source: {
          repoURL,
          path: 'overlays/prod',
          kustomize: { patches: [{ target: { kind: 'Deployment' }, patch: '[]' }] },
        },
      }),
    ]);
    expect(patched.sources).toEqual([]);
    expect(patched.problems).toEqual([
      {
        object: 'Application argocd/shop',
        source: 'argocd:argocd/shop',
        effect: 'skipped',
        reason: 'source 0 kustomize patches cannot be reproduced',
      },
    ]);
  });

  // Argo CD's repo server (reposerver/repository/repository.go findManifests) walks the
  // directory itself, with `directory.recurse`, `include` and `exclude` as gobwas globs
  // (util/glob.Match); the renderer does the same with these settings.
  it('maps a directory source: recursion off by default, include and exclude kept as Argo CD globs', () => {
    const flat = only([
      application({ source: { repoURL, path: 'apps', directory: { include: '*.yaml' } } }),
    ]).source;
    expect(flat).toMatchObject({
      render: 'plain',
      include: [],
      exclude: [],
      argocd: { recurse: false, include: '*.yaml', exclude: null },
    });
    const deep = only([
      application({
        source: { repoURL, path: 'apps', directory: { recurse: true, exclude: 'test/*' } },
      }),
    ]).source;
    expect(deep).toMatchObject({
      render: 'plain',
      argocd: { recurse: true, include: null, exclude: 'test/*' },
    });
  });

  it('maps a directory source with Jsonnet options: its .jsonnet files are reported when rendered', () => {
    const jsonnet = only([
      application({
        source: {
          repoURL,
          path: 'apps',
          directory: { jsonnet: { tlas: [{ name: 'env', value: 'prod' }] } },
        },
      }),
    ]);
    expect(jsonnet.problems).toEqual([]);
    expect(jsonnet.source).toMatchObject({ render: 'plain', argocd: { recurse: false } });
  });

  it('reads every source type with Argo CD rules, so hooks leave Helm and kustomize output too', () => {
    const chart = only([
      application({ source: { repoURL, path: 'charts/shop', helm: { releaseName: 'shop' } } }),
    ]).source;
    const overlay = only([
      application({ source: { repoURL, path: 'overlays/prod', kustomize: { namePrefix: 'p-' } } }),
    ]).source;
    const auto = only([application({ source: { repoURL, path: 'guestbook' } })]).source;
    for (const source of [chart, overlay, auto]) {
      expect(source?.argocd).toEqual({ recurse: false, include: null, exclude: null });
    }
  });

  it('maps a multi-source Application: one source per Git source, ref sources lend value files', () => {
    const app = application(
      {
        sources: [
          {
            repoURL,
            path: 'charts/shop',
            targetRevision: 'main',
            helm: { valueFiles: ['$values/envs/prod/values.yaml'] },
          },
          { repoURL, targetRevision: 'main', ref: 'values' },
          { repoURL: 'https://git.example.com/ops.git', path: 'extra', targetRevision: 'main' },
          {
            repoURL: 'https://charts.bitnami.com/bitnami',
            chart: 'redis',
            targetRevision: '19.0.0',
          },
        ],
      },
      { sync: { status: 'Synced', revisions: [sha, sha, sha2, '19.0.0'] } },
    );
    const { sources, problems } = only([app]);
    expect(sources.map((source) => [source.name, source.revision, source.path])).toEqual([
      ['argocd:argocd/shop#0', sha, 'charts/shop'],
      ['argocd:argocd/shop#2', sha2, 'extra'],
    ]);
    // The ref source is the chart's repository at the same commit: one checkout holds both.
    expect(sources[0]?.helm?.valueFiles).toEqual(['../../envs/prod/values.yaml']);
    expect(problems).toEqual([
      {
        object: 'Application argocd/shop',
        source: 'argocd:argocd/shop#3',
        effect: 'skipped',
        reason:
          'source 3 is a Helm chart repository or OCI artifact, not Git: its objects are not judged',
      },
    ]);
    for (const source of sources) expect(sourceNameProblem(source.name)).toBeUndefined();
  });

  it('refuses value files from another repository, fileParameters and plugins, naming the Application', () => {
    const app = application({
      sources: [
        {
          repoURL,
          path: 'charts/shop',
          helm: { valueFiles: ['$values/prod.yaml'] },
        },
        { repoURL: 'https://git.example.com/values.git', targetRevision: 'main', ref: 'values' },
      ],
    });
    const other = application(
      { source: { repoURL, path: 'c', helm: { fileParameters: [{ name: 'a', path: 'b' }] } } },
      undefined,
      'files',
    );
    const plugin = application(
      { source: { repoURL, path: 'p', plugin: { name: 'cmp' } } },
      undefined,
      'plugged',
    );
    const { sources, problems } = only([app, other, plugin]);
    expect(sources).toEqual([]);
    expect(problems.map((problem) => [problem.object, problem.reason])).toEqual([
      [
        'Application argocd/shop',
        "source 0 helm value file $values/prod.yaml comes from ref values (https://git.example.com/values.git at main), another repository or revision than the chart's",
      ],
      ['Application argocd/files', 'source 0 helm fileParameters cannot be reproduced'],
      [
        'Application argocd/plugged',
        'source 0 uses a config management plugin, which driftgate cannot run',
      ],
    ]);
  });

  it('skips Applications that deploy to another cluster', () => {
    const remote = application({
      source: { repoURL, path: 'guestbook' },
      destination: { server: 'https://prod.example.com:6443', namespace: 'shop' },
    });
    const byName = application({
      source: { repoURL, path: 'guestbook' },
      destination: { name: 'in-cluster', namespace: 'shop' },
    });
    expect(only([remote]).sources).toEqual([]);
    expect(only([remote]).problems[0]?.reason).toBe(
      'deploys to https://prod.example.com:6443, not this cluster',
    );
    expect(only([byName]).sources).toHaveLength(1);
  });

  it('from a hub, takes the Applications whose destination is this cluster, by server or name', () => {
    const spoke = {
      ...options,
      controller: 'system:serviceaccount:kube-system:argocd-manager',
      thisCluster: { server: 'https://spoke-1.example.com:6443', name: 'spoke-1' },
    };
    const to = (destination: Record<string, unknown>, name: string) =>
      application(
        {
          source: { repoURL, path: 'guestbook' },
          destination: { ...destination, namespace: 'shop' },
        },
        undefined,
        name,
      );
    const result = sourcesFromApplications(
      [
        to({ server: 'https://spoke-1.example.com:6443/' }, 'by-server'),
        to({ name: 'spoke-1' }, 'by-name'),
        // The hub's own cluster, and another spoke: none of this cluster's business.
        to({ server: 'https://kubernetes.default.svc' }, 'on-the-hub'),
        to({ name: 'in-cluster' }, 'on-the-hub-by-name'),
        to({ server: 'https://spoke-2.example.com:6443' }, 'elsewhere'),
      ],
      spoke,
    );
    expect(result.sources.map((source) => source.name)).toEqual([
      'argocd:argocd/by-server',
      'argocd:argocd/by-name',
    ]);
    expect(result.sources[0]?.syncIdentities.users).toEqual([
      'system:serviceaccount:kube-system:argocd-manager',
    ]);
    expect(result.problems.map((problem) => problem.reason)).toEqual([
      'deploys to https://kubernetes.default.svc, not this cluster',
      'deploys to in-cluster, not this cluster',
      'deploys to https://spoke-2.example.com:6443, not this cluster',
    ]);
  });

  it('marks the instance label as tracking under label tracking only', () => {
    const app = application({ source: { repoURL, path: 'guestbook' } });
    expect(only([app]).source?.trackingLabel).toBeNull();
    expect(only([app], { ...options, trackingMethod: 'label' }).source?.trackingLabel).toBe(
      'app.kubernetes.io/instance',
    );
    expect(
      only([app], {
        ...options,
        trackingMethod: 'annotation+label',
        instanceLabelKey: 'argocd.app',
      }).source?.trackingLabel,
    ).toBe('argocd.app');
  });

  it('adds the AppProject destination service account when sync impersonation is on', () => {
    const project = {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'AppProject',
      metadata: { name: 'default', namespace: 'argocd' },
      spec: {
        destinationServiceAccounts: [
          {
            server: 'https://kubernetes.default.svc',
            namespace: 'other',
            defaultServiceAccount: 'x',
          },
          { server: '*', namespace: 'sh*', defaultServiceAccount: 'deployer' },
        ],
      },
    };
    const app = application({ source: { repoURL, path: 'guestbook' } });
    const on = only([app], { ...options, impersonation: { enabled: true, projects: [project] } });
    expect(on.source?.syncIdentities.users).toEqual([
      options.controller,
      'system:serviceaccount:shop:deployer',
    ]);
    const off = only([app], { ...options, impersonation: { enabled: false, projects: [project] } });
    expect(off.source?.syncIdentities.users).toEqual([options.controller]);
  });

  it('reports jq expressions it can only honour by a wider path', () => {
    const app = application({
      source: { repoURL, path: 'guestbook' },
      ignoreDifferences: [
        {
          group: 'apps',
          kind: 'Deployment',
          jqPathExpressions: ['.spec.template.spec.initContainers[] | select(.name == "istio")'],
        },
      ],
    });
    const { source, problems } = only([app]);
    expect(source?.ignoreDifferences?.[0]?.jsonPointers).toEqual([
      '/spec/template/spec/initContainers',
    ]);
    expect(problems).toEqual([
      expect.objectContaining({
        effect: 'partial',
        reason:
          'ignoreDifferences jqPathExpression .spec.template.spec.initContainers[] | select(.name == "istio") of Deployment is honoured as all of /spec/template/spec/initContainers',
      }),
    ]);
  });
});

describe('jqToPointer', () => {
  it.each([
    { expression: '.spec.replicas', expected: { pointer: '/spec/replicas', exact: true } },
    {
      expression: '.metadata.labels["app.kubernetes.io/name"]',
      expected: { pointer: '/metadata/labels/app.kubernetes.io~1name', exact: true },
    },
    { expression: '.spec.ports[0]', expected: { pointer: '/spec/ports/0', exact: true } },
    {
      expression: '.spec.containers[] | .image',
      expected: { pointer: '/spec/containers', exact: false },
    },
    { expression: 'map(.x)', expected: undefined },
  ])('$expression', ({ expression, expected }) => {
    expect(jqToPointer(expression)).toEqual(expected);
  });
});
