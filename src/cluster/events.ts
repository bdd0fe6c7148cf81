// Kubernetes Events for denials and break-glass uses (DESIGN.md §1, §3.9, §4): one events.k8s.io/v1
// Event per object and reason, repeats folded into a series, written off the request path.
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { boundNote, type DriftgateEvent } from '../audit/event.js';
import type { ClusterConnection } from './connection.js';
import { ApiGetError, sendJson } from './get-json.js';

export const EVENT_REPORTING_CONTROLLER = 'driftgate.io/driftgate';
// client-go puts Events of cluster-scoped objects in `default`, where `kubectl events` looks.
const CLUSTER_SCOPED_EVENT_NAMESPACE = 'default';
const NAME_LIMIT = 253;
const REPORTING_LIMIT = 128;

export interface EventRecorder {
  /** Queues the Event and returns at once; never throws, never waits for the API server. */
  record(event: DriftgateEvent): void;
  /** Sends what is pending (series counts included) for at most `timeoutMs`, then gives up. */
  stop(timeoutMs?: number): Promise<void>;
}

/**
 * A MicroTime the API server accepts. It parses `2006-01-02T15:04:05.000000Z07:00`: exactly six
 * fractional digits. A plain Date serialises with toISOString()'s three and the write fails
 * with 400; this pads to six, as client-node's V1MicroTime does.
 */
export function microTime(date: Date): string {
  return `${date.toISOString().slice(0, -1)}000Z`;
}

/** An Event name as client-go makes it, `<regarding>.<hex UnixNano>`, made a valid DNS subdomain. */
export function eventName(regardingName: string, unixNanos: bigint): string {
  const suffix = `.${unixNanos.toString(16)}`;
  const base = regardingName
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, '-')
    .replace(/[-.]*\.[-.]*/g, '.')
    .slice(0, NAME_LIMIT - suffix.length)
    .replace(/^[^a-z0-9]+/, '')
    .replace(/[^a-z0-9]+$/, '');
  return `${base === '' ? 'object' : base}${suffix}`;
}

export type EventDropReason =
  'queue-full' | 'unreachable' | 'forbidden' | 'rejected' | 'conflict' | 'evicted' | 'stopped';

export interface EventRecorderOptions {
  /** Credentials and address of the API server (in a pod: its service account). */
  readonly connection: ClusterConnection;
  readonly registry: Registry;
  readonly logger: Logger;
  /** Clock of eventTime, lastObservedTime and series expiry. */
  readonly now?: () => Date;
  /** The pod name (`HOSTNAME`); defaults to the host name. */
  readonly reportingInstance?: string;
  /** Writes waiting for the API server; past it the oldest is dropped (and counted). */
  readonly queueCapacity?: number;
  /** At most one series update per object and reason this often. */
  readonly seriesUpdateIntervalMs?: number;
  /** A repeat later than this after the last one starts a new Event (client-go: 6 minutes). */
  readonly seriesTtlMs?: number;
  /** Series remembered at once; the least recently seen is forgotten first. */
  readonly maxSeries?: number;
  readonly requestTimeoutMs?: number;
  /** Tries per write when the API server is unreachable or answers 429/5xx. */
  readonly maxAttempts?: number;
  readonly retryBaseDelayMs?: number;
  /** Token bucket over all writes, so many distinct objects cannot flood the API server either. */
  readonly writesPerSecond?: number;
  readonly writeBurst?: number;
}

/** An events.k8s.io/v1 Event as driftgate writes it; MicroTimes are microTime() strings. */
interface EventBody {
  readonly apiVersion: 'events.k8s.io/v1';
  readonly kind: 'Event';
  readonly metadata: { readonly name: string; readonly namespace: string };
  readonly eventTime: string;
  readonly series?: { readonly count: number; readonly lastObservedTime: string };
  readonly reportingController: string;
  readonly reportingInstance: string;
  readonly action: string;
  readonly reason: string;
  readonly regarding: {
    readonly apiVersion: string;
    readonly kind: string;
    readonly name: string;
    readonly namespace?: string;
    readonly uid?: string;
  };
  readonly note: string;
  readonly type: string;
}

interface Series {
  readonly key: string;
  readonly event: DriftgateEvent;
  readonly namespace: string;
  name: string;
  readonly firstAt: Date;
  count: number;
  lastObservedAt: Date;
  /** The count the API server has; 0 while the Event is not created. */
  sentCount: number;
  lastWriteAtMs: number;
  queued: boolean;
  inFlight: boolean;
  timer: NodeJS.Timeout | undefined;
}

type WriteOutcome =
  { readonly ok: true } | { readonly ok: false; readonly reason: EventDropReason };

export function createEventRecorder(options: EventRecorderOptions): EventRecorder {
  const { logger } = options;
  const now = options.now ?? (() => new Date());
  const reportingInstance = (options.reportingInstance ?? process.env.HOSTNAME ?? hostname()).slice(
    0,
    REPORTING_LIMIT,
  );
  const queueCapacity = options.queueCapacity ?? 256;
  const seriesUpdateIntervalMs = options.seriesUpdateIntervalMs ?? 10_000;
  const seriesTtlMs = options.seriesTtlMs ?? 6 * 60_000;
  const maxSeries = options.maxSeries ?? 4096;
  const requestTimeoutMs = options.requestTimeoutMs ?? 5_000;
  const maxAttempts = options.maxAttempts ?? 3;
  const retryBaseDelayMs = options.retryBaseDelayMs ?? 500;
  const writesPerSecond = options.writesPerSecond ?? 10;
  const writeBurst = options.writeBurst ?? 25;
  const { connection } = options;

  const metrics = {
    recorded: new Counter({
      name: 'driftgate_events_recorded_total',
      help: 'Denials and break-glass uses handed to the Event recorder, by Event reason.',
      labelNames: ['reason'] as const,
      registers: [options.registry],
    }),
    sent: new Counter({
      name: 'driftgate_events_sent_total',
      help: 'Event writes the API server accepted: a create, or a series update of a repeat.',
      labelNames: ['operation'] as const,
      registers: [options.registry],
    }),
    dropped: new Counter({
      name: 'driftgate_events_dropped_total',
      help: 'Event writes given up, by why (queue-full, unreachable, forbidden, rejected…).',
      labelNames: ['reason'] as const,
      registers: [options.registry],
    }),
    queued: new Gauge({
      name: 'driftgate_events_queue_length',
      help: 'Event writes waiting for the API server.',
      registers: [options.registry],
    }),
  };

  const series = new Map<string, Series>();
  let queue: Series[] = [];
  let draining: Promise<void> | undefined;
  let stopping = false;
  const abort = new AbortController();
  let lastUnixNanos = 0n;
  let tokens = writeBurst;
  let tokensAtMs = performance.now();
  let unreachable = false;
  const reported = new Set<string>();

  const nextName = (regardingName: string, at: Date): string => {
    // Strictly increasing, so two Events within one millisecond still get distinct names.
    let nanos = BigInt(at.getTime()) * 1_000_000n;
    if (nanos <= lastUnixNanos) nanos = lastUnixNanos + 1n;
    lastUnixNanos = nanos;
    return eventName(regardingName, nanos);
  };

  const drop = (reason: EventDropReason): void => {
    metrics.dropped.inc({ reason });
  };

  /** Logs a problem the first time it is seen: a retry loop must not flood the log either. */
  const reportOnce = (topic: string, log: () => void): void => {
    if (reported.has(topic)) return;
    reported.add(topic);
    log();
  };

  const enqueue = (entry: Series): void => {
    if (entry.queued || entry.inFlight) return;
    entry.queued = true;
    queue.push(entry);
    if (queue.length > queueCapacity) {
      const oldest = queue.shift();
      if (oldest !== undefined) {
        oldest.queued = false;
        // Not created: forget it, so its next occurrence starts a fresh Event.
        if (oldest.sentCount === 0 && series.get(oldest.key) === oldest) series.delete(oldest.key);
        drop('queue-full');
      }
    }
    metrics.queued.set(queue.length);
    startDraining();
  };

  const schedule = (entry: Series): void => {
    if (entry.queued || entry.inFlight || entry.timer !== undefined) return;
    const waitMs =
      entry.sentCount === 0 || stopping
        ? 0
        : entry.lastWriteAtMs + seriesUpdateIntervalMs - performance.now();
    if (waitMs <= 0) {
      enqueue(entry);
      return;
    }
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      enqueue(entry);
    }, waitMs);
    entry.timer.unref();
  };

  const startDraining = (): void => {
    if (draining !== undefined) return;
    draining = drain()
      .catch((error: unknown) => {
        logger.error({ err: error }, 'the Event writer failed; it restarts with the next Event');
      })
      .finally(() => {
        draining = undefined;
        if (queue.length > 0 && !abort.signal.aborted) startDraining();
      });
  };

  const drain = async (): Promise<void> => {
    for (;;) {
      const entry = queue.shift();
      metrics.queued.set(queue.length);
      if (entry === undefined) return;
      entry.queued = false;
      entry.inFlight = true;
      let outcome: WriteOutcome;
      try {
        await takeToken();
        outcome = await write(entry);
      } catch (error) {
        outcome = { ok: false, reason: abort.signal.aborted ? 'stopped' : 'unreachable' };
        logger.debug({ err: error }, 'event write failed');
      } finally {
        entry.inFlight = false;
      }
      // Failed or not, the next series update of this object waits its interval.
      entry.lastWriteAtMs = performance.now();
      if (!outcome.ok) {
        drop(outcome.reason);
        if (entry.sentCount === 0 && series.get(entry.key) === entry) series.delete(entry.key);
        continue;
      }
      if (entry.count > entry.sentCount && !abort.signal.aborted) schedule(entry);
    }
  };

  const takeToken = async (): Promise<void> => {
    for (;;) {
      if (abort.signal.aborted) throw new Error('the Event recorder stopped');
      const at = performance.now();
      tokens = Math.min(writeBurst, tokens + ((at - tokensAtMs) / 1000) * writesPerSecond);
      tokensAtMs = at;
      if (tokens >= 1) {
        tokens -= 1;
        return;
      }
      await sleep(((1 - tokens) / writesPerSecond) * 1000, abort.signal);
    }
  };

  const write = async (entry: Series): Promise<WriteOutcome> => {
    let renamed = false;
    for (let attempt = 1; ; attempt++) {
      const count = entry.count;
      const lastObservedAt = entry.lastObservedAt;
      const creating = entry.sentCount === 0;
      try {
        const events = `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(entry.namespace)}/events`;
        if (creating) {
          await sendJson(connection, 'POST', events, eventBody(entry, count, lastObservedAt), {
            signal: requestSignal(),
          });
        } else {
          // As client-go's tools/events: only the series, as a strategic merge patch.
          await sendJson(
            connection,
            'PATCH',
            `${events}/${encodeURIComponent(entry.name)}`,
            { series: { count, lastObservedTime: microTime(lastObservedAt) } },
            { signal: requestSignal(), contentType: 'application/strategic-merge-patch+json' },
          );
        }
        entry.sentCount = count;
        metrics.sent.inc({ operation: creating ? 'create' : 'series-update' });
        if (unreachable) {
          unreachable = false;
          reported.delete('unreachable');
          logger.info('the API server takes Events again');
        }
        return { ok: true };
      } catch (error) {
        const status = error instanceof ApiGetError ? error.statusCode : undefined;
        if (!creating && status === 404) {
          // Deleted (Events live an hour by default): create it again, series and all.
          entry.sentCount = 0;
          attempt--;
          continue;
        }
        if (creating && status === 409 && !renamed) {
          // Another replica, or our own write that timed out, holds the name: take a new one.
          entry.name = nextName(entry.event.regarding.name, now());
          renamed = true;
          attempt--;
          continue;
        }
        if (abort.signal.aborted) return { ok: false, reason: 'stopped' };
        if (status === 403) {
          reportOnce('forbidden', () => {
            logger.warn(
              { namespace: entry.namespace, err: error },
              'the API server forbids driftgate to write Events: grant create and patch on events.events.k8s.io to its service account; denials and break-glass uses are still logged',
            );
          });
          return { ok: false, reason: 'forbidden' };
        }
        if (status === 409) return { ok: false, reason: 'conflict' };
        if (status !== undefined && status !== 429 && status < 500) {
          reportOnce(`rejected-${status}`, () => {
            logger.error(
              { status, err: error },
              'the API server rejected an Event driftgate wrote; Events like it are dropped',
            );
          });
          return { ok: false, reason: 'rejected' };
        }
        if (attempt >= maxAttempts) {
          unreachable = true;
          reportOnce('unreachable', () => {
            logger.warn(
              { err: error },
              'cannot reach the API server to write Events; dropping them until it answers',
            );
          });
          return { ok: false, reason: 'unreachable' };
        }
        // After an abort (stop) the next attempt fails at once and ends as 'stopped'.
        await sleep(retryBaseDelayMs * 2 ** (attempt - 1), abort.signal);
      }
    }
  };

  const eventBody = (entry: Series, count: number, lastObservedAt: Date): EventBody => {
    const { event } = entry;
    const { regarding } = event;
    return {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: entry.name, namespace: entry.namespace },
      eventTime: microTime(entry.firstAt),
      ...(count > 1 ? { series: { count, lastObservedTime: microTime(lastObservedAt) } } : {}),
      reportingController: EVENT_REPORTING_CONTROLLER,
      reportingInstance,
      action: event.action,
      reason: event.reason,
      regarding: {
        apiVersion: regarding.apiVersion,
        kind: regarding.kind,
        name: regarding.name,
        ...(regarding.namespace === '' ? {} : { namespace: regarding.namespace }),
        ...(regarding.uid === undefined ? {} : { uid: regarding.uid }),
      },
      note: boundNote(event.note),
      type: event.type,
    };
  };

  // A hung API server must not hold the one writer forever; stop() cuts every wait short.
  const requestSignal = (): AbortSignal =>
    AbortSignal.any([AbortSignal.timeout(requestTimeoutMs), abort.signal]);

  return {
    record(event) {
      try {
        metrics.recorded.inc({ reason: event.reason });
        if (stopping) {
          drop('stopped');
          return;
        }
        const at = now();
        const key = seriesKey(event);
        const known = series.get(key);
        if (known !== undefined && at.getTime() - known.lastObservedAt.getTime() <= seriesTtlMs) {
          known.count++;
          known.lastObservedAt = at;
          // Most recently seen last, so the least recently seen is forgotten first.
          series.delete(key);
          series.set(key, known);
          schedule(known);
          return;
        }
        const entry: Series = {
          key,
          event,
          namespace: event.regarding.namespace || CLUSTER_SCOPED_EVENT_NAMESPACE,
          name: nextName(event.regarding.name, at),
          firstAt: at,
          count: 1,
          lastObservedAt: at,
          sentCount: 0,
          lastWriteAtMs: 0,
          queued: false,
          inFlight: false,
          timer: undefined,
        };
        series.delete(key);
        series.set(key, entry);
        if (series.size > maxSeries) {
          const [oldestKey, oldest] = series.entries().next().value ?? [];
          if (oldestKey !== undefined && oldest !== undefined) {
            series.delete(oldestKey);
            if (oldest.count > oldest.sentCount && !oldest.queued && !oldest.inFlight) {
              clearTimeout(oldest.timer);
              drop('evicted');
            }
          }
        }
        schedule(entry);
      } catch (error) {
        // Recording is a side effect of a decision; it must never fail the review.
        logger.error({ err: error }, 'could not queue an Event');
      }
    },

    async stop(timeoutMs = 5_000) {
      if (!stopping) {
        stopping = true;
        // Send the counts that were waiting for their interval now.
        for (const entry of series.values()) {
          if (entry.timer !== undefined) {
            clearTimeout(entry.timer);
            entry.timer = undefined;
          }
          if (entry.count > entry.sentCount) schedule(entry);
        }
      }
      const current = draining;
      if (current !== undefined) {
        let timer: NodeJS.Timeout | undefined;
        const finished = await Promise.race([
          current.then(() => true),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => {
              resolve(false);
            }, timeoutMs);
          }),
        ]);
        clearTimeout(timer);
        if (!finished) {
          abort.abort();
          if (queue.length > 0) metrics.dropped.inc({ reason: 'stopped' }, queue.length);
          queue = [];
          metrics.queued.set(0);
          await current;
        }
      }
      abort.abort();
    },
  };
}

/** Repeats of one Event as client-go aggregates them: same action, reason and object. */
function seriesKey(event: DriftgateEvent): string {
  const { regarding } = event;
  return JSON.stringify([
    event.action,
    event.reason,
    event.type,
    regarding.apiVersion,
    regarding.kind,
    regarding.namespace,
    regarding.name,
    regarding.uid ?? '',
  ]);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
