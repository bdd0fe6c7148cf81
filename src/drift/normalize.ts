// What is never compared, and how a Git manifest is brought into the form the API server
// stores, before any field is compared (DESIGN.md §2.1–2.2).
import { isJsonObject, type JsonObject, type KubeObject } from '../kube/object.js';
import { annotations, DRIFTGATE_PREFIX } from '../kube/well-known.js';
import type { Segment } from './path.js';

// Written by the API server or by controllers, never by Git.
const SERVER_METADATA = new Set([
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
  'selfLink',
  'ownerReferences',
  'finalizers',
]);

// apiVersion and kind are part of the key that paired the two objects (without the version, so
// a manifest at apps/v1beta1 still matches the stored apps/v1): they are not fields to compare.
const TOP_LEVEL = new Set(['status', 'apiVersion', 'kind']);

export interface NeverCompared {
  /** Argo CD's tracking label when the installation tracks resources by label. */
  readonly trackingLabel: string | undefined;
  /** The manifest is SOPS-encrypted: its `sops` block is metadata, not a field. */
  readonly sops: boolean;
}

/** True when the field `name` under `parent` is never compared with Git. */
export function isNeverCompared(
  parent: readonly Segment[],
  name: string,
  rules: NeverCompared,
): boolean {
  const depth = parent.length;
  if (depth === 0) return TOP_LEVEL.has(name) || (rules.sops && name === 'sops');
  if (parent[0] !== 'metadata') return false;
  if (depth === 1) return SERVER_METADATA.has(name);
  if (depth !== 2) return false;
  const second = parent[1];
  if (second === 'annotations') {
    return (
      name === annotations.lastApplied ||
      name === annotations.argocdTrackingId ||
      name === annotations.argocdInstallationId ||
      name.startsWith(DRIFTGATE_PREFIX)
    );
  }
  return second === 'labels' && name === rules.trackingLabel;
}

export function isSops(desired: KubeObject): boolean {
  return isJsonObject(desired.sops);
}

const SOPS_VALUE = /^ENC\[[A-Z0-9_]+,data:/;
export function isSopsEncrypted(value: unknown): boolean {
  return typeof value === 'string' && SOPS_VALUE.test(value);
}

/**
 * The manifest as the API server would store it, for comparison only:
 * - a Secret's `stringData` is folded into base64 `data` (the server does the same; stringData
 *   wins over data for the same key), unless the values are SOPS ciphertext;
 * - `metadata.namespace` takes the source's default for a namespaced object (the live object
 *   has one) and is dropped for a cluster-scoped one (the live object has none).
 * Only the touched levels are copied; the rest is shared with the input.
 */
export function normalizeDesired(
  desired: KubeObject,
  live: KubeObject,
  defaultNamespace: string | undefined,
): KubeObject {
  let result: Record<string, unknown> = desired;
  const metadata = desired.metadata;
  const liveNamespace = live.metadata?.namespace;
  if (liveNamespace === undefined && metadata?.namespace !== undefined) {
    const { namespace: _dropped, ...rest } = metadata;
    result = { ...result, metadata: rest };
  } else if (
    liveNamespace !== undefined &&
    metadata?.namespace === undefined &&
    defaultNamespace !== undefined
  ) {
    result = { ...result, metadata: { ...metadata, namespace: defaultNamespace } };
  }
  if (isSecret(desired) && isJsonObject(desired.stringData)) {
    const data: JsonObject = isJsonObject(desired.data) ? { ...desired.data } : {};
    for (const [key, value] of Object.entries(desired.stringData)) {
      data[key] =
        typeof value === 'string' && !isSopsEncrypted(value)
          ? Buffer.from(value, 'utf8').toString('base64')
          : value;
    }
    const { stringData: _folded, ...rest } = result;
    result = { ...rest, data };
  }
  return result;
}

export function isSecret(object: KubeObject): boolean {
  return (
    object.kind === 'Secret' && (object.apiVersion === 'v1' || object.apiVersion === undefined)
  );
}

/** Is this path a Secret's value, which is never printed? */
export function isSecretValuePath(segments: readonly Segment[]): boolean {
  const first = segments[0];
  return first === 'data' || first === 'stringData';
}

export const REDACTED = '<redacted>';
