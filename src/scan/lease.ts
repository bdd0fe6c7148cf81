// One replica scans and writes PolicyReports: the holder of a coordination.k8s.io/v1 Lease in
// driftgate's namespace, taken and renewed as client-go's leader election does (optimistic
// concurrency on resourceVersion, a holder's lease is expired only after a full lease duration
// without a change seen locally, so clocks of different nodes never need to agree).
import type { Logger } from 'pino';
import type { ClusterConnection } from '../cluster/connection.js';
import { ApiGetError, getJson, sendJson } from '../cluster/get-json.js';

export const SCAN_LEASE_NAME = 'driftgate-scan';

/** `leader` holds the lease; `uncoordinated`: the lease may not be read or written (403). */
export type LeaseRole = 'leader' | 'follower' | 'uncoordinated';

export interface LeaseSpec {
  readonly holderIdentity?: string;
  readonly leaseDurationSeconds?: number;
  readonly acquireTime?: string;
  readonly renewTime?: string;
  readonly leaseTransitions?: number;
}

interface Lease {
  readonly metadata?: { readonly resourceVersion?: string };
  readonly spec?: LeaseSpec;
}

export interface ScanLeaseOptions {
  readonly connection: ClusterConnection;
  readonly namespace: string;
  /** The pod name: who holds the lease, as `kubectl get lease` shows it. */
  readonly identity: string;
  readonly logger: Logger;
  readonly name?: string;
  /** A holder silent this long is replaced (default 60 s). */
  readonly leaseDurationSeconds?: number;
  /** How often the holder renews and the others look (default a third of the duration). */
  readonly retryMs?: number;
  readonly now?: () => Date;
}

export interface ScanLease {
  role(): LeaseRole;
  /** The holder the Lease named when last read or written ('' when none, undefined unknown). */
  holder(): string | undefined;
  /** Settles once the first attempt to take the lease is answered (or failed). */
  readonly settled: Promise<void>;
  /** Stops renewing; a holder gives the lease up so another replica takes it at once. */
  stop(): Promise<void>;
}

/**
 * A MicroTime as the API server parses it: `2006-01-02T15:04:05.000000Z`, exactly six
 * fractional digits (toISOString()'s three are refused with 400).
 */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export function startScanLease(options: ScanLeaseOptions): ScanLease {
  const { connection, namespace, identity, logger } = options;
  const name = options.name ?? SCAN_LEASE_NAME;
  const durationSeconds = options.leaseDurationSeconds ?? 60;
  const retryMs = options.retryMs ?? (durationSeconds * 1000) / 3;
  const now = options.now ?? (() => new Date());
  const collection = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
  const path = `${collection}/${encodeURIComponent(name)}`;
  let role: LeaseRole = 'follower';
  let holderSeen: string | undefined;
  /** When this replica last renewed (local monotonic clock). */
  let renewedAt = -Infinity;
  /** The lease as last seen, and when it was first seen so (local monotonic clock). */
  let observed: { resourceVersion: string; at: number } | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  const spec = (previous: LeaseSpec | undefined, at: Date): LeaseSpec => {
    const ours = previous?.holderIdentity === identity;
    return {
      holderIdentity: identity,
      leaseDurationSeconds: durationSeconds,
      acquireTime:
        ours && previous.acquireTime !== undefined ? previous.acquireTime : microTime(at),
      renewTime: microTime(at),
      leaseTransitions:
        (previous?.leaseTransitions ?? 0) + (previous === undefined || ours ? 0 : 1),
    };
  };

  function become(next: LeaseRole): void {
    if (next !== role) {
      logger.info(
        { lease: `${namespace}/${name}`, identity },
        next === 'leader'
          ? 'scan lease taken: this replica scans and writes the PolicyReports'
          : next === 'follower'
            ? 'scan lease held by another replica: this one does not scan'
            : 'the scan lease may not be read or written (RBAC): this replica scans uncoordinated and writes no PolicyReports',
      );
    }
    role = next;
  }

  async function attempt(): Promise<void> {
    let current: Lease | undefined;
    try {
      current = (await getJson(connection, path)) as Lease;
    } catch (error) {
      if (error instanceof ApiGetError && error.statusCode === 404) current = undefined;
      else throw error;
    }
    const at = now();
    if (current === undefined) {
      await sendJson(connection, 'POST', collection, {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace },
        spec: spec(undefined, at),
      });
      renewedAt = performance.now();
      holderSeen = identity;
      become('leader');
      return;
    }
    const resourceVersion = current.metadata?.resourceVersion ?? '';
    if (observed?.resourceVersion !== resourceVersion) {
      observed = { resourceVersion, at: performance.now() };
    }
    const holder = current.spec?.holderIdentity ?? '';
    holderSeen = holder;
    const seconds = current.spec?.leaseDurationSeconds ?? durationSeconds;
    const expired = performance.now() - observed.at > seconds * 1000;
    if (holder !== '' && holder !== identity && !expired) {
      become('follower');
      return;
    }
    await sendJson(connection, 'PUT', path, {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name, namespace, resourceVersion },
      spec: spec(current.spec, at),
    });
    renewedAt = performance.now();
    holderSeen = identity;
    become('leader');
  }

  async function tick(): Promise<void> {
    try {
      await attempt();
    } catch (error) {
      const status = error instanceof ApiGetError ? error.statusCode : undefined;
      if (status === 403) become('uncoordinated');
      // 409: another replica wrote the lease between our read and write; it leads.
      else if (status === 409) become('follower');
      else {
        logger.warn(
          { err: error instanceof Error ? error.message : String(error) },
          'scan lease: the API server could not be reached',
        );
        // A holder that cannot renew gives up before its lease can expire for the others.
        if (role === 'leader' && performance.now() - renewedAt > (durationSeconds * 1000 * 2) / 3) {
          become('follower');
        }
      }
    }
  }

  function schedule(delayMs: number): void {
    if (stopped) return;
    timer = setTimeout(() => {
      running = tick().finally(() => {
        running = undefined;
        schedule(retryMs);
      });
    }, delayMs);
    timer.unref();
  }
  running = tick().finally(() => {
    running = undefined;
    schedule(retryMs);
  });
  const settled = running;

  return {
    role: () => role,
    holder: () => holderSeen,
    settled,
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await running;
      if (role !== 'leader') return;
      role = 'follower';
      // As client-go's ReleaseOnCancel: no holder, so the next replica need not wait it out.
      try {
        const current = (await getJson(connection, path)) as Lease;
        if (current.spec?.holderIdentity !== identity) return;
        await sendJson(connection, 'PUT', path, {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace, resourceVersion: current.metadata?.resourceVersion },
          spec: { ...current.spec, holderIdentity: '', leaseDurationSeconds: 1 },
        });
      } catch (error) {
        logger.warn(
          { err: error instanceof Error ? error.message : String(error) },
          'scan lease could not be released: another replica takes it once it expires',
        );
      }
    },
  };
}
