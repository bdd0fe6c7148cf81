// Builders for decision tests: a config as a user would write it, a snapshot of the captured
// manifests, cluster facts, and requests changed the way the API server would change them.
import { validateConfig, type Config } from '../../src/config/config.js';
import { toRendered } from '../../src/desired/manifest-parser.js';
import { buildSnapshot, type DesiredSnapshot } from '../../src/desired/snapshot.js';
import type { AdmissionRequest } from '../../src/kube/admission.js';
import type { Scope } from '../../src/kube/discovery.js';
import type { KubeObject } from '../../src/kube/object.js';
import { noClusterFacts, type ClusterFacts, type NamespaceFacts } from '../../src/policy/facts.js';
import { manifest } from './fixtures.js';

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

export function facts(
  overrides: {
    namespaces?: Record<string, Partial<NamespaceFacts>>;
    hpaTargets?: string[];
    parents?: Record<string, Record<string, string>>;
    override?: ClusterFacts['override'];
    /** Scope by the cluster's discovery, by `group/Kind`. */
    scopes?: Record<string, Scope>;
  } = {},
): ClusterFacts {
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
        ? `${key.namespace}/${key.name}`
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
