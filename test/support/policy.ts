// Builders for decision tests: a config as a user would write it, a snapshot of the captured
// manifests, cluster facts, and requests changed the way the API server would change them.
import { validateConfig, type Config } from '../../src/config/config.js';
import { toRendered } from '../../src/desired/manifest-parser.js';
import { buildSnapshot, type DesiredSnapshot } from '../../src/desired/snapshot.js';
import type { AdmissionRequest } from '../../src/kube/admission.js';
import type { Scope } from '../../src/kube/discovery.js';
import type { KubeObject } from '../../src/kube/object.js';
import { noClusterFacts, type ClusterFacts, type NamespaceFacts } from '../../src/policy/facts.js';
import { manifest, manifest131 } from './fixtures.js';

export const COMMIT = '3f9c2a1b4d5e6f708192a3b4c5d6e7f8091a2b3c';

/** A config from YAML-shaped data, validated the way `driftgate serve` validates its file. */
export function config(overrides: Record<string, unknown> = {}): Config {
  const result = validateConfig({
    sources: [
      {
        name: 'shop',
        repoURL: 'https://git.example.com/ops.git',
        path: 'apps/shop',
        namespace: 'shop',
      },
    ],
    breakGlass: { groups: ['oncall'], ttl: '4h' },
    ...overrides,
  });
  if ('errors' in result) throw new Error(JSON.stringify(result.errors));
  return result.config;
}

export const SHOP_MANIFESTS = [
  'ns-shop',
  'sa-web',
  'cm-web-config',
  'secret-db-creds',
  'svc-web',
  'deploy-web',
  'sts-db',
  'role-web',
  'rolebinding-web',
  'widget-blue',
  'clusterrole-widgets',
];

/** The captured manifests as Git's side, all from one source at one commit. */
export function snapshot(
  names: readonly string[] = SHOP_MANIFESTS,
  extra: readonly KubeObject[] = [],
): DesiredSnapshot {
  return snapshotOf([
    ...names.map((name) => ({ name, object: manifest(name) })),
    ...extra.map((object, i) => ({ name: `extra-${i}`, object })),
  ]);
}

/** These objects as Git's side, from source `shop` (default namespace `shop`) at one commit. */
export function snapshotOf(
  documents: readonly { readonly name: string; readonly object: KubeObject }[],
): DesiredSnapshot {
  return buildSnapshot(
    [
      {
        source: 'shop',
        commit: COMMIT,
        namespace: 'shop',
        documents: documents.map(({ name, object }) =>
          toRendered({ file: `apps/shop/${name}.yaml`, line: 1, object }),
        ),
      },
    ],
    'rendered',
  );
}

/**
 * The 1.31 capture's manifests as Git's side, one source `shop` whose default namespace is
 * `shop`; `[name, namespace]` places a manifest that names none in another namespace.
 */
export function snapshot131(names: readonly (string | [string, string])[]): DesiredSnapshot {
  return buildSnapshot(
    [
      {
        source: 'shop',
        commit: COMMIT,
        namespace: 'shop',
        documents: names.map((item) => {
          const [name, namespace] = typeof item === 'string' ? [item, undefined] : item;
          const read = manifest131(name);
          const object =
            namespace === undefined ? read : { ...read, metadata: { ...read.metadata, namespace } };
          return toRendered({ file: `apps/shop/${name}.yaml`, line: 1, object });
        }),
      },
    ],
    'rendered',
  );
}

/**
 * `hpaTargets` (`Kind/name`) are scaled by an HPA of the same name in the cluster, with
 * `minReplicas`/`maxReplicas` from `hpaBounds` (default [1, 10]).
 */
export function facts(
  overrides: {
    namespaces?: Record<string, Partial<NamespaceFacts>>;
    hpaTargets?: string[];
    hpaBounds?: [number, number];
    parents?: Record<string, Record<string, string>>;
    override?: ClusterFacts['override'];
    /** Scope by the cluster's discovery, by `group/Kind`. */
    scopes?: Record<string, Scope>;
  } = {},
): ClusterFacts {
  const [minReplicas, maxReplicas] = overrides.hpaBounds ?? [1, 10];
  return {
    scopeOf: (group, kind) => overrides.scopes?.[`${group}/${kind}`],
    namespace: (name) => {
      const ns = overrides.namespaces?.[name];
      return ns === undefined
        ? undefined
        : { labels: ns.labels ?? {}, annotations: ns.annotations ?? {} };
    },
    hpaOf: (key) =>
      overrides.hpaTargets?.includes(`${key.kind}/${key.name}`) === true
        ? { name: `${key.namespace}/${key.name}`, minReplicas, maxReplicas }
        : undefined,
    parentAnnotations: (key) => overrides.parents?.[`${key.kind}/${key.name}`],
    override: overrides.override ?? noClusterFacts.override,
  };
}

/** The same request, made by someone else (userInfo is all the API server says about who). */
export function asUser(
  request: AdmissionRequest,
  username: string,
  groups: string[],
): AdmissionRequest {
  return { ...request, userInfo: { username, groups: [...groups, 'system:authenticated'] } };
}
