// Desired state from the sync tool's own record (DESIGN.md §8), for objects a sync tool deployed
// from a source driftgate cannot render again (Helm repositories, OCI, plugins, HelmReleases):
// client-side apply's last-applied-configuration, trusted only when the sync tool's field manager
// wrote it last, else the fields the sync tool's managers own in managedFields with the values the
// object holds. A person's write that changes, takes over or erases that record is drift.
import type { Config } from '../config/config.js';
import type { FieldDrift } from '../drift/diff.js';
import {
  keepOwned,
  managedFieldsOf,
  ownedPaths,
  ownedPointers,
  type FieldsTrie,
} from '../drift/managed-fields.js';
import type { SchemaNode } from '../drift/schema.js';
import { isJsonObject, type KubeObject } from '../kube/object.js';
import { annotations } from '../kube/well-known.js';

/** The field managers the sync tools write under (Argo CD, Flux kustomize- and helm-controller). */
export const DEFAULT_SYNC_MANAGERS = [
  'argocd-controller',
  'kustomize-controller',
  'helm-controller',
] as const;

export interface SyncRecordSettings {
  /** Field managers whose record is the sync tool's. */
  readonly managers: ReadonlySet<string>;
  /** Argo CD's tracking label, when Argo CD tracks resources by label. */
  readonly argocdTrackingLabel: string | undefined;
}

export const SYNC_RECORD_MANAGERS: SyncRecordSettings = {
  managers: new Set(DEFAULT_SYNC_MANAGERS),
  argocdTrackingLabel: undefined,
};

/** The sync tools' managers, and Argo CD's tracking label where the config says it tracks by one. */
export function syncRecordSettings(config: Config): SyncRecordSettings {
  const argocd = config.discovery.argocd;
  if (argocd === null || argocd.trackingMethod === 'annotation') return SYNC_RECORD_MANAGERS;
  return { ...SYNC_RECORD_MANAGERS, argocdTrackingLabel: argocd.instanceLabelKey };
}

/** What deployed the object, from its tracking marks. */
export interface SyncOwner {
  readonly tool: 'Argo CD' | 'Flux';
  readonly kind: 'Application' | 'Kustomization' | 'HelmRelease';
  /** `namespace/name` where the marks say; the Application's name alone otherwise. */
  readonly name: string;
}

export interface SyncRecord {
  readonly owner: SyncOwner;
  /** The sync tool's field manager that wrote the record. */
  readonly manager: string;
  readonly from: 'last-applied' | 'managed-fields';
  /** What the sync tool last declared for the object. */
  readonly desired: KubeObject;
}

const FLUX_KUSTOMIZATION = 'kustomize.toolkit.fluxcd.io/';
const FLUX_HELM_RELEASE = 'helm.toolkit.fluxcd.io/';

/** The sync tool that deployed this object, by the marks it leaves on what it applies. */
export function syncOwnerOf(
  object: KubeObject | null | undefined,
  settings: SyncRecordSettings,
): SyncOwner | undefined {
  const metadata = object?.metadata;
  const labels = metadata?.labels ?? {};
  const trackingId = metadata?.annotations?.[annotations.argocdTrackingId];
  if (typeof trackingId === 'string' && trackingId.includes(':')) {
    // `<application>:<group>/<kind>:<namespace>/<name>`; `<namespace>_<application>` for an
    // Application outside Argo CD's own namespace.
    const application = trackingId.slice(0, trackingId.indexOf(':'));
    return { tool: 'Argo CD', kind: 'Application', name: application.replace('_', '/') };
  }
  const label = settings.argocdTrackingLabel;
  const instance = label === undefined ? undefined : labels[label];
  if (typeof instance === 'string' && instance !== '') {
    return { tool: 'Argo CD', kind: 'Application', name: instance };
  }
  for (const [prefix, kind] of [
    [FLUX_KUSTOMIZATION, 'Kustomization'],
    [FLUX_HELM_RELEASE, 'HelmRelease'],
  ] as const) {
    const name = labels[`${prefix}name`];
    const namespace = labels[`${prefix}namespace`];
    if (typeof name === 'string' && name !== '') {
      return {
        tool: 'Flux',
        kind,
        name: typeof namespace === 'string' ? `${namespace}/${name}` : name,
      };
    }
  }
  return undefined;
}

const LAST_APPLIED_FIELD = `f:${annotations.lastApplied}`;

function ownsLastApplied(fields: FieldsTrie): boolean {
  const metadata = fields['f:metadata'];
  const owned = isJsonObject(metadata) ? metadata['f:annotations'] : undefined;
  return isJsonObject(owned) && Object.hasOwn(owned, LAST_APPLIED_FIELD);
}

/**
 * The sync tool's record on the object, or undefined where it carries none that a sync
 * identity wrote. `schema` is the kind's, to find list elements by their keys.
 */
export function syncRecordOf(
  object: KubeObject,
  owner: SyncOwner,
  settings: SyncRecordSettings,
  schema: SchemaNode | undefined,
): SyncRecord | undefined {
  const entries = managedFieldsOf(object).filter(
    (entry) => settings.managers.has(entry.manager) && entry.subresource === '',
  );
  if (entries.length === 0) return undefined;
  // Only the manager that wrote last-applied last owns it: a person's `kubectl apply` takes it.
  const applier = entries.find((entry) => ownsLastApplied(entry.fields));
  const lastApplied = object.metadata?.annotations?.[annotations.lastApplied];
  if (applier !== undefined && typeof lastApplied === 'string') {
    try {
      const declared: unknown = JSON.parse(lastApplied);
      if (isJsonObject(declared)) {
        return { owner, manager: applier.manager, from: 'last-applied', desired: declared };
      }
    } catch {
      // Not JSON: fall back to the managed fields.
    }
  }
  const owned = keepOwned(
    object,
    entries.map((entry) => entry.fields),
    schema,
  );
  if (!isJsonObject(owned)) return undefined;
  const metadata = isJsonObject(owned.metadata) ? owned.metadata : {};
  const desired: KubeObject = {
    ...owned,
    ...(object.apiVersion === undefined ? {} : { apiVersion: object.apiVersion }),
    ...(object.kind === undefined ? {} : { kind: object.kind }),
    metadata: {
      ...metadata,
      ...(object.metadata?.name === undefined ? {} : { name: object.metadata.name }),
      ...(object.metadata?.namespace === undefined ? {} : { namespace: object.metadata.namespace }),
    },
  };
  return {
    owner,
    manager: (entries[0] as (typeof entries)[number]).manager,
    from: 'managed-fields',
    desired,
  };
}

/** A field a write took from the sync tool's managers, and who holds it now. */
export interface OwnershipTaken extends FieldDrift {
  readonly newOwner: string | undefined;
}

/**
 * Fields a sync manager owned before the write and no longer owns after it: taken over by a
 * forced server-side apply, by an update under another manager, or erased. Each is drift even
 * where the value stayed the same — the record would no longer say what the sync tool declared.
 */
export function ownershipTaken(
  old: KubeObject,
  live: KubeObject,
  settings: SyncRecordSettings,
  schema?: SchemaNode,
): OwnershipTaken[] {
  const syncTries = (object: KubeObject) =>
    managedFieldsOf(object)
      .filter((entry) => settings.managers.has(entry.manager))
      .map((entry) => entry.fields);
  const oldTries = syncTries(old);
  const before = ownedPaths(oldTries);
  if (before.size === 0) return [];
  const after = ownedPaths(syncTries(live));
  const others = managedFieldsOf(live).filter((entry) => !settings.managers.has(entry.manager));
  const pointers = ownedPointers(oldTries, old, schema);
  const taken: OwnershipTaken[] = [];
  for (const path of before) {
    if (after.has(path)) continue;
    const newOwner = others.find((entry) => ownedPaths([entry.fields]).has(path))?.manager;
    taken.push({
      path,
      // Where the field was; the managed fields themselves where it is no longer anywhere.
      pointer: pointers.get(path) ?? '/metadata/managedFields',
      desired: `owned by ${managersOwning(old, path, settings).join(', ')}`,
      live: newOwner === undefined ? 'owned by no manager' : `owned by ${newOwner}`,
      newOwner,
    });
  }
  return taken;
}

function managersOwning(object: KubeObject, path: string, settings: SyncRecordSettings): string[] {
  return managedFieldsOf(object)
    .filter((entry) => settings.managers.has(entry.manager))
    .filter((entry) => ownedPaths([entry.fields]).has(path))
    .map((entry) => entry.manager);
}

/**
 * A write sent under a sync tool's field-manager name by someone who is not a sync identity:
 * the name is the client's own choice (`--field-manager=kustomize-controller`), so the record
 * it leaves would lie. The manager, when so.
 */
export function borrowedManager(
  options: unknown,
  settings: SyncRecordSettings,
): string | undefined {
  if (!isJsonObject(options)) return undefined;
  const manager = options.fieldManager;
  return typeof manager === 'string' && settings.managers.has(manager) ? manager : undefined;
}

export function describeOwner(owner: SyncOwner): string {
  return `${owner.tool} ${owner.kind} ${owner.name}`;
}

/** Which record it is, and who wrote it: `managedFields of helm-controller`. */
export function describeRecord(record: SyncRecord): string {
  return record.from === 'last-applied'
    ? `last-applied-configuration written by ${record.manager}`
    : `managedFields of ${record.manager}`;
}
