// A real driftgate for tests: the captured manifests committed to a real Git repository,
// served over HTTPS on 127.0.0.1 with a development certificate. Returns what a test needs.
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import type { Logger } from 'pino';
import type { ClusterConnection } from '../../src/cluster/connection.js';
import type { AdmissionRequest, AdmissionReview } from '../../src/kube/admission.js';
import type { JsonObject } from '../../src/kube/object.js';
import { join } from 'node:path';
import { validateConfig } from '../../src/config/config.js';
import { startDriftgate, type Driftgate } from '../../src/main.js';
import {
  capturedManifests,
  captureLogger,
  createTestRepo,
  tempDir,
  type TestRepo,
} from '../desired/git-fixture.js';
import { SHOP_MANIFESTS } from './policy.js';

export interface TestServer {
  readonly driftgate: Driftgate;
  readonly repo: TestRepo;
  /** The commit the manifests were pushed in. */
  readonly commit: string;
  /** Every line the server logged, parsed. */
  readonly logLines: () => Record<string, unknown>[];
  stop(): Promise<void>;
}

export async function startTestServer(
  options: {
    /** Captured manifests (by name) that Git holds under apps/shop. */
    readonly manifests?: readonly string[];
    /** Extra keys of the `shop` source. */
    readonly source?: Record<string, unknown>;
    readonly now?: () => Date;
    /** The cluster to watch (a fake API server's); none by default. */
    readonly connection?: ClusterConnection;
    /** More config keys, as in the file (`mode`, `listen`, `namespaces`…). */
    readonly config?: Record<string, unknown>;
    /** Where the server logs; by default every line is kept for `logLines`. */
    readonly logger?: Logger;
    /** Lines the log dropped, as serviceLog() counts them. */
    readonly droppedLogLines?: () => number;
    /** Wait before the first background scan (default 30 s, so most tests never scan). */
    readonly scanDelayMs?: number;
    /** How long a denial waits for Git to be fetched again (default 1 s). */
    readonly refreshWaitMs?: number;
    /** Runs once everything is started, just before the server listens. */
    readonly beforeServing?: () => void;
  } = {},
): Promise<TestServer> {
  const repo = createTestRepo();
  const manifests = options.manifests ?? SHOP_MANIFESTS;
  const commit = repo.commit(
    Object.fromEntries(
      manifests.map((name) => [
        `apps/shop/${name}.yaml`,
        readFileSync(join(capturedManifests, `${name}.yaml`), 'utf8'),
      ]),
    ),
    'shop manifests',
  );
  const cache = tempDir('driftgate-cache-');
  const result = validateConfig({
    cacheDir: cache.path,
    sources: [
      {
        name: 'shop',
        repoURL: repo.fileURL,
        revision: 'main',
        path: 'apps/shop',
        namespace: 'shop',
        ...options.source,
      },
    ],
    breakGlass: { groups: ['oncall'], ttl: '4h' },
    ...options.config,
  });
  if ('errors' in result) throw new Error(JSON.stringify(result.errors));
  const log = captureLogger();
  const driftgate = await startDriftgate(result.config, {
    logger: options.logger ?? log.logger,
    host: '127.0.0.1',
    port: 0,
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(options.droppedLogLines === undefined ? {} : { droppedLogLines: options.droppedLogLines }),
    connection: options.connection ?? null,
    watchTiming: { initialBackoffMs: 50, maxBackoffMs: 200 },
    ...(options.scanDelayMs === undefined ? {} : { scanDelayMs: options.scanDelayMs }),
    ...(options.refreshWaitMs === undefined ? {} : { refreshWaitMs: options.refreshWaitMs }),
    ...(options.beforeServing === undefined ? {} : { beforeServing: options.beforeServing }),
  });
  return {
    driftgate,
    repo,
    commit,
    logLines: log.lines,
    async stop() {
      await driftgate.stop();
      cache.cleanup();
      repo.cleanup();
    },
  };
}

/** POSTs one AdmissionReview to a webhook of a running driftgate and returns its response. */
export async function postReview(
  driftgate: Driftgate,
  webhook: 'validate' | 'mutate',
  request: AdmissionRequest,
): Promise<NonNullable<AdmissionReview['response']>> {
  const body = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request,
  });
  const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpsRequest(
      `${driftgate.url}/${webhook}?timeout=10s`,
      {
        method: 'POST',
        ca: driftgate.caCert,
        headers: { 'content-type': 'application/json' },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        });
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.end(body);
  });
  if (reply.status !== 200)
    throw new Error(`/${webhook} answered ${String(reply.status)}: ${reply.body}`);
  const review = JSON.parse(reply.body) as AdmissionReview;
  if (review.response?.uid !== request.uid) throw new Error(`/${webhook} answered another uid`);
  return review.response;
}

/** GETs a path of a running driftgate (metrics, health). */
export async function getText(
  driftgate: Driftgate,
  path: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${driftgate.url}${path}`,
      { ca: driftgate.caCert, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        });
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.end();
  });
}

/** The captured manifests as Git files under `apps/shop/`, keyed by path. */
export function shopFiles(): Record<string, string> {
  return Object.fromEntries(
    SHOP_MANIFESTS.map((name) => [
      `apps/shop/${name}.yaml`,
      readFileSync(join(capturedManifests, `${name}.yaml`), 'utf8'),
    ]),
  );
}

/**
 * A real driftgate with no sources of its own, discovering them from the (loopback) API server:
 * `discovery` is the config's `discovery` key.
 */
export async function startDiscoveringDriftgate(
  discovery: Record<string, unknown>,
  connection: ClusterConnection,
  logger: Logger = captureLogger().logger,
): Promise<{ driftgate: Driftgate; cacheDir: string; stop: () => Promise<void> }> {
  const cache = tempDir('driftgate-discovery-');
  const result = validateConfig({ cacheDir: cache.path, discovery });
  if ('errors' in result) throw new Error(JSON.stringify(result.errors));
  const driftgate = await startDriftgate(result.config, {
    logger,
    host: '127.0.0.1',
    port: 0,
    connection,
    watchTiming: { initialBackoffMs: 50, maxBackoffMs: 200 },
  });
  return {
    driftgate,
    cacheDir: cache.path,
    stop: async () => {
      await driftgate.stop();
      cache.cleanup();
    },
  };
}

/**
 * A synced Argo CD Application in `argocd` deploying `apps/shop` of `repoURL` at `revision` to
 * the namespace shop of this cluster (another with `destination`); `spec` adds to its spec.
 */
export function shopApplication(options: {
  readonly repoURL: string;
  readonly revision: string;
  readonly name?: string;
  readonly destination?: JsonObject;
  readonly spec?: JsonObject;
}): JsonObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: { name: options.name ?? 'shop', namespace: 'argocd' },
    spec: {
      project: 'default',
      source: { repoURL: options.repoURL, path: 'apps/shop', targetRevision: 'main' },
      destination: {
        ...(options.destination ?? { server: 'https://kubernetes.default.svc' }),
        namespace: 'shop',
      },
      ...options.spec,
    },
    status: { sync: { status: 'Synced', revision: options.revision } },
  };
}
