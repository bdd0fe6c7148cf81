// The HTTP surface (DESIGN.md §5): where a request enters and its answer leaves. Every review
// with a uid gets a well-formed AdmissionReview; anything else gets a plain 4xx; an internal
// error a 500, so the webhook's failurePolicy decides.
import type { TLSSocket } from 'node:tls';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { AdmissionRequest, AdmissionResponse } from '../kube/admission.js';
import { FailClosed, mutateReview, validate, type WebhookDeps } from './handlers.js';
import type { Metrics } from './metrics.js';
import { MAX_REVIEW_BYTES, parseReview, review } from './review.js';

export interface GitHookResult {
  readonly status: number;
  readonly message: string;
}

export interface AppDeps extends WebhookDeps {
  readonly logger: Logger;
  readonly metrics: Metrics;
  /**
   * Answer reviews only from clients with a verified certificate (`listen.clientCAFile`): the
   * TLS layer asks for one and checks it against that CA, this refuses requests without one.
   */
  readonly requireClientCertificate?: boolean;
  /** Readiness: TLS loaded and a snapshot (fresh or restored) present. */
  readonly ready: () => boolean;
  /** Push notifications from Git hosting; absent when not configured. */
  readonly gitHook?: (input: {
    headers: Record<string, string | undefined>;
    rawBody: Buffer;
  }) => GitHookResult;
}

type Webhook = 'validate' | 'mutate';

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const body = express.raw({ type: () => true, limit: MAX_REVIEW_BYTES });

  app.post(
    '/validate',
    clientCertificate('validate', deps),
    body,
    reviewRoute('validate', deps, (request) => validate(request, deps)),
  );
  app.post(
    '/mutate',
    clientCertificate('mutate', deps),
    body,
    reviewRoute('mutate', deps, (request) => Promise.resolve(mutateReview(request, deps))),
  );

  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok\n');
  });
  app.get('/readyz', (_req, res) => {
    const ready = deps.ready();
    res
      .status(ready ? 200 : 503)
      .type('text/plain')
      .send(ready ? 'ready\n' : 'not ready: no desired snapshot yet\n');
  });
  app.get('/metrics', (_req, res, next) => {
    deps.metrics.registry
      .metrics()
      .then((text) => res.type(deps.metrics.registry.contentType).send(text))
      .catch(next);
  });
  app.post(
    '/hooks/git',
    express.raw({ type: () => true, limit: 1024 * 1024 }),
    (req, res, next) => {
      const hook = deps.gitHook;
      if (hook === undefined) {
        res.status(404).type('text/plain').send('no Git sources to refresh\n');
        return;
      }
      const headers: Record<string, string | undefined> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        headers[name] = Array.isArray(value) ? value.join(',') : value;
      }
      try {
        const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const result = hook({ headers, rawBody });
        res.status(result.status).type('text/plain').send(`${result.message}\n`);
      } catch (error) {
        next(error);
      }
    },
  );

  app.use((_req, res) => {
    res.status(404).type('text/plain').send('not found\n');
  });
  // Body-parser errors (too large, bad encoding) and anything thrown: never a crash, never a stack.
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = httpStatusOf(error);
    if (status >= 500) deps.logger.error({ err: error, path: req.path }, 'request failed');
    const message =
      status === 413
        ? `the body is larger than ${MAX_REVIEW_BYTES} bytes`
        : status < 500
          ? 'the request could not be read'
          : 'internal error';
    if (req.path === '/validate' || req.path === '/mutate') {
      deps.metrics.badRequests.inc({ webhook: req.path.slice(1), status: String(status) });
    }
    res.status(status).type('text/plain').send(`${message}\n`);
  });
  return app;
}

/**
 * Refuses, before its body is read, a review from a client the TLS layer did not verify. Only the
 * review routes: kubelet probes and Prometheus present no certificate, and /hooks/git has its own
 * HMAC check.
 */
function clientCertificate(webhook: Webhook, deps: AppDeps) {
  return (req: Request, res: Response, next: NextFunction): void => {
    // A TLS socket once the server runs HTTPS; plain sockets (tests of the app alone) have none.
    const socket = req.socket as Partial<Pick<TLSSocket, 'authorized' | 'authorizationError'>> &
      typeof req.socket;
    if (deps.requireClientCertificate !== true || socket.authorized === true) {
      next();
      return;
    }
    deps.metrics.badRequests.inc({ webhook, status: '401' });
    deps.logger.warn(
      {
        path: req.path,
        remote: req.socket.remoteAddress,
        problem: socket.authorizationError,
      },
      'review refused: no client certificate signed by listen.clientCAFile',
    );
    res
      .status(401)
      .type('text/plain')
      .send('a client certificate signed by the CA in listen.clientCAFile is required\n');
  };
}

function httpStatusOf(error: unknown): number {
  if (typeof error === 'object' && error !== null) {
    const status =
      (error as { status?: unknown; statusCode?: unknown }).status ??
      (error as { statusCode?: unknown }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 600) return status;
  }
  return 500;
}

function reviewRoute(
  webhook: Webhook,
  deps: AppDeps,
  handle: (request: AdmissionRequest) => Promise<AdmissionResponse>,
) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    const refuse = (status: number, message: string) => {
      deps.metrics.badRequests.inc({ webhook, status: String(status) });
      res.status(status).type('text/plain').send(`${message}\n`);
    };
    if (!req.is('application/json')) {
      refuse(415, 'expected Content-Type: application/json');
      return;
    }
    const parsed = parseReview(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
    if (!parsed.ok) {
      refuse(parsed.status, parsed.message);
      return;
    }
    handle(parsed.request)
      .then((response) => {
        res.status(200).json(review(response));
        deps.metrics.reviewSeconds.observe(
          { webhook },
          Number(process.hrtime.bigint() - started) / 1e9,
        );
      })
      .catch((error: unknown) => {
        if (error instanceof FailClosed) {
          res
            .status(500)
            .type('text/plain')
            .send(`driftgate could not judge this write: ${error.message}\n`);
          return;
        }
        next(error);
      });
  };
}
