// The scope of every kind the cluster serves, custom resources included, from its aggregated
// discovery (`/api` and `/apis`), read at start and again every few minutes: installing a CRD
// changes it. Discovery is readable by every authenticated identity; no RBAC is needed.
import type { Logger } from 'pino';
import {
  AGGREGATED_DISCOVERY_ACCEPT,
  resourcesFromAggregated,
  type Scope,
} from '../kube/discovery.js';
import type { ClusterConnection } from './connection.js';
import { getJson } from './get-json.js';
import { describeError, type WatchEvents, type WatchTiming } from './watch.js';

/** Its name in logs and in the cluster watch metrics. */
export const API_SCOPES_WATCH = 'api-discovery';

export interface ApiScopes {
  /** Scope of a kind by the cluster's discovery; undefined until read, or when not served. */
  scopeOf(group: string, kind: string): Scope | undefined;
  /** Whether discovery has been read once. */
  isSynced(): boolean;
  stop(): Promise<void>;
}

const DEFAULT_INTERVAL_MS = 5 * 60_000;

export function watchApiScopes(
  connection: ClusterConnection,
  deps: {
    readonly logger: Logger;
    /** How often discovery is read again. */
    readonly intervalMs?: number;
    readonly events?: WatchEvents;
    /** Backoff of the retries after a failed read. */
    readonly timing?: WatchTiming;
  },
): ApiScopes {
  const intervalMs = deps.intervalMs ?? DEFAULT_INTERVAL_MS;
  const timing = deps.timing ?? { initialBackoffMs: 1_000, maxBackoffMs: 30_000 };
  let backoffMs = timing.initialBackoffMs;
  let scopes: ReadonlyMap<string, Scope> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<void> | undefined;
  let failures = 0;
  // Stopping abandons a read in flight rather than waiting for its timeout.
  const abort = new AbortController();

  /** Reads discovery once; says after how long to read it again. */
  async function readOnce(): Promise<number> {
    try {
      const documents = await Promise.all(
        ['/api', '/apis'].map((path) =>
          getJson(connection, path, { accept: AGGREGATED_DISCOVERY_ACCEPT, signal: abort.signal }),
        ),
      );
      const next = new Map<string, Scope>();
      for (const resource of resourcesFromAggregated(documents)) {
        next.set(`${resource.group}/${resource.kind}`, resource.scope);
      }
      const first = scopes === undefined;
      scopes = next;
      failures = 0;
      if (first) {
        deps.logger.info({ kinds: next.size }, 'cluster discovery read');
        deps.events?.synced(API_SCOPES_WATCH);
      }
      deps.events?.changed(API_SCOPES_WATCH);
      backoffMs = timing.initialBackoffMs;
      return intervalMs;
    } catch (error) {
      if (stopped) return intervalMs;
      failures += 1;
      deps.events?.failed(API_SCOPES_WATCH, error);
      // Once per run of failures: the scopes already read stay in use.
      if (failures === 1) {
        deps.logger.warn(
          { err: describeError(error), retryInMs: backoffMs },
          scopes === undefined
            ? 'cluster discovery unreadable: the scope of custom kinds comes from Git and the reviews'
            : 'cluster discovery unreadable: keeping the scopes read before',
        );
      }
      const delay = backoffMs;
      backoffMs = Math.min(backoffMs * 2, timing.maxBackoffMs);
      return Math.min(delay, intervalMs);
    }
  }

  function schedule(delayMs: number): void {
    if (stopped) return;
    timer = setTimeout(() => {
      running = readOnce().then(schedule);
    }, delayMs);
    timer.unref();
  }

  deps.events?.started(API_SCOPES_WATCH);
  running = readOnce().then(schedule);

  return {
    scopeOf: (group, kind) => scopes?.get(`${group}/${kind}`),
    isSynced: () => scopes !== undefined,
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      abort.abort();
      await running;
    },
  };
}
