// What the cluster itself tells the decision (HPAs, namespace labels and annotations, the
// kill switch). Filled from informer caches; the decision never waits for the API server.
import type { ResourceKey } from '../kube/object.js';

export interface NamespaceFacts {
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export type OverrideMode = 'off' | 'audit' | 'warn';

export interface ClusterFacts {
  namespace(name: string): NamespaceFacts | undefined;
  /** Is this object the scale target of an HPA that exists in the cluster? */
  isHpaTarget(key: ResourceKey): boolean;
  /** Annotations of a managed parent (for `scale` writes, which carry none of their own). */
  parentAnnotations(key: ResourceKey): Readonly<Record<string, string>> | undefined;
  /** The kill switch: the override ConfigMap's mode, when set. */
  readonly override: OverrideMode | undefined;
}

/** Facts when nothing is known of the cluster: decisions rest on Git alone. */
export const noClusterFacts: ClusterFacts = {
  namespace: () => undefined,
  isHpaTarget: () => false,
  parentAnnotations: () => undefined,
  override: undefined,
};
