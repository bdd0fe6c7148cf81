// What the decision learns from the cluster: HPAs and their scale targets, Namespaces (mode
// label, namespace break-glass), the metadata of the parents a `scale` write names, the kill
// switch, and the scope of every kind it serves. Each comes from a watch cache (or discovery
// read in the background); reading them never calls the API server, and a cache that has not
// listed yet simply knows nothing, so decisions rest on Git alone.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { keyString } from '../policy/snapshot-index.js';
import {
  hpaScaling,
  type ClusterFacts,
  type HpaScaling,
  type NamespaceFacts,
  type OverrideMode,
} from '../policy/facts.js';
import type { ResourceKey } from '../kube/object.js';
import type { ClusterConnection } from './connection.js';
import { watchClusterSchemas, type ClusterSchemas } from './openapi-schemas.js';
import { API_SCOPES_WATCH, watchApiScopes } from './api-scopes.js';
import {
  watchCollection,
  type WatchEvents,
  type WatchTiming,
  type WatchedCollection,
} from './watch.js';

interface HorizontalPodAutoscaler extends KubernetesObject {
  readonly spec?: {
    readonly scaleTargetRef?: {
      readonly apiVersion?: string;
      readonly kind?: string;
      readonly name?: string;
    };
    readonly minReplicas?: number;
    readonly maxReplicas?: number;
  };
}

interface ConfigMap extends KubernetesObject {
  readonly data?: Record<string, string>;
}

export interface ClusterWatchOptions {
  /** driftgate's own namespace, where the override ConfigMap lives. */
  readonly namespace: string;
  readonly overrideConfigMap: string;
}

export interface ClusterWatch {
  facts(): ClusterFacts;
  /** Per watch: has it listed once? For metrics and logs; readiness never waits for it. */
  synced(): Readonly<Record<string, boolean>>;
  stop(): Promise<void>;
}

/** Parents whose `scale` subresource a human or an HPA writes. */
const SCALE_PARENTS = [
  { name: 'deployments', group: 'apps', kind: 'Deployment', path: '/apis/apps/v1/deployments' },
  { name: 'statefulsets', group: 'apps', kind: 'StatefulSet', path: '/apis/apps/v1/statefulsets' },
  { name: 'replicasets', group: 'apps', kind: 'ReplicaSet', path: '/apis/apps/v1/replicasets' },
] as const;

const OVERRIDE_MODES: readonly string[] = ['off', 'audit', 'warn'] satisfies OverrideMode[];

export function watchCluster(
  connection: ClusterConnection,
  options: ClusterWatchOptions,
  deps: {
    readonly logger: Logger;
    readonly events: WatchEvents;
    readonly timing?: WatchTiming;
    /** Read the cluster's OpenAPI for kinds outside the built-in table (test servers may lack it). */
    readonly schemas?: ClusterSchemas;
    /** How often the cluster's discovery (the scope of its kinds) is read again. */
    readonly discoveryIntervalMs?: number;
  },
): ClusterWatch {
  const { logger } = deps;
  const schemas = deps.schemas ?? watchClusterSchemas(connection, { logger });
  // Derived indexes are rebuilt from the cache whenever it changes; changes are rare next to
  // reads, and a rebuild cannot drift from the cache the way incremental bookkeeping can.
  let hpaTargets = new Map<string, HpaScaling>();
  let override: OverrideMode | undefined;

  const events: WatchEvents = {
    ...deps.events,
    changed(name) {
      if (name === 'hpas') hpaTargets = indexHpaTargets(hpas.list());
      if (name === 'override') override = readOverride();
      deps.events.changed(name);
    },
  };
  const watchDeps = {
    logger,
    events,
    ...(deps.timing === undefined ? {} : { timing: deps.timing }),
  };

  const hpas: WatchedCollection<HorizontalPodAutoscaler> = watchCollection(
    connection,
    { name: 'hpas', path: '/apis/autoscaling/v2/horizontalpodautoscalers' },
    watchDeps,
  );
  const namespaces = watchCollection(
    connection,
    { name: 'namespaces', path: '/api/v1/namespaces' },
    watchDeps,
  );
  const parents = new Map(
    SCALE_PARENTS.map((parent) => [
      `${parent.group}/${parent.kind}`,
      watchCollection(
        connection,
        { name: parent.name, path: parent.path, metadataOnly: true },
        watchDeps,
      ),
    ]),
  );
  const overrideMap: WatchedCollection<ConfigMap> = watchCollection(
    connection,
    {
      name: 'override',
      path: `/api/v1/namespaces/${options.namespace}/configmaps`,
      fieldSelector: `metadata.name=${options.overrideConfigMap}`,
    },
    watchDeps,
  );
  const all: WatchedCollection<KubernetesObject>[] = [
    hpas,
    namespaces,
    ...parents.values(),
    overrideMap,
  ];
  const apiScopes = watchApiScopes(connection, {
    logger,
    events: deps.events,
    ...(deps.timing === undefined ? {} : { timing: deps.timing }),
    ...(deps.discoveryIntervalMs === undefined ? {} : { intervalMs: deps.discoveryIntervalMs }),
  });

  function readOverride(): OverrideMode | undefined {
    const configMap = overrideMap.get(options.overrideConfigMap, options.namespace);
    const mode = configMap?.data?.mode;
    if (mode === undefined || mode === '') {
      if (override !== undefined)
        logger.warn('kill switch removed: the configured modes apply again');
      return undefined;
    }
    if (!OVERRIDE_MODES.includes(mode)) {
      logger.error(
        { configMap: `${options.namespace}/${options.overrideConfigMap}`, mode },
        'kill switch ignored: data.mode must be off, audit or warn',
      );
      return undefined;
    }
    if (mode !== override) {
      logger.warn(
        { configMap: `${options.namespace}/${options.overrideConfigMap}`, mode },
        `kill switch: driftgate is ${mode === 'off' ? 'off' : `in ${mode} mode`} everywhere`,
      );
    }
    return mode as OverrideMode;
  }

  const facts: ClusterFacts = {
    namespace(name): NamespaceFacts | undefined {
      const namespace = namespaces.get(name);
      if (namespace === undefined) return undefined;
      return {
        labels: namespace.metadata?.labels ?? {},
        annotations: namespace.metadata?.annotations ?? {},
      };
    },
    hpaOf: (key: ResourceKey) => hpaTargets.get(keyString(key)),
    parentAnnotations(key) {
      const parent = parents.get(`${key.group}/${key.kind}`)?.get(key.name, key.namespace);
      return parent?.metadata?.annotations ?? (parent === undefined ? undefined : {});
    },
    get override() {
      return override;
    },
    schemaOf: (apiVersion, kind) => schemas.schemaOf(apiVersion, kind),
    scopeOf: (group, kind) => apiScopes.scopeOf(group, kind),
  };

  return {
    facts: () => facts,
    synced: () => ({
      ...Object.fromEntries(all.map((collection) => [collection.name, collection.isSynced()])),
      [API_SCOPES_WATCH]: apiScopes.isSynced(),
    }),
    async stop() {
      schemas.stop();
      await Promise.all([...all.map((collection) => collection.stop()), apiScopes.stop()]);
    },
  };
}

/** Scale target (`keyString`) → the HPA that scales it, with its bounds. */
export function indexHpaTargets(hpas: readonly HorizontalPodAutoscaler[]): Map<string, HpaScaling> {
  const targets = new Map<string, HpaScaling>();
  for (const hpa of hpas) {
    const target = hpa.spec?.scaleTargetRef;
    const namespace = hpa.metadata?.namespace;
    const scaling = hpaScaling(`${namespace ?? ''}/${hpa.metadata?.name ?? ''}`, hpa.spec);
    if (
      target?.kind === undefined ||
      target.name === undefined ||
      namespace === undefined ||
      scaling === undefined
    )
      continue;
    const apiVersion = target.apiVersion ?? '';
    const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
    targets.set(keyString({ group, kind: target.kind, namespace, name: target.name }), scaling);
  }
  return targets;
}
