// The two review routes, served straight off node:http rather than through express: every API
// write in the cluster passes here, and express's router, body parser and response helpers cost
// about a quarter of a no-op server's time per review (BENCHMARKS.md). What they did for these
// routes is done here, in the same order: client certificate, content type, size limit, parse.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { AdmissionRequest, AdmissionResponse } from '../kube/admission.js';
import { FailClosed } from './handlers.js';
import type { Metrics } from './metrics.js';
import { MAX_REVIEW_BYTES, parseReview, review } from './review.js';

export type Webhook = 'validate' | 'mutate';

export interface ReviewRouteDeps {
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Refuse reviews from clients without a certificate the TLS layer verified. */
  readonly requireClientCertificate?: boolean;
}

/** The webhook a request is for, or undefined when it is not a review (`?timeout=10s` ignored). */
export function reviewWebhookOf(request: IncomingMessage): Webhook | undefined {
  if (request.method !== 'POST') return undefined;
  const url = request.url ?? '';
  const end = url.indexOf('?');
  const path = end === -1 ? url : url.slice(0, end);
  return path === '/validate' ? 'validate' : path === '/mutate' ? 'mutate' : undefined;
}

export function reviewRoute(
  webhook: Webhook,
  deps: ReviewRouteDeps,
  handle: (request: AdmissionRequest) => Promise<AdmissionResponse>,
): (req: IncomingMessage, res: ServerResponse) => void {
  // The histogram's series for this webhook, looked up once rather than by label on every review.
  const reviewSeconds = deps.metrics.reviewSeconds.labels({ webhook });
  const refuse = (res: ServerResponse, status: number, message: string): void => {
    deps.metrics.badRequests.inc({ webhook, status: String(status) });
    sendText(res, status, message);
  };
  return (req, res) => {
    const started = process.hrtime.bigint();
    if (deps.requireClientCertificate === true && !clientVerified(req)) {
      deps.logger.warn(
        {
          path: `/${webhook}`,
          remote: req.socket.remoteAddress,
          problem: (req.socket as Partial<TLSSocket>).authorizationError,
        },
        'review refused: no client certificate signed by listen.clientCAFile',
      );
      // Refused before the body is read; the rest of it is read and dropped.
      req.resume();
      refuse(res, 401, 'a client certificate signed by the CA in listen.clientCAFile is required');
      return;
    }
    if (!isJson(req.headers['content-type'])) {
      req.resume();
      refuse(res, 415, 'expected Content-Type: application/json');
      return;
    }
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
      // The API server never compresses a review.
      req.resume();
      refuse(res, 415, `unsupported Content-Encoding: ${encoding}`);
      return;
    }
    readBody(req, MAX_REVIEW_BYTES, (body) => {
      if (body === 'too large') {
        refuse(res, 413, `the body is larger than ${MAX_REVIEW_BYTES} bytes`);
        return;
      }
      const parsed = parseReview(body);
      if (!parsed.ok) {
        refuse(res, parsed.status, parsed.message);
        return;
      }
      let answer: Promise<AdmissionResponse>;
      try {
        answer = handle(parsed.request);
      } catch (error) {
        // Thrown before any promise: still an answer, never a crash of the process.
        answer = Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
      answer
        .then((response) => {
          sendJson(res, JSON.stringify(review(response)));
          reviewSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
        })
        .catch((error: unknown) => {
          if (error instanceof FailClosed) {
            sendText(res, 500, `driftgate could not judge this write: ${error.message}`);
            return;
          }
          deps.logger.error({ err: error, path: `/${webhook}` }, 'request failed');
          deps.metrics.badRequests.inc({ webhook, status: '500' });
          sendText(res, 500, 'internal error');
        });
    });
  };
}

function clientVerified(req: IncomingMessage): boolean {
  // A TLS socket once the server runs HTTPS; a plain socket has no `authorized`.
  return (req.socket as Partial<TLSSocket>).authorized === true;
}

/** `application/json`, with or without parameters, in any letter case (media types ignore it). */
function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const end = contentType.indexOf(';');
  const type = (end === -1 ? contentType : contentType.slice(0, end)).trim().toLowerCase();
  return type === 'application/json';
}

/**
 * Calls `done` once with the whole body, or with `too large` as soon as it passes `limit` (by
 * Content-Length before any byte, or while reading). A too large body is still read to its end
 * and dropped, so the client reads the 413 instead of a reset connection. A client that hangs
 * up mid-body gets no call: there is no one left to answer.
 */
function readBody(
  req: IncomingMessage,
  limit: number,
  done: (body: Buffer | 'too large') => void,
): void {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) {
    req.resume();
    done('too large');
    return;
  }
  const chunks: Buffer[] = [];
  let length = 0;
  let over = false;
  req.on('data', (chunk: Buffer) => {
    if (over) return;
    length += chunk.length;
    if (length > limit) {
      over = true;
      chunks.length = 0;
      done('too large');
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (!over) done(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length));
  });
}

function sendJson(res: ServerResponse, body: string): void {
  res.writeHead(200, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

function sendText(res: ServerResponse, status: number, message: string): void {
  const body = `${message}\n`;
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}
