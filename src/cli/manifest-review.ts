// The AdmissionRequest a kube-apiserver would send for a write of a plain manifest, so
// `driftgate check` can judge manifests (in CI, before a merge) without a recorded review.
// Only what a real server puts in `request` is filled (see the captured reviews in test/fixtures).
import { randomUUID } from 'node:crypto';
import type { AdmissionRequest, Operation } from '../kube/admission.js';
import type { KubeObject } from '../kube/object.js';
import { resourceOf } from '../kube/resource-name.js';

export interface WriteOf {
  readonly operation: Exclude<Operation, 'CONNECT'>;
  /** The manifest written (CREATE, UPDATE) or deleted (DELETE). */
  readonly object: KubeObject;
  /** The stored object an UPDATE replaces, or a DELETE removes. */
  readonly old?: KubeObject | undefined;
  readonly username: string;
  readonly groups: readonly string[];
  /** For manifests without metadata.namespace, as `kubectl -n`. */
  readonly namespace?: string | undefined;
  readonly now: Date;
}

/** What a real API server sends in the options of each operation kubectl makes. */
const OPTIONS = {
  CREATE: {
    kind: 'CreateOptions',
    apiVersion: 'meta.k8s.io/v1',
    fieldManager: 'kubectl-client-side-apply',
    fieldValidation: 'Strict',
  },
  UPDATE: {
    kind: 'UpdateOptions',
    apiVersion: 'meta.k8s.io/v1',
    fieldManager: 'kubectl-client-side-apply',
    fieldValidation: 'Strict',
  },
  DELETE: { kind: 'DeleteOptions', apiVersion: 'meta.k8s.io/v1', propagationPolicy: 'Background' },
} as const;

export function requestFor(write: WriteOf): AdmissionRequest {
  const { object, operation } = write;
  const [group, version] = splitApiVersion(object.apiVersion ?? '');
  const kind = object.kind ?? '';
  const name = object.metadata?.name ?? '';
  // The API server names a Namespace write with the Namespace itself as its namespace.
  const namespace =
    group === '' && kind === 'Namespace' ? name : (object.metadata?.namespace ?? write.namespace);
  const gvk = { group, version, kind };
  const gvr = { group, version, resource: resourceOf(kind) };
  const stored = (manifest: KubeObject, old: KubeObject | undefined): KubeObject =>
    withServerMetadata(manifest, namespace, old, write.now);
  const old = write.old ?? (operation === 'DELETE' ? object : undefined);
  return {
    uid: randomUUID(),
    kind: gvk,
    resource: gvr,
    requestKind: gvk,
    requestResource: gvr,
    name,
    ...(namespace === undefined ? {} : { namespace }),
    operation,
    userInfo: {
      username: write.username,
      // Every authenticated user is in system:authenticated; the API server always adds it.
      groups: [...new Set([...write.groups, 'system:authenticated'])],
    },
    object: operation === 'DELETE' ? null : stored(object, old),
    oldObject: operation === 'CREATE' || old === undefined ? null : stored(old, undefined),
    dryRun: false,
    options: OPTIONS[operation],
  };
}

function splitApiVersion(apiVersion: string): [string, string] {
  const slash = apiVersion.indexOf('/');
  return slash === -1
    ? ['', apiVersion]
    : [apiVersion.slice(0, slash), apiVersion.slice(slash + 1)];
}

/**
 * The metadata the API server has set by the time a validating webhook sees the object: the
 * namespace, and the identity an UPDATE keeps from the stored object (or a CREATE is given).
 */
function withServerMetadata(
  manifest: KubeObject,
  namespace: string | undefined,
  old: KubeObject | undefined,
  now: Date,
): KubeObject {
  const metadata = manifest.metadata ?? {};
  const kept = old?.metadata ?? {};
  return {
    ...manifest,
    metadata: {
      ...metadata,
      ...(namespace === undefined || metadata.namespace !== undefined ? {} : { namespace }),
      uid: metadata.uid ?? kept.uid ?? randomUUID(),
      creationTimestamp:
        metadata.creationTimestamp ??
        kept.creationTimestamp ??
        now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    },
  };
}
