// One GET of a JSON document from the API server, over node:https with the connection's TLS and
// credentials: a LIST, a discovery document, an OpenAPI document. And one write of a JSON body
// (POST, PUT, PATCH, DELETE) the same way, for the few objects driftgate itself keeps.
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { ClusterConnection } from './connection.js';

/** An answer other than 200, with the status the API server gave. */
export class ApiGetError extends Error {
  constructor(
    message: string,
    readonly statusCode: number | undefined,
    /** The API server's own explanation: a Status's message, else the start of the body. */
    readonly reason?: string,
  ) {
    super(message);
  }
}

export interface GetOptions {
  /** `application/json` unless said. */
  readonly accept?: string;
  readonly query?: Readonly<Record<string, string | undefined>>;
  readonly signal?: AbortSignal;
  /** How the request is named in errors: `LIST /apis/apps/v1/deployments`. Default `GET <path>`. */
  readonly describe?: string;
}

const TIMEOUT_MS = 30_000;
// An OpenAPI document of a large group is a few MB; nothing the API server sends is near this.
const MAX_BYTES = 256 * 1024 * 1024;

export async function getJson(
  connection: ClusterConnection,
  path: string,
  options: GetOptions = {},
): Promise<unknown> {
  return requestJson(connection, 'GET', path, undefined, options);
}

export interface SendOptions extends Omit<GetOptions, 'accept'> {
  /** `application/json` unless said: a PATCH names its kind of patch here. */
  readonly contentType?: string;
}

/**
 * One write: POST (create), PUT (replace, optimistic on metadata.resourceVersion), PATCH or DELETE.
 * Resolves with the object the API server answered; any status but 200, 201 or 202 rejects
 * with an ApiGetError carrying the status (409: a conflict or an object that already exists).
 */
export async function sendJson(
  connection: ClusterConnection,
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  path: string,
  body: unknown,
  options: SendOptions = {},
): Promise<unknown> {
  return requestJson(connection, method, path, body, {
    ...options,
    describe: options.describe ?? `${method} ${path}`,
  });
}

/**
 * The URL and options of one request to the API server: its path and query (unset values left
 * out), headers, and the connection's TLS and credentials.
 */
export async function apiRequest(
  connection: ClusterConnection,
  method: string,
  path: string,
  options: {
    readonly query?: Readonly<Record<string, string | undefined>>;
    readonly headers: Readonly<Record<string, string>>;
    readonly signal?: AbortSignal;
  },
): Promise<{ url: URL; request: RequestOptions }> {
  const url = new URL(connection.server + path);
  for (const [name, value] of Object.entries(options.query ?? {})) {
    if (value !== undefined) url.searchParams.set(name, value);
  }
  const request: RequestOptions = {
    method,
    headers: { ...options.headers },
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  };
  await connection.authenticate(request);
  return { url, request };
}

async function requestJson(
  connection: ClusterConnection,
  method: string,
  path: string,
  body: unknown,
  options: GetOptions & SendOptions,
): Promise<unknown> {
  const what = options.describe ?? `GET ${path}`;
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const { url, request } = await apiRequest(connection, method, path, {
    ...options,
    headers: {
      Accept: options.accept ?? 'application/json',
      ...(payload === undefined
        ? {}
        : {
            'Content-Type': options.contentType ?? 'application/json',
            'Content-Length': String(payload.length),
          }),
    },
  });
  return new Promise((resolve, reject) => {
    const sent = httpsRequest(url, request, (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BYTES) sent.destroy(new Error(`${what}: over ${MAX_BYTES} bytes`));
        else chunks.push(chunk);
      });
      response.on('error', reject);
      response.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const ok = method === 'GET' ? [200] : [200, 201, 202];
        if (!ok.includes(response.statusCode ?? 0)) {
          reject(
            new ApiGetError(
              `${what}: HTTP ${String(response.statusCode)}: ${statusMessage(body)}`,
              response.statusCode,
              statusMessage(body),
            ),
          );
          return;
        }
        try {
          resolve(JSON.parse(body));
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
    });
    sent.setTimeout(TIMEOUT_MS, () => sent.destroy(new Error(`${what}: timed out`)));
    sent.on('error', reject);
    sent.end(payload);
  });
}

/** The message of a Status body; an unknown API group answers text/plain. */
export function statusMessage(body: string): string {
  try {
    const status = JSON.parse(body) as { message?: unknown };
    if (typeof status.message === 'string') return status.message;
  } catch {
    // Not a Status.
  }
  return body.slice(0, 200).trim();
}
