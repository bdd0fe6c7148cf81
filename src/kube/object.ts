// Kubernetes object shapes and identity, shared by every layer.
// Objects stay plain parsed JSON: the core reads them, it never needs a typed client model.

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

/**
 * The key of an object. A namespaced object without a namespace takes `defaultNamespace`; a
 * cluster-scoped kind never has one, even when a manifest sets it (the API server ignores it).
 */
export function keyOf(object: KubeObject, defaultNamespace = ''): ResourceKey {
  const group = groupOf(object.apiVersion);
  const kind = object.kind ?? '';
  const namespace = isClusterScoped(group, kind)
    ? ''
    : (object.metadata?.namespace ?? defaultNamespace);
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

// Cluster-scoped kinds of Kubernetes itself and of the add-ons a GitOps repository commonly
// declares. For other custom resources the cluster's discovery data decides (cluster/).
const CLUSTER_SCOPED = new Set([
  '/Namespace',
  '/Node',
  '/PersistentVolume',
  '/ComponentStatus',
  'rbac.authorization.k8s.io/ClusterRole',
  'rbac.authorization.k8s.io/ClusterRoleBinding',
  'apiextensions.k8s.io/CustomResourceDefinition',
  'apiregistration.k8s.io/APIService',
  'admissionregistration.k8s.io/MutatingWebhookConfiguration',
  'admissionregistration.k8s.io/ValidatingWebhookConfiguration',
  'admissionregistration.k8s.io/ValidatingAdmissionPolicy',
  'admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding',
  'admissionregistration.k8s.io/MutatingAdmissionPolicy',
  'admissionregistration.k8s.io/MutatingAdmissionPolicyBinding',
  'storage.k8s.io/StorageClass',
  'storage.k8s.io/CSIDriver',
  'storage.k8s.io/CSINode',
  'storage.k8s.io/VolumeAttachment',
  'storage.k8s.io/VolumeAttributesClass',
  'scheduling.k8s.io/PriorityClass',
  'node.k8s.io/RuntimeClass',
  'networking.k8s.io/IngressClass',
  'networking.k8s.io/IPAddress',
  'networking.k8s.io/ServiceCIDR',
  'certificates.k8s.io/CertificateSigningRequest',
  'certificates.k8s.io/ClusterTrustBundle',
  'flowcontrol.apiserver.k8s.io/FlowSchema',
  'flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration',
  'resource.k8s.io/DeviceClass',
  'cert-manager.io/ClusterIssuer',
  'snapshot.storage.k8s.io/VolumeSnapshotClass',
  'snapshot.storage.k8s.io/VolumeSnapshotContent',
]);

export function isClusterScoped(group: string, kind: string): boolean {
  return CLUSTER_SCOPED.has(`${group}/${kind}`);
}
