// The scan's reads of the cluster: which resource serves a kind (API discovery, once per
// group-version) and paged LISTs of a collection, all paced by one rate limit. Never a GET per
// object: a scan costs one request per 500 objects of each kind and namespace it reads.
import type { ClusterConnection } from '../cluster/connection.js';
import { ApiGetError, getJson } from '../cluster/get-json.js';
import type { KubeObject } from '../kube/object.js';

/** What the API server says about a kind at one version. */
export interface ServedResource {
  /** Plural, as in the URL. */
  readonly resource: string;
  readonly namespaced: boolean;
  readonly listable: boolean;
}

/** A read the API server answered with a status the scan reports per object (403, 404). */
export class ScopedReadError extends Error {
  constructor(
    message: string,
    readonly statusCode: 403 | 404,
  ) {
    super(message);
  }
}

/**
 * A paged LIST whose continue token expired (410) twice in one read: the collection changes
 * faster than it can be paged through. Reported per object, as a forbidden read is.
 */
export class ExpiredListError extends Error {
  readonly code = 'DRIFTGATE_ERR_LIST_EXPIRED';
}

/** The cluster could not be read at all (unreachable, 401, a server error): the scan stops. */
export class ClusterReadError extends Error {
  readonly code = 'DRIFTGATE_ERR_CLUSTER_READ';
}

/** 410 Gone on a LIST with a continue token: the resourceVersion it pins is compacted away. */
class ContinueExpired extends Error {}

export interface ClusterReader {
  /** The resource serving `kind` at `apiVersion`; undefined when the API server does not serve it. */
  resource(apiVersion: string, kind: string): Promise<ServedResource | undefined>;
  /** Every page of one collection (`/api/v1/namespaces/shop/configmaps`), page by page. */
  list(path: string, query?: Readonly<Record<string, string>>): AsyncGenerator<ListPage>;
  /** Requests made so far. */
  readonly requests: number;
}

export interface ListPage {
  /** Items with their kind and apiVersion set (a built-in list's items carry neither). */
  readonly items: readonly KubeObject[];
  /**
   * The first page of a list started again from the beginning (the continue token expired):
   * what the earlier pages said is superseded by this page and the ones after it.
   */
  readonly restarted?: true;
}

export const PAGE_SIZE = 500;
export const DEFAULT_QPS = 20;

/** At most `qps` request starts a second, spaced evenly. */
export function rateLimiter(
  qps: number,
  clock: { now(): number; sleep(ms: number): Promise<void> } = {
    now: () => performance.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  },
): () => Promise<void> {
  const interval = 1000 / qps;
  let next = -Infinity;
  return async () => {
    const now = clock.now();
    const start = Math.max(now, next);
    next = start + interval;
    if (start > now) await clock.sleep(start - now);
  };
}

interface ApiResourceList {
  readonly resources?: readonly {
    readonly name?: string;
    readonly kind?: string;
    readonly namespaced?: boolean;
    readonly verbs?: readonly string[];
  }[];
}

interface ObjectList {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: { readonly continue?: string };
  readonly items?: readonly KubeObject[];
}

export function createClusterReader(
  connection: ClusterConnection,
  options: { readonly qps?: number; readonly pageSize?: number } = {},
): ClusterReader {
  const pace = rateLimiter(options.qps ?? DEFAULT_QPS);
  const pageSize = options.pageSize ?? PAGE_SIZE;
  const discovered = new Map<string, Promise<ApiResourceList | undefined>>();
  let requests = 0;

  async function get(path: string, continuing = false): Promise<unknown> {
    await pace();
    requests += 1;
    try {
      return await getJson(connection, path);
    } catch (error) {
      if (error instanceof ApiGetError) {
        if (continuing && error.statusCode === 410) throw new ContinueExpired(error.message);
        if (error.statusCode === 403 || error.statusCode === 404) {
          throw new ScopedReadError(error.reason ?? error.message, error.statusCode);
        }
        throw new ClusterReadError(error.message);
      }
      throw new ClusterReadError(
        `GET ${path}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  function groupVersion(apiVersion: string): Promise<ApiResourceList | undefined> {
    let pending = discovered.get(apiVersion);
    if (pending === undefined) {
      const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      pending = (get(path) as Promise<ApiResourceList>).catch((error: unknown) => {
        // An unknown group-version is 404: its kinds are not served. 403 is not expected
        // (every authenticated user may read discovery) but says the same to the scan.
        if (error instanceof ScopedReadError) return undefined;
        throw error;
      });
      discovered.set(apiVersion, pending);
    }
    return pending;
  }

  return {
    get requests() {
      return requests;
    },
    async resource(apiVersion, kind) {
      const list = await groupVersion(apiVersion);
      const found = list?.resources?.find(
        (resource) => resource.kind === kind && !(resource.name ?? '').includes('/'),
      );
      if (found?.name === undefined) return undefined;
      return {
        resource: found.name,
        namespaced: found.namespaced === true,
        listable: found.verbs?.includes('list') ?? false,
      };
    },
    async *list(path, query = {}) {
      let token: string | undefined;
      let restarted = false;
      let first = false;
      for (;;) {
        const params = new URLSearchParams({ ...query, limit: String(pageSize) });
        if (token !== undefined) params.set('continue', token);
        let page: ObjectList;
        try {
          page = (await get(`${path}?${params.toString()}`, token !== undefined)) as ObjectList;
        } catch (error) {
          if (!(error instanceof ContinueExpired)) throw error;
          // As client-go's pager: a token older than the API server's compaction window cannot
          // go on; list again from the start, once. A second expiry means the collection changes
          // faster than a paged read of it, and it is reported rather than read forever.
          if (restarted) {
            throw new ExpiredListError(
              `LIST ${path}: the continue token expired twice while paging; the collection changes faster than it can be read`,
            );
          }
          restarted = true;
          first = true;
          token = undefined;
          continue;
        }
        // Items of a built-in list carry no kind/apiVersion; the list says which they are.
        const apiVersion = page.apiVersion ?? '';
        const kind = page.kind?.replace(/List$/, '') ?? '';
        const items = (page.items ?? []).map((item): KubeObject => ({
          ...item,
          apiVersion: item.apiVersion ?? apiVersion,
          kind: item.kind ?? kind,
        }));
        yield first ? { items, restarted: true } : { items };
        first = false;
        token = page.metadata?.continue;
        if (token === undefined || token === '') return;
      }
    },
  };
}

/** The collection path of a resource, in a namespace or across the cluster. */
export function collectionPath(
  apiVersion: string,
  resource: string,
  namespace: string | undefined,
): string {
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  return namespace === undefined
    ? `${base}/${resource}`
    : `${base}/namespaces/${encodeURIComponent(namespace)}/${resource}`;
}
