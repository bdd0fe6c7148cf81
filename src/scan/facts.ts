// What a one-shot scan learns from the cluster before it compares: Namespaces (mode label,
// namespace break-glass), HPAs (who owns spec.replicas) and the kill switch, read with the same
// paged, rate-limited LISTs as the objects. serve's background scan uses its watch caches instead.
import { indexHpaTargets } from '../cluster/cluster-facts.js';
import type { Config } from '../config/config.js';
import type { KubeObject, ResourceKey } from '../kube/object.js';
import type { ClusterFacts, NamespaceFacts, OverrideMode } from '../policy/facts.js';
import { keyString } from '../policy/snapshot-index.js';
import type { KindSchema } from '../drift/schema.js';
import { ExpiredListError, ScopedReadError, type ClusterReader } from './reader.js';

async function listAll(
  reader: ClusterReader,
  path: string,
  query?: Record<string, string>,
): Promise<KubeObject[]> {
  const items: KubeObject[] = [];
  for await (const page of reader.list(path, query)) {
    if (page.restarted === true) items.length = 0;
    items.push(...page.items);
  }
  return items;
}

/** A list that may be forbidden: what it says, or a warning saying what is not known. */
async function tryList(
  reader: ClusterReader,
  path: string,
  what: string,
  warnings: string[],
  query?: Record<string, string>,
): Promise<KubeObject[]> {
  try {
    return await listAll(reader, path, query);
  } catch (error) {
    if (!(error instanceof ScopedReadError || error instanceof ExpiredListError)) throw error;
    warnings.push(`${what}: ${error.message}`);
    return [];
  }
}

export async function readScanFacts(
  reader: ClusterReader,
  config: Config,
  options: {
    /** Only these namespaces are scanned: HPAs are read there alone. Empty: the whole cluster. */
    readonly namespaces: readonly string[];
    readonly schemaOf?: (apiVersion: string | undefined, kind: string) => KindSchema | undefined;
  },
): Promise<{ facts: ClusterFacts; warnings: string[] }> {
  const warnings: string[] = [];
  const namespaceObjects = await tryList(
    reader,
    '/api/v1/namespaces',
    'Namespaces could not be read (their driftgate.io/mode labels and break-glass are not seen)',
    warnings,
  );
  const hpaWhat =
    'HorizontalPodAutoscalers could not be read (spec.replicas of their targets is compared with Git)';
  const hpas =
    options.namespaces.length === 0
      ? await tryList(reader, '/apis/autoscaling/v2/horizontalpodautoscalers', hpaWhat, warnings)
      : (
          await Promise.all(
            options.namespaces.map((namespace) =>
              tryList(
                reader,
                `/apis/autoscaling/v2/namespaces/${encodeURIComponent(namespace)}/horizontalpodautoscalers`,
                `${hpaWhat} in ${namespace}`,
                warnings,
              ),
            ),
          )
        ).flat();
  const overrideMaps = await tryList(
    reader,
    `/api/v1/namespaces/${encodeURIComponent(config.cluster.namespace)}/configmaps`,
    `the override ConfigMap ${config.cluster.namespace}/${config.override.configMap} could not be read`,
    warnings,
    { fieldSelector: `metadata.name=${config.override.configMap}` },
  );
  const namespaces = new Map<string, NamespaceFacts>();
  for (const namespace of namespaceObjects) {
    namespaces.set(namespace.metadata?.name ?? '', {
      labels: namespace.metadata?.labels ?? {},
      annotations: namespace.metadata?.annotations ?? {},
    });
  }
  const hpaTargets = indexHpaTargets(hpas);
  const mode = (overrideMaps[0]?.data as Record<string, string> | undefined)?.mode;
  const override = ['off', 'audit', 'warn'].includes(mode ?? '')
    ? (mode as OverrideMode)
    : undefined;
  const facts: ClusterFacts = {
    namespace: (name) => namespaces.get(name),
    hpaOf: (key: ResourceKey) => hpaTargets.get(keyString(key)),
    parentAnnotations: () => undefined,
    override,
    ...(options.schemaOf === undefined ? {} : { schemaOf: options.schemaOf }),
  };
  return { facts, warnings };
}
