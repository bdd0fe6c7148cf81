// What a reviewer asks of the audit trail, summed up while the entries stream by: who was
// denied, what was allowed under break-glass and whether Git has been restored since.
import { formatObject, objectKey, type AuditEntry } from './entry.js';

export interface BreakGlassSession {
  readonly object: string;
  readonly reason: string;
  readonly users: readonly string[];
  readonly first: string;
  readonly last: string;
  readonly writes: number;
  readonly expires: string | undefined;
  /** A sync identity wrote the object after the last break-glass write. */
  readonly restoredAt: string | undefined;
}

/**
 * An object that differs from Git: from the log, the last write that left drift and no sync
 * since; from a scan (`--scan`), what the scan found, `missing` included.
 */
export interface StillDrifted {
  readonly object: string;
  readonly drift: readonly string[];
  readonly since?: string;
  readonly user?: string;
  readonly decision?: string;
  /** From a scan: differs from Git, or is not in the cluster at all. */
  readonly status?: 'drifted' | 'missing';
}

export interface SummaryReport {
  readonly entries: number;
  readonly denialsByUser: readonly { readonly user: string; readonly count: number }[];
  readonly denialsByObject: readonly { readonly object: string; readonly count: number }[];
  readonly dryRunDenials: number;
  readonly breakGlass: readonly BreakGlassSession[];
  readonly stillDrifted: readonly StillDrifted[];
  /** The scan file `stillDrifted` comes from; absent when it is inferred from the log. */
  readonly stillDriftedFrom?: string;
}

/** The review with its "still drifted" section taken from a scan instead of the log. */
export function withScanResults(
  report: SummaryReport,
  scan: { readonly file: string; readonly stillDrifted: readonly StillDrifted[] },
): SummaryReport {
  return { ...report, stillDrifted: scan.stillDrifted, stillDriftedFrom: scan.file };
}

interface Session {
  object: string;
  objectKey: string;
  reason: string;
  users: Set<string>;
  first: string;
  last: string;
  writes: number;
  expires: string | undefined;
}

/** Keeps counts per user and per object and one record per break-glass session: no entries. */
export class SummaryBuilder {
  #entries = 0;
  readonly #byUser = new Map<string, number>();
  readonly #byObject = new Map<string, number>();
  /** How each object is shown: as first seen, whichever log named its type. */
  readonly #objectNames = new Map<string, string>();
  #dryRunDenials = 0;
  readonly #sessions = new Map<string, Session>();
  readonly #lastSync = new Map<string, string>();
  readonly #lastDrift = new Map<string, StillDrifted>();

  /** Every entry, filtered out or not: a sync restores Git whoever the review looks at. */
  observeAny(entry: AuditEntry): void {
    if (entry.dryRun || entry.committed === false) return;
    const key = objectKey(entry);
    if (entry.decision === 'sync') {
      this.#lastSync.set(key, entry.time);
      this.#lastDrift.delete(key);
    }
  }

  /** The entries the review shows. */
  observe(entry: AuditEntry): void {
    this.#entries += 1;
    const key = objectKey(entry);
    const object = this.#objectNames.get(key) ?? formatObject({ ...entry, subresource: undefined });
    this.#objectNames.set(key, object);
    if (entry.decision === 'denied') {
      if (entry.dryRun) this.#dryRunDenials += 1;
      else {
        increment(this.#byUser, entry.user);
        increment(this.#byObject, object);
      }
      return;
    }
    if (entry.dryRun || entry.committed === false) return;
    if (entry.decision === 'break-glass') {
      const id = `${key}\n${entry.breakGlassReason ?? ''}`;
      const session = this.#sessions.get(id) ?? {
        object,
        objectKey: key,
        reason: entry.breakGlassReason ?? '',
        users: new Set<string>(),
        first: entry.time,
        last: entry.time,
        writes: 0,
        expires: undefined,
      };
      session.users.add(entry.user);
      session.writes += 1;
      session.last = entry.time;
      session.expires = entry.breakGlassExpires ?? session.expires;
      this.#sessions.set(id, session);
    }
    if (entry.drift.length > 0 && entry.decision !== 'sync') {
      this.#lastDrift.set(key, {
        object,
        since: entry.time,
        user: entry.user,
        decision: entry.decision,
        drift: entry.drift,
      });
    }
  }

  report(): SummaryReport {
    const sorted = <T>(map: Map<string, number>, name: (key: string, count: number) => T) =>
      [...map.entries()]
        .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
        .map(([key, count]) => name(key, count));
    return {
      entries: this.#entries,
      denialsByUser: sorted(this.#byUser, (user, count) => ({ user, count })),
      denialsByObject: sorted(this.#byObject, (object, count) => ({ object, count })),
      dryRunDenials: this.#dryRunDenials,
      breakGlass: [...this.#sessions.values()].map((s) => {
        const sync = this.#lastSync.get(s.objectKey);
        return {
          object: s.object,
          reason: s.reason,
          users: [...s.users],
          first: s.first,
          last: s.last,
          writes: s.writes,
          expires: s.expires,
          restoredAt: sync !== undefined && sync > s.last ? sync : undefined,
        };
      }),
      stillDrifted: [...this.#lastDrift.values()],
    };
  }
}

function increment(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}
