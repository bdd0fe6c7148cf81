// The scan (DESIGN.md §9): every object Git declares, read from the cluster with paged LISTs
// per kind and namespace, and judged as a write of it would be. Used by `driftgate scan` and by
// serve's background scan; the comparison is pure, the reads go through a ClusterReader.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Config, SourceConfig } from '../config/config.js';
import type { DesiredEntry, DesiredSnapshot } from '../desired/snapshot.js';
import type { KubeObject, ResourceKey } from '../kube/object.js';
import { isManagedKind } from '../policy/comparison.js';
import type { ClusterFacts } from '../policy/facts.js';
import { indexSnapshot } from '../policy/snapshot-index.js';
import {
  governingNamespace,
  judgeObject,
  notJudged,
  type ScanContext,
  type ScannedObject,
} from './judge.js';
import {
  countByProtection,
  syncTracked,
  type ProtectionCounts,
  type SyncTrackedObject,
} from './protection.js';
import { collectionPath, ExpiredListError, ScopedReadError, type ClusterReader } from './reader.js';

export interface ScanSummaryCounts {
  readonly objects: number;
  readonly inSync: number;
  readonly drifted: number;
  readonly missing: number;
  readonly notJudged: number;
  /** Drifted objects a person's write that keeps the drift would be refused for under enforce. */
  readonly wouldRefuse: number;
}

export interface ScanReport {
  readonly objects: readonly ScannedObject[];
  /**
   * Objects in the pages the scan read (the kinds and namespaces Git declares) that carry a sync
   * tool's tracking marks and that no rendered source declares.
   */
  readonly syncTracked: readonly SyncTrackedObject[];
  readonly summary: ScanSummaryCounts & {
    readonly byNamespace: Readonly<Record<string, ScanSummaryCounts>>;
    /** Objects and sync-tracked objects, by what protects them. */
    readonly byProtection: ProtectionCounts;
  };
}

export interface ScanInput {
  readonly reader: ClusterReader;
  readonly snapshot: DesiredSnapshot;
  readonly sources: readonly SourceConfig[];
  readonly config: Config;
  readonly facts: ClusterFacts;
  readonly now: Date;
  /** Only these namespaces (cluster-scoped objects are then left out); all when empty. */
  readonly namespaces?: readonly string[];
  /** Objects read (or settled without a read) so far, of the total to scan. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Stops the scan between two reads (serve shutting down). */
  readonly signal?: AbortSignal;
}

interface Read {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly entries: { entry: DesiredEntry; manifest: KubeObject }[];
}

export async function scanCluster(input: ScanInput): Promise<ScanReport> {
  const { reader, snapshot, config } = input;
  const index = indexSnapshot(snapshot);
  const context: ScanContext = {
    index,
    facts: input.facts,
    config,
    sources: input.sources,
    now: input.now,
  };
  const only = new Set(input.namespaces ?? []);
  const results: ScannedObject[] = [];
  const reads = new Map<string, Read>();
  let total = 0;
  for (const entry of snapshot.entries()) {
    const { key } = entry;
    if (only.size > 0 && !only.has(key.namespace)) continue;
    total += 1;
    const governing = governingNamespace(key);
    if (governing !== '' && config.namespaces.exclude.includes(governing)) {
      results.push(notJudged(entry, `namespace ${governing} is excluded`, context));
      continue;
    }
    if (!isManagedKind(key, index, config)) {
      results.push(notJudged(entry, `${key.group}/${key.kind} is not a managed kind`, context));
      continue;
    }
    const manifest = entry.object;
    const apiVersion = manifest.apiVersion ?? '';
    const id = `${apiVersion}/${key.kind}/${key.namespace}`;
    let read = reads.get(id);
    if (read === undefined) {
      read = { apiVersion, kind: key.kind, namespace: key.namespace, entries: [] };
      reads.set(id, read);
    }
    read.entries.push({ entry, manifest });
  }

  let done = results.length;
  const progress = (count: number) => {
    done += count;
    input.onProgress?.(done, total);
  };
  progress(0);
  const tracked = new Map<string, SyncTrackedObject>();
  for (const read of reads.values()) {
    input.signal?.throwIfAborted();
    results.push(...(await scanRead(read, reader, context, tracked)));
    progress(read.entries.length);
  }
  results.sort(byKey);
  // A kind read in two API versions lists its objects twice, and an object left out of one
  // read may be Git's in the other.
  const outsideGit = [...tracked.values()].filter((object) => snapshot.get(object) === undefined);
  outsideGit.sort(byKey);
  return scanReportOf(results, outsideGit);
}

/** The report of judged objects and the sync-tracked ones outside Git, with their counts. */
export function scanReportOf(
  objects: readonly ScannedObject[],
  tracked: readonly SyncTrackedObject[] = [],
): ScanReport {
  return {
    objects,
    syncTracked: tracked,
    summary: { ...summarise(objects), byProtection: countByProtection(objects, tracked) },
  };
}

async function scanRead(
  read: Read,
  reader: ClusterReader,
  context: ScanContext,
  tracked: Map<string, SyncTrackedObject>,
): Promise<ScannedObject[]> {
  const settle = (reason: string) =>
    read.entries.map(({ entry }) => notJudged(entry, reason, context));
  const served = await reader.resource(read.apiVersion, read.kind);
  if (served === undefined) {
    return settle(`the API server does not serve ${read.kind} in ${read.apiVersion}`);
  }
  if (!served.listable) return settle(`${served.resource} in ${read.apiVersion} cannot be listed`);
  // Scope comes from the API: a namespace Git gives a cluster-scoped object means nothing.
  const path = collectionPath(
    read.apiVersion,
    served.resource,
    served.namespaced ? read.namespace : undefined,
  );
  const all = () => new Map(read.entries.map((item) => [item.entry.key.name, item]));
  let wanted = all();
  let results: ScannedObject[] = [];
  try {
    for await (const page of reader.list(path)) {
      if (page.restarted === true) {
        // Listed again from the start: judge every object on the new list alone.
        wanted = all();
        results = [];
      }
      for (const live of page.items) {
        const name = live.metadata?.name ?? '';
        const item = wanted.get(name);
        if (item === undefined) {
          const other = syncTracked(live, read.apiVersion, context);
          if (other !== undefined)
            tracked.set(JSON.stringify([other.group, other.kind, other.namespace, name]), other);
          continue;
        }
        wanted.delete(name);
        results.push(judgeObject(item.entry, item.manifest, live, context));
      }
      // A page of comparisons takes milliseconds; reviews served by this process come first.
      await yieldToEventLoop();
    }
  } catch (error) {
    if (error instanceof ExpiredListError) return settle(error.message);
    if (!(error instanceof ScopedReadError)) throw error;
    const reason =
      error.statusCode === 403
        ? `forbidden: ${error.message}`
        : `the API server does not serve ${read.kind} in ${read.apiVersion}: ${error.message}`;
    return settle(reason);
  }
  for (const item of wanted.values()) {
    results.push(judgeObject(item.entry, item.manifest, undefined, context));
  }
  return results;
}

function byKey(a: ResourceKey, b: ResourceKey): number {
  return (
    a.namespace.localeCompare(b.namespace) ||
    a.group.localeCompare(b.group) ||
    a.kind.localeCompare(b.kind) ||
    a.name.localeCompare(b.name)
  );
}

const zero: ScanSummaryCounts = {
  objects: 0,
  inSync: 0,
  drifted: 0,
  missing: 0,
  notJudged: 0,
  wouldRefuse: 0,
};

function add(counts: ScanSummaryCounts, object: ScannedObject): ScanSummaryCounts {
  return {
    objects: counts.objects + 1,
    inSync: counts.inSync + (object.status === 'in-sync' ? 1 : 0),
    drifted: counts.drifted + (object.status === 'drifted' ? 1 : 0),
    missing: counts.missing + (object.status === 'missing' ? 1 : 0),
    notJudged: counts.notJudged + (object.status === 'not-judged' ? 1 : 0),
    wouldRefuse:
      counts.wouldRefuse + (object.status === 'drifted' && object.breakGlass === undefined ? 1 : 0),
  };
}

export function summarise(
  objects: readonly ScannedObject[],
): Omit<ScanReport['summary'], 'byProtection'> {
  let all = zero;
  const byNamespace: Record<string, ScanSummaryCounts> = {};
  for (const object of objects) {
    all = add(all, object);
    byNamespace[object.namespace] = add(byNamespace[object.namespace] ?? zero, object);
  }
  return { ...all, byNamespace };
}
