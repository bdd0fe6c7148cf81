// A plain HTTPS client for tests that talk to a real driftgate: one request, the whole answer,
// a bounded wait. Also a raw TLS socket for what a well-behaved client would never send.
import { request as httpsRequest } from 'node:https';
import { connect, type TLSSocket } from 'node:tls';

export interface Reply {
  readonly status: number;
  readonly body: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

export interface SendOptions {
  readonly method?: string;
  readonly contentType?: string;
  readonly ca?: string | undefined;
  readonly cert?: string;
  readonly key?: string;
  readonly headers?: Record<string, string>;
  readonly timeoutMs?: number;
}

/** `body` as a list of chunks is sent as written, without a length (chunked encoding). */
export function send(
  url: string,
  body: string | Buffer | readonly Buffer[],
  options: SendOptions = {},
): Promise<Reply> {
  const method = options.method ?? 'POST';
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method,
        ...(options.ca === undefined ? {} : { ca: options.ca }),
        ...(options.cert === undefined ? {} : { cert: options.cert }),
        ...(options.key === undefined ? {} : { key: options.key }),
        headers: { 'content-type': options.contentType ?? 'application/json', ...options.headers },
        timeout: options.timeoutMs ?? 10_000,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            headers: res.headers,
          });
        });
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timed out')));
    if (method === 'GET') req.end();
    else if (Array.isArray(body)) {
      for (const chunk of body as readonly Buffer[]) req.write(chunk);
      req.end();
    } else req.end(body);
  });
}

/** A TLS connection to `url`'s host and port that the test writes to by hand. */
export function rawTls(url: string, ca: string | undefined): Promise<TLSSocket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(
      {
        host: hostname,
        port: Number(port),
        servername: 'localhost',
        ...(ca === undefined ? { rejectUnauthorized: false } : { ca }),
      },
      () => {
        resolve(socket);
      },
    );
    socket.once('error', reject);
  });
}

/** Resolves with everything the server sent and how long until it closed the connection. */
export function untilClosed(
  socket: TLSSocket,
  boundMs: number,
): Promise<{ text: string; closedAfterMs: number | null }> {
  const started = Date.now();
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text: Buffer.concat(chunks).toString('utf8'), closedAfterMs: null });
    }, boundMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({
        text: Buffer.concat(chunks).toString('utf8'),
        closedAfterMs: Date.now() - started,
      });
    });
  });
}
