// A loopback HTTPS stand-in for the kube-apiserver's events.k8s.io/v1 Events, answering as the
// captured v1.26 server did (fixtures/captured/apiserver, exchanges 08a–08n and 09c): 201 with
// the stored Event, 400 for an eventTime without exactly six fractional digits, 422 for missing
// fields, 409 for a taken name, 404 for an unknown Event, 403 when writes are forbidden.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { selfSignedForDevelopment } from '../../src/certs/generate.js';
import { connectionFrom, type ClusterConnection } from '../../src/cluster/connection.js';

export interface RecordedEventRequest {
  readonly method: string;
  readonly path: string;
  readonly contentType: string;
  readonly body: string;
  readonly status: number;
}

export interface EventsApiServer {
  readonly url: string;
  /** A connection that trusts this server's CA and sends its token. */
  connection(): ClusterConnection;
  /** Every request, in arrival order (answered or not). */
  readonly requests: RecordedEventRequest[];
  /** Stored Events by `namespace/name`. */
  readonly events: Map<string, Record<string, unknown>>;
  /** Answer writes with 403 Forbidden, as for a service account without RBAC (09c). */
  forbid: boolean;
  /** Read requests but never answer them, as a hung API server. */
  hang: boolean;
  stop(): Promise<void>;
}

const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const TOKEN = 'events-test-token';

export async function startEventsApiServer(): Promise<EventsApiServer> {
  const { cert, key, caCert } = selfSignedForDevelopment(['127.0.0.1']);
  const sockets = new Set<Socket>();
  const requests: RecordedEventRequest[] = [];
  const events = new Map<string, Record<string, unknown>>();
  let resourceVersion = 2256;

  const state = { forbid: false, hang: false };
  const server: Server = createServer({ cert, key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const record = (status: number) =>
        requests.push({
          method: req.method ?? '',
          path: req.url ?? '',
          contentType: req.headers['content-type'] ?? '',
          body,
          status,
        });
      if (state.hang) {
        record(0);
        return;
      }
      const [status, payload] = answer(req, body);
      record(status);
      send(res, status, payload);
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  function answer(req: IncomingMessage, body: string): [number, unknown] {
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return [401, status(401, 'Unauthorized')];
    const match =
      /^\/apis\/events\.k8s\.io\/v1\/namespaces\/([^/]+)\/events(?:\/([^/?]+))?(?:\?.*)?$/.exec(
        req.url ?? '',
      );
    if (match === null) return [404, '404 page not found\n'];
    const namespace = decodeURIComponent(match[1] ?? '');
    const name = match[2] === undefined ? undefined : decodeURIComponent(match[2]);
    if (state.forbid && req.method !== 'GET') {
      const verb = req.method === 'POST' ? 'create' : 'patch';
      return [
        403,
        status(
          403,
          `events.events.k8s.io is forbidden: User "system:serviceaccount:cap:nobody" cannot ${verb} resource "events" in API group "events.k8s.io" in the namespace "${namespace}"`,
          'Forbidden',
          { group: 'events.k8s.io', kind: 'events' },
        ),
      ];
    }
    if (req.method === 'POST' && name === undefined) return create(namespace, body);
    if (req.method === 'PATCH' && name !== undefined) return patch(namespace, name, req, body);
    if (req.method === 'GET' && name !== undefined) {
      const stored = events.get(`${namespace}/${name}`);
      return stored === undefined ? notFound(name) : [200, stored];
    }
    return [405, status(405, 'the server does not allow this method on the requested resource')];
  }

  function create(namespace: string, body: string): [number, unknown] {
    const event = JSON.parse(body) as Record<string, any>;
    const name = String(event.metadata?.name ?? '');
    const badTime = timeProblem(event.eventTime) ?? timeProblem(event.series?.lastObservedTime);
    if (badTime !== undefined) return [400, badTime];
    const causes: { reason: string; message: string; field: string }[] = [];
    const required = (field: string) => {
      const value = event[field];
      if (typeof value !== 'string' || value === '')
        causes.push({ reason: 'FieldValueRequired', message: 'Required value', field });
    };
    required('eventTime');
    // The real server checks these only when eventTime is set (08i against 08n).
    if (event.eventTime !== undefined) {
      for (const field of ['reportingController', 'reportingInstance', 'action', 'reason'])
        required(field);
    }
    if (event.type !== 'Normal' && event.type !== 'Warning') {
      causes.push({
        reason: 'FieldValueInvalid',
        message: `Invalid value: "": has invalid value: ${String(event.type)}`,
        field: 'type',
      });
    }
    if (typeof event.note === 'string' && Buffer.byteLength(event.note) > 1024) {
      causes.push({
        reason: 'FieldValueTooLong',
        message: 'Too long: may not be longer than 1024',
        field: 'note',
      });
    }
    if (event.metadata?.namespace !== undefined && event.metadata.namespace !== namespace) {
      return [
        400,
        status(
          400,
          'the namespace of the provided object does not match the namespace sent on the request',
          'BadRequest',
        ),
      ];
    }
    if (causes.length > 0) {
      return [
        422,
        status(
          422,
          `Event "${name}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`,
          'Invalid',
          { name, kind: 'Event', causes },
        ),
      ];
    }
    const id = `${namespace}/${name}`;
    if (events.has(id)) {
      return [
        409,
        status(409, `events.events.k8s.io "${name}" already exists`, 'AlreadyExists', {
          name,
          group: 'events.k8s.io',
          kind: 'events',
        }),
      ];
    }
    const stored = {
      kind: 'Event',
      apiVersion: 'events.k8s.io/v1',
      ...event,
      metadata: {
        ...event.metadata,
        namespace,
        uid: randomUUID(),
        resourceVersion: String(++resourceVersion),
        creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      },
      deprecatedSource: {},
      deprecatedFirstTimestamp: null,
      deprecatedLastTimestamp: null,
    };
    events.set(id, stored);
    return [201, stored];
  }

  function patch(
    namespace: string,
    name: string,
    req: IncomingMessage,
    body: string,
  ): [number, unknown] {
    const id = `${namespace}/${name}`;
    const stored = events.get(id);
    if (stored === undefined) return notFound(name);
    const contentType = req.headers['content-type'] ?? '';
    let series: unknown;
    if (contentType === 'application/json-patch+json') {
      const operations = JSON.parse(body) as unknown;
      if (!Array.isArray(operations)) {
        return [
          400,
          status(
            400,
            'json: cannot unmarshal object into Go value of type jsonpatch.Patch',
            'BadRequest',
          ),
        ];
      }
      const op = (operations as { path?: unknown; value?: unknown }[]).find(
        (o) => o.path === '/series',
      );
      series = op?.value;
    } else if (
      contentType === 'application/strategic-merge-patch+json' ||
      contentType === 'application/merge-patch+json'
    ) {
      series = (JSON.parse(body) as { series?: unknown }).series;
    } else {
      return [
        415,
        status(415, `the body of the request was in an unknown format`, 'UnsupportedMediaType'),
      ];
    }
    const merged = { ...(stored.series as object | undefined), ...(series as object | undefined) };
    const badTime = timeProblem((merged as { lastObservedTime?: unknown }).lastObservedTime);
    if (badTime !== undefined) return [400, badTime];
    const updated = {
      ...stored,
      series: merged,
      metadata: {
        ...(stored.metadata as object),
        resourceVersion: String(++resourceVersion),
      },
    };
    events.set(id, updated);
    return [200, updated];
  }

  return {
    url,
    requests,
    events,
    get forbid() {
      return state.forbid;
    },
    set forbid(value: boolean) {
      state.forbid = value;
    },
    get hang() {
      return state.hang;
    },
    set hang(value: boolean) {
      state.hang = value;
    },
    connection: () => connectionFor(url, caCert),
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}

/** A connection to a server at `url` with this helper's token; `url` need not be listening. */
export function connectionFor(url: string, caCert: string): ClusterConnection {
  return connectionFrom({ server: url, ca: Buffer.from(caCert), token: TOKEN });
}

function timeProblem(value: unknown): unknown {
  if (value === undefined || (typeof value === 'string' && MICRO_TIME.test(value)))
    return undefined;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  const tail = /(\.\d*)?Z$/.exec(text)?.[0] ?? text;
  return status(
    400,
    `Event in version "v1" cannot be handled as a Event: parsing time "${text}" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "${tail}" as ".000000"`,
    'BadRequest',
  );
}

function notFound(name: string): [number, unknown] {
  return [
    404,
    status(404, `events.events.k8s.io "${name}" not found`, 'NotFound', {
      name,
      group: 'events.k8s.io',
      kind: 'events',
    }),
  ];
}

function status(code: number, message: string, reason?: string, details?: unknown): unknown {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    ...(reason === undefined ? {} : { reason }),
    ...(details === undefined ? {} : { details }),
    code,
  };
}

function send(res: ServerResponse, code: number, payload: unknown): void {
  if (typeof payload === 'string') {
    res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(payload);
    return;
  }
  res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-cache, private' });
  res.end(JSON.stringify(payload));
}
