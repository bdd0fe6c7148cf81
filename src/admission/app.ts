// The HTTP surface (DESIGN.md §5): where a request enters and its answer leaves. Every review
// with a uid gets a well-formed AdmissionReview; anything else gets a plain 4xx; an internal
// error a 500, so the webhook's failurePolicy decides. Reviews take the short way through
// review-route.ts; probes, metrics and Git push notifications go through express.
import type { RequestListener } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { mutateReview, NO_SNAPSHOT, validate, type WebhookDeps } from './handlers.js';
import type { Metrics } from './metrics.js';
import { reviewRoute, reviewWebhookOf } from './review-route.js';

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

export function createApp(deps: AppDeps): RequestListener {
  const reviews = {
    validate: reviewRoute('validate', deps, (request) => validate(request, deps)),
    mutate: reviewRoute('mutate', deps, (request) => Promise.resolve(mutateReview(request, deps))),
  };
  const app = operationsApp(deps);
  return (req, res) => {
    const webhook = reviewWebhookOf(req);
    if (webhook === undefined) app(req, res);
    else reviews[webhook](req, res);
  };
}

// A push notification is read only for its repository and ref.
const GIT_HOOK_MAX_BYTES = 1024 * 1024;

/** Everything but the reviews: probes, metrics, Git push notifications. */
function operationsApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok\n');
  });
  app.get('/readyz', (_req, res) => {
    const ready = deps.ready();
    res
      .status(ready ? 200 : 503)
      .type('text/plain')
      .send(ready ? 'ready\n' : `not ready: ${NO_SNAPSHOT}\n`);
  });
  app.get('/metrics', (_req, res, next) => {
    deps.metrics.registry
      .metrics()
      .then((text) => res.type(deps.metrics.registry.contentType).send(text))
      .catch(next);
  });
  app.post(
    '/hooks/git',
    express.raw({ type: () => true, limit: GIT_HOOK_MAX_BYTES }),
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
        ? `the body is larger than ${GIT_HOOK_MAX_BYTES} bytes`
        : status < 500
          ? 'the request could not be read'
          : 'internal error';
    res.status(status).type('text/plain').send(`${message}\n`);
  });
  return app;
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
