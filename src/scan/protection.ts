// What protects each object the scan reads (DESIGN.md §8): Git where a rendered source declares
// it; else, for an object that carries a sync tool's tracking marks, the record the sync tool
// left on it, or nothing. Pure, from the same pages the scan lists: no read of its own.
import type { KubeObject, ResourceKey } from '../kube/object.js';
import { schemaOf } from '../policy/comparison.js';
import type { Protection } from '../policy/decision.js';
import {
  describeOwner,
  describeRecord,
  syncOwnerOf,
  syncRecordOf,
  syncRecordSettings,
} from '../policy/sync-record.js';
import { inScope, type ScanContext, type ScannedObject } from './judge.js';

/**
 * An object in the cluster that no rendered source declares but whose tracking marks say a sync
 * tool deployed it: protected by that tool's record, or by nothing.
 */
export interface SyncTrackedObject {
  readonly group: string;
  readonly kind: string;
  /** '' for cluster-scoped objects. */
  readonly namespace: string;
  readonly name: string;
  readonly protection: Exclude<Protection, 'git'>;
  /** What deployed it, by its marks: `Flux HelmRelease shop/podinfo`. */
  readonly deployedBy: string;
  /** The record that protects it: `managedFields of helm-controller`. */
  readonly record?: string;
  /** Why nothing protects it. */
  readonly reason?: string;
}

/**
 * `live` (listed in `apiVersion`) as a sync-tracked object, or undefined where it carries no
 * sync tool's marks or is out of scope. The caller leaves out what Git declares.
 */
export function syncTracked(
  live: KubeObject,
  apiVersion: string,
  context: ScanContext,
): SyncTrackedObject | undefined {
  const { config } = context;
  const settings = syncRecordSettings(config);
  const owner = syncOwnerOf(live, settings);
  if (owner === undefined) return undefined;
  const key: ResourceKey = {
    group: apiVersion.includes('/') ? (apiVersion.split('/')[0] ?? '') : '',
    kind: live.kind ?? '',
    namespace: live.metadata?.namespace ?? '',
    name: live.metadata?.name ?? '',
  };
  if (!inScope(key, context)) return undefined;
  const tracked = { ...key, deployedBy: describeOwner(owner) };
  if (config.syncRecords === 'off') {
    return { ...tracked, protection: 'none', reason: 'syncRecords is off' };
  }
  const schema = schemaOf(key, apiVersion, context.index, context.facts)?.root;
  const record = syncRecordOf(live, owner, settings, schema);
  if (record === undefined) {
    return {
      ...tracked,
      protection: 'none',
      reason: `no field is owned by a sync manager (${[...settings.managers].join(', ')})`,
    };
  }
  return { ...tracked, protection: 'sync-record', record: describeRecord(record) };
}

export type ProtectionCounts = Readonly<Record<Protection, number>>;

/** How many objects each kind of protection covers. */
export function countByProtection(
  objects: readonly ScannedObject[],
  tracked: readonly SyncTrackedObject[],
): ProtectionCounts {
  const counts: Record<Protection, number> = { git: 0, 'sync-record': 0, none: 0 };
  for (const object of [...objects, ...tracked]) counts[object.protection] += 1;
  return counts;
}
