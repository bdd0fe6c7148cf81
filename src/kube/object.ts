// Kubernetes object shapes and identity, shared by every layer.
// Objects stay plain parsed JSON: the core reads them, it never needs a typed client model.
import { builtinScope } from './builtin.js';
import type { Scope } from './discovery.js';

/** Any value that JSON (and therefore an API server) can carry. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export interface ObjectMeta {
  readonly name?: string;
  readonly generateName?: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly [key: string]: unknown;
}

/** A Kubernetes object as the API server sends it or as a manifest declares it. */
export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: ObjectMeta;
  readonly [key: string]: unknown;
}

/**
 * Identity of an object, without its version (as Argo CD keys resources), so a manifest written
 * against `apps/v1beta1` still matches the object the API server stores as `apps/v1`.
 * `namespace` is '' for cluster-scoped objects.
 */
export interface ResourceKey {
  readonly group: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `apps/v1` → `apps`; `v1` → '' (the core group). */
export function groupOf(apiVersion: string | undefined): string {
  if (apiVersion === undefined) return '';
  const slash = apiVersion.indexOf('/');
  return slash === -1 ? '' : apiVersion.slice(0, slash);
}

/** Where the scope of a kind comes from; undefined when it is not known. */
export type ScopeOf = (group: string, kind: string) => Scope | undefined;

/**
 * The key of an object. A namespaced object without a namespace takes `defaultNamespace`; a
 * cluster-scoped kind never has one, even when a manifest sets it (the API server ignores it).
 * Scope comes from `scopeOf` (by default Kubernetes' own kinds, from its discovery); a kind of
 * unknown scope is keyed as the manifest says: its namespace, else `defaultNamespace`.
 */
export function keyOf(
  object: KubeObject,
  defaultNamespace = '',
  scopeOf: ScopeOf = builtinScope,
): ResourceKey {
  const group = groupOf(object.apiVersion);
  const kind = object.kind ?? '';
  const namespace =
    scopeOf(group, kind) === 'Cluster' ? '' : (object.metadata?.namespace ?? defaultNamespace);
  return { group, kind, namespace, name: object.metadata?.name ?? '' };
}

/** `apps/Deployment shop/web`, `rbac.authorization.k8s.io/ClusterRole reader`, `/ConfigMap a/b`. */
export function formatKey(key: ResourceKey): string {
  const where = key.namespace === '' ? key.name : `${key.namespace}/${key.name}`;
  return `${key.group}/${key.kind} ${where}`;
}

export function sameKey(a: ResourceKey, b: ResourceKey): boolean {
  return (
    a.group === b.group && a.kind === b.kind && a.namespace === b.namespace && a.name === b.name
  );
}
