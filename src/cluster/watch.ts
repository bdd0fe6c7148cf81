// One list-and-watch of one kind of object, kept in memory, that never gives up: it lists,
// watches from the list's resourceVersion, resumes a watch that ends, lists again when that
// resourceVersion is gone (410), and after any other error starts again after a backoff. The
// admission path reads the cache and never waits for the API server.
import { request as httpsRequest } from 'node:https';
import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { ClusterConnection } from './connection.js';
import { ApiGetError, apiRequest, getJson, statusMessage } from './get-json.js';

/** The Accept header of a metadata-only watch; the list asks for the list kind. */
const METADATA_WATCH = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';
const METADATA_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';

export interface WatchSpec {
  /** Short name for logs and metrics: `hpas`, `namespaces`… */
  readonly name: string;
  /** Collection path: `/apis/autoscaling/v2/horizontalpodautoscalers`. */
  readonly path: string;
  readonly fieldSelector?: string;
  /** Only objects with these labels: `key=value`, or `key in (a,b)`. */
  readonly labelSelector?: string;
  /** Only metadata (PartialObjectMetadata): for kinds whose annotations are all we need. */
  readonly metadataOnly?: boolean;
}

export interface WatchEvents {
  /** The watch exists and has not listed yet. */
  started(name: string): void;
  /** The cache has listed once: what it holds is the cluster's state, not a blank. */
  synced(name: string): void;
  /** Anything in the cache changed (after the first list too). */
  changed(name: string): void;
  relisted(name: string): void;
  failed(name: string, error: unknown): void;
}

export interface WatchedCollection<T extends KubernetesObject> {
  readonly name: string;
  get(name: string, namespace?: string): T | undefined;
  list(): T[];
  /** True once the first list succeeded; stays true through reconnects (the cache is kept). */
  isSynced(): boolean;
  stop(): Promise<void>;
}

export interface WatchTiming {
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

const defaultTiming: WatchTiming = { initialBackoffMs: 1_000, maxBackoffMs: 30_000 };

// As client-go's reflector: the server ends each watch after 5 to 10 minutes, so replicas do
// not reconnect in step; a connection silent for a minute longer than that is taken as dead.
const WATCH_MIN_SECONDS = 300;
const WATCH_SILENCE_MS = 60_000;
// A watch that ends without an event sooner than this is not a quiet kind's timeout.
const QUIET_END_MS = 1_000;

export function watchCollection<T extends KubernetesObject>(
  connection: ClusterConnection,
  spec: WatchSpec,
  deps: { readonly logger: Logger; readonly events: WatchEvents; readonly timing?: WatchTiming },
): WatchedCollection<T> {
  const { logger, events } = deps;
  const timing = deps.timing ?? defaultTiming;
  let objects = new Map<string, T>();
  // Where the next watch starts; undefined: list first.
  let resourceVersion: string | undefined;
  let synced = false;
  let stopped = false;
  let backoffMs = timing.initialBackoffMs;
  let retry: NodeJS.Timeout | undefined;
  let lists = 0;
  const abort = new AbortController();

  const relist = async (): Promise<void> => {
    const list = await listObjects<T>(connection, spec, abort.signal);
    lists += 1;
    if (lists > 1) events.relisted(spec.name);
    backoffMs = timing.initialBackoffMs;
    const fresh = new Map(list.items.map((object) => [keyOf(object), object]));
    const differs =
      fresh.size !== objects.size ||
      [...fresh].some(([key, object]) => versionOf(objects.get(key)) !== versionOf(object));
    objects = fresh;
    resourceVersion = list.metadata?.resourceVersion ?? '';
    if (differs) events.changed(spec.name);
    if (synced) return;
    synced = true;
    events.synced(spec.name);
    logger.info({ watch: spec.name, objects: objects.size }, 'cluster watch synced');
  };

  const apply = (event: WatchEvent<T>): void => {
    const { object } = event;
    if (event.type === 'ADDED' || event.type === 'MODIFIED') {
      objects.set(keyOf(object), object);
      events.changed(spec.name);
    } else if (event.type === 'DELETED') {
      objects.delete(keyOf(object));
      events.changed(spec.name);
    }
    resourceVersion = versionOf(object) ?? resourceVersion;
  };

  const run = async (): Promise<void> => {
    while (!stopped) {
      if (resourceVersion === undefined) await relist();
      const openedAt = performance.now();
      const ended = await watchOnce<T>(
        connection,
        spec,
        resourceVersion ?? '',
        abort.signal,
        apply,
      );
      if (ended === 'expired') {
        resourceVersion = undefined;
      } else if (ended === 'quiet' && performance.now() - openedAt < QUIET_END_MS) {
        // Ended at once without an event: wait, or a server that always does so spins us.
        await sleep(backoffMs, abort.signal);
        backoffMs = Math.min(backoffMs * 2, timing.maxBackoffMs);
      } else {
        backoffMs = timing.initialBackoffMs;
      }
    }
  };

  const start = (): void => {
    run().catch((error: unknown) => {
      if (stopped) return;
      events.failed(spec.name, error);
      logger.warn(
        { watch: spec.name, err: describeError(error), retryInMs: backoffMs },
        synced
          ? 'cluster watch failed: serving from the cache and retrying'
          : 'cluster watch failed before its first list: deciding on Git alone and retrying',
      );
      const delay = backoffMs;
      backoffMs = Math.min(backoffMs * 2, timing.maxBackoffMs);
      retry = setTimeout(() => {
        retry = undefined;
        if (!stopped) start();
      }, delay);
      retry.unref();
    });
  };

  events.started(spec.name);
  start();

  return {
    name: spec.name,
    get: (name, namespace) => objects.get(`${namespace ?? ''}/${name}`),
    list: () => [...objects.values()],
    isSynced: () => synced,
    stop() {
      stopped = true;
      if (retry !== undefined) clearTimeout(retry);
      abort.abort();
      return Promise.resolve();
    },
  };
}

interface WatchEvent<T> {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';
  readonly object: T;
}

/** What the API server sends instead of an event when the watch cannot go on: a Status. */
interface WatchError {
  readonly type: 'ERROR';
  readonly object: { readonly code?: number; readonly message?: string };
}

/**
 * One WATCH from `resourceVersion`, each event handed to `apply` as it arrives. It settles
 * `expired` when the resourceVersion is too old (410: list again), `quiet` when it ended before
 * any event, `ended` when it ended after some; an error status or a broken connection rejects.
 */
async function watchOnce<T extends KubernetesObject>(
  connection: ClusterConnection,
  spec: WatchSpec,
  resourceVersion: string,
  signal: AbortSignal,
  apply: (event: WatchEvent<T>) => void,
): Promise<'expired' | 'quiet' | 'ended'> {
  const timeoutSeconds = WATCH_MIN_SECONDS + Math.floor(Math.random() * WATCH_MIN_SECONDS);
  const what = `WATCH ${spec.path}`;
  const { url, request } = await apiRequest(connection, 'GET', spec.path, {
    query: {
      watch: 'true',
      resourceVersion,
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(timeoutSeconds),
      labelSelector: spec.labelSelector,
      fieldSelector: spec.fieldSelector,
    },
    headers: { Accept: spec.metadataOnly === true ? METADATA_WATCH : 'application/json' },
    signal,
  });
  return new Promise((resolve, reject) => {
    let events = 0;
    const sent = httpsRequest(url, request, (response) => {
      response.setEncoding('utf8');
      response.on('error', reject);
      if (response.statusCode !== 200) {
        let body = '';
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => {
          if (response.statusCode === 410) {
            resolve('expired');
            return;
          }
          const reason = statusMessage(body);
          const status = String(response.statusCode);
          reject(
            new ApiGetError(`${what}: HTTP ${status}: ${reason}`, response.statusCode, reason),
          );
        });
        return;
      }
      // Newline-delimited JSON; a chunk may end inside a line.
      let pending = '';
      response.on('data', (chunk: string) => {
        const lines = (pending + chunk).split('\n');
        pending = lines.pop() ?? '';
        try {
          for (const line of lines) {
            if (line.trim() === '') continue;
            const event = JSON.parse(line) as WatchEvent<T> | WatchError;
            if (event.type === 'ERROR') {
              const { code, message = 'the watch failed' } = event.object;
              if (code !== 410) throw new ApiGetError(`${what}: ${message}`, code, message);
              resolve('expired');
              sent.destroy();
              return;
            }
            events += 1;
            apply(event);
          }
        } catch (error) {
          sent.destroy(error instanceof Error ? error : new Error(String(error)));
        }
      });
      response.on('end', () => {
        resolve(events === 0 ? 'quiet' : 'ended');
      });
    });
    // Silent past the server's own end: the connection is gone without a word.
    sent.setTimeout(timeoutSeconds * 1000 + WATCH_SILENCE_MS, () => {
      sent.destroy(new Error(`${what}: no answer for ${String(timeoutSeconds)} s`));
    });
    sent.on('error', reject);
    sent.end();
  });
}

/** One LIST, over node:https with the connection's TLS and credentials. */
async function listObjects<T extends KubernetesObject>(
  connection: ClusterConnection,
  spec: WatchSpec,
  signal: AbortSignal,
): Promise<KubernetesListObject<T>> {
  const body = await getJson(connection, spec.path, {
    accept: spec.metadataOnly === true ? METADATA_LIST : 'application/json',
    query: { fieldSelector: spec.fieldSelector, labelSelector: spec.labelSelector },
    describe: `LIST ${spec.path}`,
    signal,
  });
  return listOf<T>(body, spec.path);
}

function keyOf(object: KubernetesObject): string {
  return `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
}

function versionOf(object: KubernetesObject | undefined): string | undefined {
  return object?.metadata?.resourceVersion;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * A LIST answer with its items always an array. A real API server sends an empty list as
 * `"items": null` where Go holds a nil slice (a PartialObjectMetadataList of no objects).
 */
export function listOf<T extends KubernetesObject>(
  answer: unknown,
  path: string,
): KubernetesListObject<T> {
  if (typeof answer !== 'object' || answer === null)
    throw new Error(`LIST ${path}: the answer is not a list`);
  const list = answer as KubernetesListObject<T>;
  const { items } = answer as { items?: unknown };
  if (items === null) return { ...list, items: [] };
  if (!Array.isArray(items)) throw new Error(`LIST ${path}: the answer has no items`);
  return list;
}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { statusCode?: unknown }).statusCode;
    return typeof code === 'number' && !error.message.includes(String(code))
      ? `HTTP ${String(code)}: ${error.message}`
      : error.message;
  }
  return String(error);
}
