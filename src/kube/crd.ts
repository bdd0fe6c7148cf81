// What a CustomResourceDefinition says about the kind it defines: its scope, the versions it
// serves and how the API server converts between them. Read from a CRD declared in Git or
// served by the cluster; scope is never guessed from a kind's name.
import type { Scope } from './discovery.js';
import { groupOf, isJsonObject, type KubeObject } from './object.js';

export interface CustomResourceFacts {
  readonly group: string;
  readonly kind: string;
  readonly scope: Scope;
  /** Names of the versions the CRD serves. */
  readonly versions: readonly string[];
  /**
   * `None`: versions differ only in apiVersion (the API server rewrites nothing else).
   * `Webhook`: a conversion webhook rewrites the object; driftgate cannot do the same.
   */
  readonly conversion: 'None' | 'Webhook';
}

export function isCustomResourceDefinition(object: KubeObject): boolean {
  return (
    object.kind === 'CustomResourceDefinition' &&
    groupOf(object.apiVersion) === 'apiextensions.k8s.io'
  );
}

/** The facts of a CRD manifest, or undefined when it is not one or lacks group, kind or scope. */
export function customResourceFacts(object: KubeObject): CustomResourceFacts | undefined {
  if (!isCustomResourceDefinition(object) || !isJsonObject(object.spec)) return undefined;
  const { group, names, scope, versions, conversion } = object.spec;
  if (typeof group !== 'string' || !isJsonObject(names) || typeof names.kind !== 'string')
    return undefined;
  if (scope !== 'Cluster' && scope !== 'Namespaced') return undefined;
  const served = Array.isArray(versions)
    ? versions.flatMap((v) =>
        isJsonObject(v) && typeof v.name === 'string' && v.served !== false ? [v.name] : [],
      )
    : [];
  const strategy = isJsonObject(conversion) ? conversion.strategy : undefined;
  return {
    group,
    kind: names.kind,
    scope,
    versions: served,
    conversion: strategy === 'Webhook' ? 'Webhook' : 'None',
  };
}
