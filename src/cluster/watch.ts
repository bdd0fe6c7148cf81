// One list-and-watch of one kind of object, kept in memory (client-node's ListWatch), that
// never gives up: client-node relists after 410 Gone and reconnects after a quiet watch times
// out, but on any other error (API server down, 403, a dropped list) it stops; here it starts
// again after a backoff. The admission path reads the cache and never waits for the API server.
import {
  KubeConfig,
  ListWatch,
  Watch,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { RequestContext } from '@kubernetes/client-node';
import { getJson } from './get-json.js';

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

export function watchCollection<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  spec: WatchSpec,
  deps: { readonly logger: Logger; readonly events: WatchEvents; readonly timing?: WatchTiming },
): WatchedCollection<T> {
  const { logger, events } = deps;
  const timing = deps.timing ?? defaultTiming;
  let synced = false;
  let stopped = false;
  let backoffMs = timing.initialBackoffMs;
  let retry: NodeJS.Timeout | undefined;
  let lists = 0;
  // A list has arrived and the informer is putting it in its cache.
  let listArrived = false;

  const list = async (): Promise<KubernetesListObject<T>> => {
    const result = await listObjects<T>(kubeConfig, spec);
    lists += 1;
    if (lists > 1) events.relisted(spec.name);
    listArrived = true;
    backoffMs = timing.initialBackoffMs;
    return result;
  };
  // The informer takes a list into its cache and then opens the watch from the list's
  // resourceVersion: only from then on does the cache hold the cluster's state.
  const listTakenIn = () => {
    if (!listArrived) return;
    listArrived = false;
    if (synced) return;
    synced = true;
    events.synced(spec.name);
    logger.info({ watch: spec.name, objects: informer.list().length }, 'cluster watch synced');
  };
  const watchConfig =
    spec.metadataOnly === true ? withAccept(kubeConfig, METADATA_WATCH) : kubeConfig;
  const informer = new ListWatch<T>(
    spec.path,
    new OpeningWatch(watchConfig, listTakenIn),
    list,
    false,
    spec.labelSelector,
    spec.fieldSelector,
  );
  const changed = () => {
    events.changed(spec.name);
  };
  informer.on('add', changed);
  informer.on('update', changed);
  informer.on('delete', changed);
  informer.on('error', (error: unknown) => {
    events.failed(spec.name, error);
    if (stopped) return;
    logger.warn(
      { watch: spec.name, err: describeError(error), retryInMs: backoffMs },
      synced
        ? 'cluster watch failed: serving from the cache and retrying'
        : 'cluster watch failed before its first list: deciding on Git alone and retrying',
    );
    scheduleRestart();
  });

  function scheduleRestart(): void {
    const delay = backoffMs;
    backoffMs = Math.min(backoffMs * 2, timing.maxBackoffMs);
    retry = setTimeout(() => {
      retry = undefined;
      if (!stopped) void informer.start();
    }, delay);
    retry.unref();
  }

  events.started(spec.name);
  void informer.start();

  return {
    name: spec.name,
    get: (name, namespace) => informer.get(name, namespace),
    list: () => [...informer.list()],
    isSynced: () => synced,
    async stop() {
      stopped = true;
      if (retry !== undefined) clearTimeout(retry);
      await informer.stop();
    },
  };
}

/** A Watch that calls `opening` each time the informer opens it. */
class OpeningWatch extends Watch {
  private readonly opening: () => void;

  constructor(config: KubeConfig, opening: () => void) {
    super(config);
    this.opening = opening;
  }

  override watch(...args: Parameters<Watch['watch']>): ReturnType<Watch['watch']> {
    this.opening();
    return super.watch(...args);
  }
}

/** A KubeConfig that also sets the Accept header on every request it authenticates. */
function withAccept(kubeConfig: KubeConfig, accept: string): KubeConfig {
  const wrapped = Object.create(kubeConfig) as KubeConfig;
  wrapped.applySecurityAuthentication = async (context: RequestContext) => {
    await kubeConfig.applySecurityAuthentication(context);
    context.setHeaderParam('Accept', accept);
  };
  return wrapped;
}

/** One LIST, over node:https with the KubeConfig's TLS and credentials. */
async function listObjects<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  spec: WatchSpec,
): Promise<KubernetesListObject<T>> {
  const body = await getJson(kubeConfig, spec.path, {
    accept: spec.metadataOnly === true ? METADATA_LIST : 'application/json',
    query: { fieldSelector: spec.fieldSelector, labelSelector: spec.labelSelector },
    describe: `LIST ${spec.path}`,
  });
  return listOf<T>(body, spec.path);
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
