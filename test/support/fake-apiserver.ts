// A loopback stand-in for kube-apiserver's list and watch, for driftgate's own watch and reads
// (and @kubernetes/client-node, where credentials need it) to talk to. It follows what a real v1.26 API server was recorded doing (fixtures
// captured/apiserver): one global resourceVersion; lists whose built-in items carry no
// kind/apiVersion; watches as a 200 chunked stream of one JSON event per line; a too-old
// resourceVersion on a watch as 200 + one ERROR event with a 410 Status, then the end of the
// response; BOOKMARKs carrying only a resourceVersion; `as=PartialObjectMetadata` for
// metadata-only lists and watches; fieldSelector on metadata.name; a plain 403 for a forbidden
// watch; 401 for a bad token; a text/plain 404 for an unknown group. An empty list is shaped as
// a real v1.31 API server answered (fixtures apiserver/131-*): `"items": null` for a
// PartialObjectMetadataList (Go's nil slice), `"items": []` for a typed list. Lists page as a real
// server pages: `limit` cuts a page, `metadata.continue` (opaque, base64 JSON of the
// resourceVersion and the key to start after) and `remainingItemCount` say there is more.
// Discovery answers what a real v1.31 server answered: aggregated at `/api` and `/apis`, and the
// resource lists at `/api/v1` and `/apis/<group>/<version>`, with the test's own custom types
// added; `/openapi/v3` serves its OpenAPI documents.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { generateCertificates } from '../../src/certs/generate.js';
import { connectionFrom, type ClusterConnection } from '../../src/cluster/connection.js';
import type { JsonObject } from '../../src/kube/object.js';
import { kubeconfigText } from './kubeconfig.js';

export interface ResourceType {
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  /** Plural, as in the URL. */
  readonly resource: string;
  readonly kind: string;
  readonly namespaced: boolean;
  /** Custom resources keep kind/apiVersion in list items and sort their keys. */
  readonly custom?: boolean;
}

export const resourceTypes = {
  namespaces: {
    group: '',
    version: 'v1',
    resource: 'namespaces',
    kind: 'Namespace',
    namespaced: false,
  },
  secrets: {
    group: '',
    version: 'v1',
    resource: 'secrets',
    kind: 'Secret',
    namespaced: true,
  },
  configmaps: {
    group: '',
    version: 'v1',
    resource: 'configmaps',
    kind: 'ConfigMap',
    namespaced: true,
  },
  hpas: {
    group: 'autoscaling',
    version: 'v2',
    resource: 'horizontalpodautoscalers',
    kind: 'HorizontalPodAutoscaler',
    namespaced: true,
  },
  deployments: {
    group: 'apps',
    version: 'v1',
    resource: 'deployments',
    kind: 'Deployment',
    namespaced: true,
  },
  statefulsets: {
    group: 'apps',
    version: 'v1',
    resource: 'statefulsets',
    kind: 'StatefulSet',
    namespaced: true,
  },
  replicasets: {
    group: 'apps',
    version: 'v1',
    resource: 'replicasets',
    kind: 'ReplicaSet',
    namespaced: true,
  },
  applications: {
    group: 'argoproj.io',
    version: 'v1alpha1',
    resource: 'applications',
    kind: 'Application',
    namespaced: true,
    custom: true,
  },
  appprojects: {
    group: 'argoproj.io',
    version: 'v1alpha1',
    resource: 'appprojects',
    kind: 'AppProject',
    namespaced: true,
    custom: true,
  },
  gitrepositories: {
    group: 'source.toolkit.fluxcd.io',
    version: 'v1',
    resource: 'gitrepositories',
    kind: 'GitRepository',
    namespaced: true,
    custom: true,
  },
  kustomizations: {
    group: 'kustomize.toolkit.fluxcd.io',
    version: 'v1',
    resource: 'kustomizations',
    kind: 'Kustomization',
    namespaced: true,
    custom: true,
  },
  helmreleases: {
    group: 'helm.toolkit.fluxcd.io',
    version: 'v2',
    resource: 'helmreleases',
    kind: 'HelmRelease',
    namespaced: true,
    custom: true,
  },
  leases: {
    group: 'coordination.k8s.io',
    version: 'v1',
    resource: 'leases',
    kind: 'Lease',
    namespaced: true,
  },
} satisfies Record<string, ResourceType>;

/**
 * The PolicyReport CRDs Kyverno installs (wgpolicyk8s.io/v1alpha2): served only by a test that
 * passes them in `types`, as a cluster serves them only where they are installed.
 */
export const policyReportTypes = {
  policyreports: {
    group: 'wgpolicyk8s.io',
    version: 'v1alpha2',
    resource: 'policyreports',
    kind: 'PolicyReport',
    namespaced: true,
    custom: true,
  },
  clusterpolicyreports: {
    group: 'wgpolicyk8s.io',
    version: 'v1alpha2',
    resource: 'clusterpolicyreports',
    kind: 'ClusterPolicyReport',
    namespaced: false,
    custom: true,
  },
} satisfies Record<string, ResourceType>;

interface StoredEvent {
  readonly rv: number;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly resourceType: ResourceType;
  readonly object: JsonObject;
}

interface OpenWatch {
  readonly resourceType: ResourceType;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly labels: LabelSelector;
  readonly metadataOnly: boolean;
  readonly response: ServerResponse;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly accept: string;
}

export interface FakeApiServer {
  readonly url: string;
  /** A connection to this server with a valid token and its CA. */
  connection(options?: { token?: string }): ClusterConnection;
  /** The same as a kubeconfig file's text; `user` replaces the token with other credentials. */
  kubeconfigText(options?: { token?: string; user?: Record<string, unknown> }): string;
  /** Creates or replaces an object (ADDED or MODIFIED to watchers); returns it as stored. */
  put(type: ResourceType, object: JsonObject): JsonObject;
  remove(type: ResourceType, namespace: string, name: string): void;
  /** Sends a BOOKMARK on every open watch that asked for them. */
  bookmark(): void;
  /**
   * Forgets the history: watches from an older resourceVersion, and continue tokens of lists
   * begun before, get 410 Expired.
   */
  compact(): void;
  /** Ends every open watch as the server does at `timeoutSeconds`. */
  endWatches(): void;
  /** Resource types for which list and watch answer 403, as without RBAC. */
  forbid(type: ResourceType): void;
  /** A resource type whose list answers 403 in this namespace only, as with a RoleBinding. */
  forbidNamespace(type: ResourceType, namespace: string): void;
  /** Stops accepting connections and drops open ones: the API server is down. */
  goDown(): Promise<void>;
  /** Listens again on the same port. */
  comeBack(): Promise<void>;
  readonly requests: readonly RecordedRequest[];
  /** Events created through `events.k8s.io/v1`, series updates applied. */
  readonly events: readonly JsonObject[];
  openWatches(type?: ResourceType): number;
  /**
   * Aggregated discovery answered at `/api` and `/apis` from now on (by default, documents of
   * the resource types above, shaped as kube-apiserver v1.31 sends them).
   */
  serveDiscovery(documents: { readonly api: unknown; readonly apis: unknown }): void;
  stop(): Promise<void>;
}

export interface FakeApiServerOptions {
  /**
   * How an empty list is sent. `recorded` (default): as the real API server was recorded doing,
   * `null` for metadata-only lists and `[]` for typed ones. `null`: every empty list is
   * `"items": null`, as any Go server that lists into a nil slice may answer.
   */
  readonly emptyItems?: 'recorded' | 'null';
  /** OpenAPI v3 documents served beside the recorded ones, by path (`apis/example.com/v1`). */
  readonly openapi?: Readonly<Record<string, unknown>>;
  /** Resource types served beside the built-in ones (custom resources, cluster-scoped kinds). */
  readonly types?: readonly ResourceType[];
}

/** The token the server takes; any other is 401. */
export const TOKEN = 'test-token-for-the-fake-api-server';

// The OpenAPI v3 documents a real v1.31 API server served (fixtures captured-1.31/openapi), by
// path (`api/v1`, `apis/apps/v1`); the index lists each with a hash of its content, as it does.
const OPENAPI_DIR = new URL('../fixtures/captured-1.31/openapi/', import.meta.url);
function recordedOpenApiDocuments(): Map<string, string> {
  const documents = new Map<string, string>();
  const walk = (relative: string): void => {
    for (const entry of readdirSync(new URL(relative, OPENAPI_DIR), { withFileTypes: true })) {
      const path = `${relative}${entry.name}`;
      if (entry.isDirectory()) walk(`${path}/`);
      else if (path.endsWith('.json') && path !== 'v3.json') {
        documents.set(
          path.slice(0, -'.json'.length),
          readFileSync(new URL(path, OPENAPI_DIR), 'utf8'),
        );
      }
    }
  };
  walk('');
  return documents;
}
// One key pair for every fake server of a test file: RSA generation is slow.
let certificates: ReturnType<typeof generateCertificates> | undefined;

export async function startFakeApiServer(
  options: FakeApiServerOptions = {},
): Promise<FakeApiServer> {
  const emptyItems = options.emptyItems ?? 'recorded';
  const types: readonly ResourceType[] = [...allTypes, ...(options.types ?? [])];
  const openapi = recordedOpenApiDocuments();
  for (const [path, document] of Object.entries(options.openapi ?? {})) {
    openapi.set(path, JSON.stringify(document));
  }
  certificates ??= generateCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const { cert, key, caCert } = certificates;
  let resourceVersion = 1000;
  let oldestRetained = resourceVersion;
  const objects = new Map<string, { type: ResourceType; object: JsonObject }>();
  const history: StoredEvent[] = [];
  const watches = new Set<OpenWatch>();
  const forbidden = new Set<ResourceType>();
  const forbiddenIn = new Map<ResourceType, Set<string>>();
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();

  const storedEvents = new Map<string, JsonObject>();

  // POST creates, PATCH (strategic merge of `series`, as client-go sends) updates. eventTime
  // must carry exactly six fractional digits, as a real API server insists (400 otherwise).
  function storeKubernetesEvent(
    request: IncomingMessage,
    response: ServerResponse,
    namespace: string,
    name: string | undefined,
  ): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as JsonObject;
      if (request.method === 'POST') {
        const eventTime = body.eventTime;
        if (typeof eventTime !== 'string' || !/\.\d{6}Z$/.test(eventTime)) {
          sendStatus(response, 400, 'BadRequest', `parsing time ${JSON.stringify(eventTime)}`);
          return;
        }
        const eventName = (body.metadata as { name: string }).name;
        const key = `${namespace}/${eventName}`;
        if (storedEvents.has(key)) {
          sendStatus(
            response,
            409,
            'AlreadyExists',
            `events.events.k8s.io "${eventName}" already exists`,
          );
          return;
        }
        resourceVersion += 1;
        const stored = {
          ...body,
          metadata: {
            ...(body.metadata as JsonObject),
            namespace,
            resourceVersion: String(resourceVersion),
          },
        };
        storedEvents.set(key, stored);
        sendJson(response, 201, stored);
        return;
      }
      const key = `${namespace}/${name ?? ''}`;
      const existing = storedEvents.get(key);
      if (existing === undefined) {
        sendStatus(response, 404, 'NotFound', `events.events.k8s.io "${name ?? ''}" not found`);
        return;
      }
      const updated = { ...existing, ...body };
      storedEvents.set(key, updated);
      sendJson(response, 200, updated);
    });
  }

  // GET, POST (create), PUT (replace, with optimistic concurrency on metadata.resourceVersion)
  // and DELETE of one object, answered as the recorded API server answered them (fixtures
  // captured/apiserver 06a, 06h, 07h, 08j, 09i): Status bodies for 404, 409 and deletion.
  function writeObject(
    request: IncomingMessage,
    response: ServerResponse,
    route: { resourceType: ResourceType; namespace: string | undefined; name: string | undefined },
  ): void {
    const { resourceType: type } = route;
    const namespace = type.namespaced ? (route.namespace ?? '') : '';
    const details = (name: string) => ({
      name,
      ...(type.group === '' ? {} : { group: type.group }),
      kind: type.resource,
    });
    const notFound = (name: string) => {
      sendStatus(
        response,
        404,
        'NotFound',
        `${qualified(type)} "${name}" not found`,
        details(name),
      );
    };
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const body = text === '' ? {} : (JSON.parse(text) as JsonObject);
      const metadata = (body.metadata ?? {}) as { name?: string; resourceVersion?: string };
      if (request.method === 'POST' && route.name === undefined) {
        const name = metadata.name ?? '';
        if (objects.has(storeKey(type, namespace, name))) {
          sendStatus(
            response,
            409,
            'AlreadyExists',
            `${qualified(type)} "${name}" already exists`,
            details(name),
          );
          return;
        }
        const { resourceVersion: _ignored, ...rest } = metadata;
        const stored = put(type, {
          ...body,
          metadata: { ...rest, ...(type.namespaced ? { namespace } : {}) },
        });
        sendJson(response, 201, present(type, stored, false, false));
        return;
      }
      const name = route.name ?? '';
      const existing = objects.get(storeKey(type, namespace, name));
      if (existing === undefined) {
        notFound(name);
        return;
      }
      const current = existing.object.metadata as { resourceVersion?: string };
      if (request.method === 'GET') {
        sendJson(response, 200, present(type, existing.object, false, false));
      } else if (request.method === 'PUT') {
        if (
          metadata.resourceVersion !== undefined &&
          metadata.resourceVersion !== current.resourceVersion
        ) {
          sendStatus(
            response,
            409,
            'Conflict',
            `Operation cannot be fulfilled on ${qualified(type)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
            details(name),
          );
          return;
        }
        const stored = put(type, {
          ...body,
          metadata: { ...metadata, name, ...(type.namespaced ? { namespace } : {}) },
        });
        sendJson(response, 200, present(type, stored, false, false));
      } else if (request.method === 'DELETE') {
        const uid = (existing.object.metadata as { uid?: string }).uid;
        remove(type, namespace, name);
        sendJson(response, 200, {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: { ...details(name), uid },
        });
      } else {
        sendStatus(
          response,
          405,
          'MethodNotAllowed',
          `the fake API server does not ${request.method ?? ''}`,
        );
      }
    });
  }

  function put(type: ResourceType, object: JsonObject): JsonObject {
    const metadata = (object.metadata ?? {}) as { namespace?: string; name: string };
    const namespace = type.namespaced ? (metadata.namespace ?? 'default') : '';
    const name = metadata.name;
    const key = storeKey(type, namespace, name);
    const existing = objects.get(key);
    resourceVersion += 1;
    const stored: JsonObject = {
      ...object,
      metadata: {
        ...metadata,
        ...(type.namespaced ? { namespace } : {}),
        uid: (existing?.object.metadata as JsonObject | undefined)?.uid ?? `uid-${key}`,
        resourceVersion: String(resourceVersion),
      },
    };
    objects.set(key, { type, object: stored });
    record(existing === undefined ? 'ADDED' : 'MODIFIED', type, stored);
    return stored;
  }

  function remove(type: ResourceType, namespace: string, name: string): void {
    const key = storeKey(type, type.namespaced ? namespace : '', name);
    const existing = objects.get(key);
    if (existing === undefined) return;
    objects.delete(key);
    resourceVersion += 1;
    // DELETED carries the last state with the deletion's resourceVersion.
    const last = {
      ...existing.object,
      metadata: {
        ...(existing.object.metadata as JsonObject),
        resourceVersion: String(resourceVersion),
      },
    };
    record('DELETED', type, last);
  }

  let discovery: { readonly api: unknown; readonly apis: unknown } = discoveryOf(allTypes);

  const storeKey = (type: ResourceType, namespace: string, name: string) =>
    `${type.group}/${type.resource}/${namespace}/${name}`;

  function handle(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? '/', 'https://127.0.0.1');
    const accept = request.headers.accept ?? '';
    requests.push({
      method: request.method ?? '',
      path: url.pathname,
      query: url.searchParams,
      accept,
    });
    if (request.headers.authorization !== `Bearer ${TOKEN}`) {
      sendStatus(response, 401, 'Unauthorized', 'Unauthorized');
      return;
    }
    if (url.pathname === '/openapi/v3' || url.pathname.startsWith('/openapi/v3/')) {
      serveOpenApi(response, url.pathname.slice('/openapi/v3'.length).replace(/^\//, ''), openapi);
      return;
    }
    if (
      (url.pathname === '/api' || url.pathname === '/apis') &&
      request.method === 'GET' &&
      accept.includes('as=APIGroupDiscoveryList')
    ) {
      sendJson(response, 200, url.pathname === '/api' ? discovery.api : discovery.apis);
      return;
    }
    const resources = discoveryDocument(url.pathname, types);
    if (resources !== undefined) {
      if (resources === null) {
        response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
        response.end('404 page not found\n');
      } else sendJson(response, 200, resources);
      return;
    }
    const route = parsePath(url.pathname, types);
    if (route === undefined) {
      response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      response.end('404 page not found\n');
      return;
    }
    if (route.resourceType === eventType && request.method !== 'GET') {
      storeKubernetesEvent(request, response, route.namespace ?? '', route.name);
      return;
    }
    if (request.method !== 'GET' || route.name !== undefined) {
      if (forbidden.has(route.resourceType)) {
        const verb = { GET: 'get', POST: 'create', PUT: 'update', DELETE: 'delete' }[
          request.method ?? ''
        ];
        sendStatus(
          response,
          403,
          'Forbidden',
          `${qualified(route.resourceType)} is forbidden: User "system:serviceaccount:driftgate:driftgate" cannot ${verb ?? 'access'} resource "${route.resourceType.resource}" in API group "${route.resourceType.group}"`,
          { group: route.resourceType.group, kind: route.resourceType.resource },
        );
        return;
      }
      writeObject(request, response, route);
      return;
    }
    const { resourceType, namespace } = route;
    const watching =
      url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    if (
      forbidden.has(resourceType) ||
      (namespace !== undefined && forbiddenIn.get(resourceType)?.has(namespace) === true)
    ) {
      const verb = watching ? 'watch' : 'list';
      const scope =
        namespace === undefined ? 'at the cluster scope' : `in the namespace "${namespace}"`;
      sendStatus(
        response,
        403,
        'Forbidden',
        `${resourceType.resource}${resourceType.group === '' ? '' : `.${resourceType.group}`} is forbidden: User "system:serviceaccount:driftgate:driftgate" cannot ${verb} resource "${resourceType.resource}" in API group "${resourceType.group}" ${scope}`,
        { group: resourceType.group, kind: resourceType.resource },
      );
      return;
    }
    const name = fieldSelectorName(url.searchParams.get('fieldSelector'));
    const labels = parseLabelSelector(url.searchParams.get('labelSelector'));
    const metadataOnly = accept.includes('as=PartialObjectMetadata');
    if (watching) {
      startWatch(response, url.searchParams, {
        resourceType,
        namespace,
        name,
        labels,
        metadataOnly,
      });
    } else {
      const all = [...objects.values()]
        .filter((entry) => entry.type === resourceType)
        .map((entry) => entry.object)
        .filter((object) => matches(object, namespace, name, labels))
        .sort((a, b) => objectPath(a).localeCompare(objectPath(b)));
      const page = pageOf(all, url.searchParams, resourceVersion, oldestRetained);
      if (page === undefined) {
        sendStatus(response, 400, 'BadRequest', 'continue key is not valid');
        return;
      }
      if (page === 'expired') {
        // As the API server answers a continue token whose resourceVersion etcd has compacted
        // (fixtures captured/apiserver 03g): 410, with a token to go on inconsistently.
        sendJson(response, 410, {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: { continue: inconsistentContinue(url.searchParams.get('continue') ?? '') },
          status: 'Failure',
          message: EXPIRED_CONTINUE_MESSAGE,
          reason: 'Expired',
          code: 410,
        });
        return;
      }
      const items = page.items.map((object) => present(resourceType, object, metadataOnly, true));
      const list = metadataOnly
        ? { kind: 'PartialObjectMetadataList', apiVersion: 'meta.k8s.io/v1' }
        : { kind: `${resourceType.kind}List`, apiVersion: apiVersionOf(resourceType) };
      const nilItems = items.length === 0 && (metadataOnly || emptyItems === 'null');
      sendJson(response, 200, {
        ...list,
        metadata: {
          resourceVersion: String(page.resourceVersion),
          ...(page.continue === undefined
            ? {}
            : { continue: page.continue, remainingItemCount: page.remaining }),
        },
        items: nilItems ? null : items,
      });
    }
  }

  function startWatch(
    response: ServerResponse,
    query: URLSearchParams,
    watch: Omit<OpenWatch, 'response'>,
  ): void {
    response.writeHead(200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-cache, private',
    });
    response.flushHeaders();
    const from = query.get('resourceVersion') ?? '';
    const open: OpenWatch = { ...watch, response };
    if (from === '' || from === '0') {
      // No resourceVersion: a synthetic ADDED for every existing object, then changes.
      for (const entry of objects.values()) {
        if (
          entry.type === watch.resourceType &&
          matches(entry.object, watch.namespace, watch.name, watch.labels)
        ) {
          writeEvent(open, 'ADDED', entry.object);
        }
      }
    } else {
      const since = Number(from);
      if (!Number.isInteger(since) || since < oldestRetained - 1) {
        response.end(
          `${JSON.stringify({
            type: 'ERROR',
            object: {
              kind: 'Status',
              apiVersion: 'v1',
              metadata: {},
              status: 'Failure',
              message: `too old resource version: ${from} (${oldestRetained - 1})`,
              reason: 'Expired',
              code: 410,
            },
          })}\n`,
        );
        return;
      }
      for (const event of history) {
        if (event.rv > since && event.resourceType === watch.resourceType) {
          if (matches(event.object, watch.namespace, watch.name, watch.labels))
            writeEvent(open, event.type, event.object);
        }
      }
    }
    watches.add(open);
    const timeoutSeconds = Number(query.get('timeoutSeconds') ?? '0');
    const timer =
      timeoutSeconds > 0 ? setTimeout(() => response.end(), timeoutSeconds * 1000) : undefined;
    timer?.unref();
    response.on('close', () => {
      if (timer !== undefined) clearTimeout(timer);
      watches.delete(open);
    });
    if (query.get('allowWatchBookmarks') === 'true') bookmarkWanted.add(open);
  }

  const bookmarkWanted = new WeakSet<OpenWatch>();

  function writeEvent(watch: OpenWatch, type: string, object: JsonObject): void {
    if (watch.response.writableEnded) return;
    const shown = present(watch.resourceType, object, watch.metadataOnly, false);
    watch.response.write(`${JSON.stringify({ type, object: shown })}\n`);
  }

  function record(
    type: 'ADDED' | 'MODIFIED' | 'DELETED',
    resourceType: ResourceType,
    object: JsonObject,
  ) {
    history.push({ rv: resourceVersion, type, resourceType, object });
    for (const watch of watches) {
      if (
        watch.resourceType === resourceType &&
        matches(object, watch.namespace, watch.name, watch.labels)
      ) {
        writeEvent(watch, type, object);
      }
    }
  }

  let server: Server = createServer({ cert, key }, handle);
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  server.on('connection', track);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `https://127.0.0.1:${port}`;

  async function closeServer(): Promise<void> {
    for (const watch of watches) watch.response.destroy();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
  }

  return {
    url,
    requests,
    get events() {
      return [...storedEvents.values()];
    },
    connection(options = {}) {
      return connectionFrom({
        server: url,
        ca: Buffer.from(caCert),
        token: options.token ?? TOKEN,
      });
    },
    kubeconfigText(options = {}) {
      return kubeconfigText({
        server: url,
        caCert,
        user: options.user ?? { token: options.token ?? TOKEN },
      });
    },
    put,
    remove,
    bookmark() {
      for (const watch of watches) {
        if (!bookmarkWanted.has(watch)) continue;
        const kind = watch.metadataOnly ? 'PartialObjectMetadata' : watch.resourceType.kind;
        const apiVersion = watch.metadataOnly ? 'meta.k8s.io/v1' : apiVersionOf(watch.resourceType);
        watch.response.write(
          `${JSON.stringify({
            type: 'BOOKMARK',
            object: {
              kind,
              apiVersion,
              metadata: { resourceVersion: String(resourceVersion), creationTimestamp: null },
            },
          })}\n`,
        );
      }
    },
    compact() {
      history.length = 0;
      oldestRetained = resourceVersion + 1;
    },
    endWatches() {
      for (const watch of watches) {
        watches.delete(watch);
        watch.response.end();
      }
    },
    forbid(type) {
      forbidden.add(type);
    },
    forbidNamespace(type, namespace) {
      const namespaces = forbiddenIn.get(type) ?? new Set<string>();
      namespaces.add(namespace);
      forbiddenIn.set(type, namespaces);
    },
    async goDown() {
      await closeServer();
    },
    async comeBack() {
      server = createServer({ cert, key }, handle);
      server.on('connection', track);
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    },
    openWatches(type) {
      return [...watches].filter((watch) => type === undefined || watch.resourceType === type)
        .length;
    },
    serveDiscovery(documents) {
      discovery = documents;
    },
    async stop() {
      if (server.listening) await closeServer();
    },
  };
}

const eventType: ResourceType = {
  group: 'events.k8s.io',
  version: 'v1',
  resource: 'events',
  kind: 'Event',
  namespaced: true,
};
const allTypes: readonly ResourceType[] = [...Object.values(resourceTypes), eventType];

/** `/api` and `/apis` as aggregated discovery (APIGroupDiscoveryList), from resource types. */
function discoveryOf(types: readonly ResourceType[]): { api: unknown; apis: unknown } {
  const groups = new Map<string, Map<string, ResourceType[]>>();
  for (const type of types) {
    const versions = groups.get(type.group) ?? new Map<string, ResourceType[]>();
    versions.set(type.version, [...(versions.get(type.version) ?? []), type]);
    groups.set(type.group, versions);
  }
  const item = (group: string, versions: Map<string, ResourceType[]>) => ({
    metadata: group === '' ? { creationTimestamp: null } : { name: group, creationTimestamp: null },
    versions: [...versions].map(([version, resources]) => ({
      version,
      resources: resources.map((type) => ({
        resource: type.resource,
        responseKind: { group: '', version: '', kind: type.kind },
        scope: type.namespaced ? 'Namespaced' : 'Cluster',
        verbs: ['get', 'list', 'watch'],
      })),
      freshness: 'Current',
    })),
  });
  const list = (items: unknown[]) => ({
    kind: 'APIGroupDiscoveryList',
    apiVersion: 'apidiscovery.k8s.io/v2',
    metadata: {},
    items,
  });
  const core = groups.get('');
  return {
    api: list(core === undefined ? [] : [item('', core)]),
    apis: list([...groups].filter(([group]) => group !== '').map(([g, v]) => item(g, v))),
  };
}

function parsePath(
  path: string,
  types: readonly ResourceType[],
):
  | { resourceType: ResourceType; namespace: string | undefined; name: string | undefined }
  | undefined {
  const parts = path.split('/').filter((part) => part !== '');
  let group: string;
  let rest: string[];
  if (parts[0] === 'api' && parts[1] === 'v1') {
    group = '';
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    group = parts[1] ?? '';
    rest = parts.slice(3);
  } else {
    return undefined;
  }
  const inGroup = types.filter((type) => type.group === group);
  if (inGroup.length === 0) return undefined;
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const resourceType = inGroup.find((type) => type.resource === rest[0]);
  if (resourceType === undefined) return undefined;
  return { resourceType, namespace, name: rest[1] };
}

function fieldSelectorName(selector: string | null): string | undefined {
  if (selector === null) return undefined;
  const match = /^metadata\.name=(.+)$/.exec(selector);
  return match?.[1];
}

/** Each label key with the values it may have (equality and set-based `in` only). */
type LabelSelector = ReadonlyMap<string, readonly string[]>;

function parseLabelSelector(selector: string | null): LabelSelector {
  const wanted = new Map<string, string[]>();
  if (selector === null || selector === '') return wanted;
  // Commas separate requirements, except inside the parentheses of `in (a,b)`.
  for (const requirement of selector.match(/[^,(]+(\([^)]*\))?/g) ?? []) {
    const set = /^\s*([^\s=!]+)\s+in\s+\(([^)]*)\)\s*$/.exec(requirement);
    const equal = /^\s*([^\s=!]+)\s*==?\s*([^\s]*)\s*$/.exec(requirement);
    if (set?.[1] !== undefined && set[2] !== undefined) {
      wanted.set(
        set[1],
        set[2].split(',').map((value) => value.trim()),
      );
    } else if (equal?.[1] !== undefined && equal[2] !== undefined) {
      wanted.set(equal[1], [equal[2]]);
    } else {
      throw new Error(`the fake API server does not understand the label selector ${selector}`);
    }
  }
  return wanted;
}

// Watches filter on the object as it is now; an object whose labels stop matching is not sent
// as DELETED, as the real API server does (no test changes labels under a selector).
function matches(
  object: JsonObject,
  namespace: string | undefined,
  name: string | undefined,
  labels: LabelSelector = new Map(),
): boolean {
  const metadata = object.metadata as JsonObject;
  if (namespace !== undefined && metadata.namespace !== namespace) return false;
  const present = (metadata.labels ?? {}) as Record<string, string>;
  for (const [key, values] of labels) {
    const value = present[key];
    if (value === undefined || !values.includes(value)) return false;
  }
  return name === undefined || metadata.name === name;
}

function objectPath(object: JsonObject): string {
  const metadata = object.metadata as { namespace?: string; name: string };
  return `${metadata.namespace ?? ''}/${metadata.name}`;
}

/** `configmaps`, `leases.coordination.k8s.io`: how the API server names a resource in messages. */
function qualified(type: ResourceType): string {
  return type.group === '' ? type.resource : `${type.resource}.${type.group}`;
}

function apiVersionOf(type: ResourceType): string {
  return type.group === '' ? type.version : `${type.group}/${type.version}`;
}

function present(
  type: ResourceType,
  object: JsonObject,
  metadataOnly: boolean,
  inList: boolean,
): JsonObject {
  if (metadataOnly) {
    return {
      kind: 'PartialObjectMetadata',
      apiVersion: 'meta.k8s.io/v1',
      metadata: object.metadata ?? {},
    };
  }
  const { kind: _kind, apiVersion: _apiVersion, ...body } = object;
  if (type.custom === true) {
    const withType: JsonObject = { ...body, kind: type.kind, apiVersion: apiVersionOf(type) };
    return Object.fromEntries(Object.entries(withType).sort(([a], [b]) => a.localeCompare(b)));
  }
  // Items of built-in lists carry no kind/apiVersion; watch events do, first.
  return inList ? body : { kind: type.kind, apiVersion: apiVersionOf(type), ...body };
}

function sendJson(response: ServerResponse, code: number, body: unknown): void {
  response.writeHead(code, { 'Content-Type': 'application/json' });
  response.end(JSON.stringify(body));
}

function sendStatus(
  response: ServerResponse,
  code: number,
  reason: string,
  message: string,
  details?: JsonObject,
): void {
  sendJson(response, code, {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details === undefined ? {} : { details }),
    code,
  });
}

function serveOpenApi(
  response: ServerResponse,
  path: string,
  documents: Map<string, string>,
): void {
  if (path === '') {
    const paths: Record<string, { serverRelativeURL: string }> = {};
    for (const [documentPath, text] of documents) {
      const hash = createHash('sha512').update(text).digest('hex').toUpperCase();
      paths[documentPath] = { serverRelativeURL: `/openapi/v3/${documentPath}?hash=${hash}` };
    }
    sendJson(response, 200, { paths });
    return;
  }
  const text = documents.get(path);
  if (text === undefined) {
    response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    response.end('404 page not found\n');
    return;
  }
  response.writeHead(200, { 'Content-Type': 'application/json' });
  response.end(text);
}

// kube-apiserver's words (staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go).
const EXPIRED_CONTINUE_MESSAGE =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.';

/** The continue token of a 410 Expired: the same start key, at resourceVersion -1. */
function inconsistentContinue(token: string): string {
  const key = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as JsonObject;
  return Buffer.from(JSON.stringify({ ...key, rv: -1 })).toString('base64');
}

/** One page of a list: `limit` items after the continue key, as a real API server cuts them. */
function pageOf(
  all: readonly JsonObject[],
  query: URLSearchParams,
  resourceVersion: number,
  oldestRetained: number,
):
  | 'expired'
  | {
      items: readonly JsonObject[];
      resourceVersion: number;
      continue?: string;
      remaining: number;
    }
  | undefined {
  let start = 0;
  let listedAt = resourceVersion;
  const token = query.get('continue');
  if (token !== null && token !== '') {
    let key: { v?: unknown; rv?: unknown; start?: unknown };
    try {
      key = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as typeof key;
    } catch {
      return undefined;
    }
    if (key.v !== 'meta.k8s.io/v1' || typeof key.start !== 'string' || typeof key.rv !== 'number')
      return undefined;
    // Compaction removed the revision the first page was read at (writes came after it).
    if (key.rv < oldestRetained - 1) return 'expired';
    const after = key.start.endsWith('\u0000') ? key.start.slice(0, -1) : key.start;
    start = all.findIndex((object) => objectPath(object) > after);
    if (start === -1) start = all.length;
    listedAt = key.rv;
  }
  const limit = Number(query.get('limit') ?? '0');
  if (!(Number.isInteger(limit) && limit > 0) || start + limit >= all.length) {
    return { items: all.slice(start), resourceVersion: listedAt, remaining: 0 };
  }
  const items = all.slice(start, start + limit);
  const last = items[items.length - 1];
  const next = {
    v: 'meta.k8s.io/v1',
    rv: listedAt,
    start: `${last === undefined ? '' : objectPath(last)}\u0000`,
  };
  return {
    items,
    resourceVersion: listedAt,
    continue: Buffer.from(JSON.stringify(next)).toString('base64'),
    remaining: all.length - start - limit,
  };
}

const DISCOVERY_DIR = new URL('../fixtures/captured-1.31/discovery/', import.meta.url);

/**
 * The APIResourceList of `/api/v1` or `/apis/<group>/<version>`: the recorded one, with the
 * test's types of that group-version that it lacks; null (404) for a group-version nobody
 * serves; undefined for any other path.
 */
function discoveryDocument(
  path: string,
  types: readonly ResourceType[],
): JsonObject | null | undefined {
  const match = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))\/?$/.exec(path);
  if (match === null) return undefined;
  const group = match[2] ?? '';
  const version = match[1] ?? match[3] ?? '';
  const groupVersion = group === '' ? version : `${group}/${version}`;
  let recorded: JsonObject | undefined;
  try {
    recorded = JSON.parse(
      readFileSync(
        new URL(
          group === '' ? `api/${version}.json` : `apis/${group}/${version}.json`,
          DISCOVERY_DIR,
        ),
        'utf8',
      ),
    ) as JsonObject;
  } catch {
    recorded = undefined;
  }
  const own = types.filter((type) => type.group === group && type.version === version);
  if (recorded === undefined && own.length === 0) return null;
  const resources = [...((recorded?.resources ?? []) as JsonObject[])];
  for (const type of own) {
    if (resources.some((resource) => resource.name === type.resource)) continue;
    resources.push({
      name: type.resource,
      singularName: type.kind.toLowerCase(),
      namespaced: type.namespaced,
      kind: type.kind,
      verbs: ['delete', 'deletecollection', 'get', 'list', 'patch', 'create', 'update', 'watch'],
    });
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources };
}
