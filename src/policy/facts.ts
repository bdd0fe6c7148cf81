// What the cluster itself tells the decision (HPAs, namespace labels and annotations, the
// kill switch). Filled from informer caches; the decision never waits for the API server.
import type { KindSchema } from '../drift/schema.js';
import type { Scope } from '../kube/discovery.js';
import { isJsonObject, type ResourceKey } from '../kube/object.js';
import type { Identities } from './identity.js';

/** An HPA that scales an object, and the replica counts it could itself set. */
export interface HpaScaling {
  /** `namespace/name`. */
  readonly name: string;
  /** At least 1: an HPA never scales to 0, and 0 switches it off. */
  readonly minReplicas: number;
  readonly maxReplicas: number;
}

/**
 * The HPA `namespace/name` with its `spec` (autoscaling/v1 or v2: the bounds are the same), or
 * undefined when the spec names no maximum, which no API server would store.
 */
export function hpaScaling(name: string, spec: unknown): HpaScaling | undefined {
  if (!isJsonObject(spec)) return undefined;
  const { minReplicas, maxReplicas } = spec;
  if (!Number.isInteger(maxReplicas) || (maxReplicas as number) < 1) return undefined;
  const min = Number.isInteger(minReplicas) ? Math.max(1, minReplicas as number) : 1;
  return { name, minReplicas: min, maxReplicas: maxReplicas as number };
}

/** Could the HPA itself have set `replicas`? */
export function hpaMaySet(hpa: HpaScaling, replicas: unknown): boolean {
  return typeof replicas === 'number' && replicas >= hpa.minReplicas && replicas <= hpa.maxReplicas;
}

export interface NamespaceFacts {
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export type OverrideMode = 'off' | 'audit' | 'warn';

export interface ClusterFacts {
  namespace(name: string): NamespaceFacts | undefined;
  /** The HPA in the cluster that scales this object, if any. */
  hpaOf(key: ResourceKey): HpaScaling | undefined;
  /** Annotations of a managed parent (for `scale` writes, which carry none of their own). */
  parentAnnotations(key: ResourceKey): Readonly<Record<string, string>> | undefined;
  /** The kill switch: the override ConfigMap's mode, when set. */
  readonly override: OverrideMode | undefined;
  /**
   * The cluster's OpenAPI schema of a kind the generated built-in table lacks (other built-in
   * groups, aggregated APIs, custom resources), once read.
   */
  schemaOf?(apiVersion: string | undefined, kind: string): KindSchema | undefined;
  /** A kind's scope by the cluster's own discovery (its CRDs included), once it has been read. */
  scopeOf?(group: string, kind: string): Scope | undefined;
  /** A Flux HelmRelease found by discovery, by `namespace/name`. */
  helmRelease?(name: string): HelmReleaseFacts | undefined;
}

/**
 * A Flux HelmRelease in the cluster: who applies the objects it deploys (helm-controller and
 * the service account it impersonates for this release), and what it last released.
 */
export interface HelmReleaseFacts {
  /** `namespace/name` of the HelmRelease, as its objects' labels name it. */
  readonly name: string;
  readonly syncIdentities: Identities;
  /** What it last released (`podinfo@6.5.4, release v3`), for messages and the audit trail. */
  readonly revision: string | undefined;
}

/**
 * `facts` with the HelmReleases discovery found. The result delegates to `facts` through its
 * prototype, so that live getters (the kill switch) stay live.
 */
export function withHelmReleases(
  facts: ClusterFacts,
  releases: ReadonlyMap<string, HelmReleaseFacts>,
): ClusterFacts {
  const extended = Object.create(facts) as ClusterFacts;
  return Object.assign(extended, {
    helmRelease: (name: string) => releases.get(name),
  });
}

/** Facts when nothing is known of the cluster: decisions rest on Git alone. */
export const noClusterFacts: ClusterFacts = {
  namespace: () => undefined,
  hpaOf: () => undefined,
  parentAnnotations: () => undefined,
  override: undefined,
};
