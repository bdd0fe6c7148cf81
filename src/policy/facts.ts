// What the cluster itself tells the decision (HPAs, namespace labels and annotations, the
// kill switch). Filled from informer caches; the decision never waits for the API server.
import type { Scope } from '../kube/discovery.js';
import type { ResourceKey } from '../kube/object.js';

export interface NamespaceFacts {
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export type OverrideMode = 'off' | 'audit' | 'warn';

export interface ClusterFacts {
  namespace(name: string): NamespaceFacts | undefined;
  /** The HPA (`namespace/name`) in the cluster that scales this object, if any. */
  hpaOf(key: ResourceKey): string | undefined;
  /** Annotations of a managed parent (for `scale` writes, which carry none of their own). */
  parentAnnotations(key: ResourceKey): Readonly<Record<string, string>> | undefined;
  /** The kill switch: the override ConfigMap's mode, when set. */
  readonly override: OverrideMode | undefined;
  /** A kind's scope by the cluster's own discovery (its CRDs included), once it has been read. */
  scopeOf?(group: string, kind: string): Scope | undefined;
}

/** Facts when nothing is known of the cluster: decisions rest on Git alone. */
export const noClusterFacts: ClusterFacts = {
  namespace: () => undefined,
  hpaOf: () => undefined,
  parentAnnotations: () => undefined,
  override: undefined,
};
