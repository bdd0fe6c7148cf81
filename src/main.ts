// Wiring only: builds the provider, the app and the HTTPS server from a validated config, and
// hands back a handle to stop them. Nothing here decides anything.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { createApp, type GitHookResult } from './admission/app.js';
import { createMetrics, registerOverrideMetric } from './admission/metrics.js';
import { readTls, startServer, type ServerTimeouts, type TlsSource } from './admission/server.js';
import type { DecisionLog } from './audit/log.js';
import type { ClusterWatch } from './cluster/cluster-facts.js';
import type { ClusterConnection } from './cluster/connection.js';
import type { DiscoveryWatch } from './cluster/discovery-watch.js';
import type { WatchEvents, WatchTiming } from './cluster/watch.js';
import { kubeConfigPresent } from './cluster/kubeconfig-present.js';
import { loadKubeConfigFile, resolveKubeConfig } from './cluster/kubeconfig.js';
import { discoveryProblemMetrics, watchMetrics } from './cluster/metrics.js';
import { defaults, type Config } from './config/config.js';
import { DriftgateError, errorCodes } from './desired/errors.js';
import { configCoverageWarnings, snapshotCoverageWarnings } from './config/coverage.js';
import { createGitProvider, type GitDesiredProvider } from './desired/git-provider.js';
import {
  noClusterFacts,
  withHelmReleases,
  type ClusterFacts,
  type HelmReleaseFacts,
} from './policy/facts.js';
import { indexSnapshotInSlices } from './policy/snapshot-index.js';
import type { BackgroundScan } from './scan/background.js';

export interface DriftgateOptions {
  readonly logger: Logger;
  /** Where decision lines go; `logger.info` when absent (serviceLog() makes both). */
  readonly decisionLog?: DecisionLog;
  /** Lines the log dropped because standard output did not drain, for /metrics. */
  readonly droppedLogLines?: () => number;
  /** Where to listen; defaults to all interfaces. Tests use 127.0.0.1. */
  readonly host?: string;
  /** Overrides `listen.port` (tests pass 0 for a free port). */
  readonly port?: number;
  /** Overrides the certificate files of the config. */
  readonly tls?: TlsSource;
  /** The clock of decisions and of the snapshot's age (tests move it forward). */
  readonly now?: () => Date;
  readonly facts?: () => ClusterFacts;
  /** Shorter limits on slow clients (tests). */
  readonly serverTimeouts?: Partial<ServerTimeouts>;
  /**
   * The cluster to watch; null watches none. Defaults to what `cluster.watch` finds: in-cluster
   * credentials or a kubeconfig.
   */
  readonly connection?: ClusterConnection | null;
  /** Backoff of the cluster watches (tests shorten it). */
  readonly watchTiming?: WatchTiming;
  /** Wait before the first background scan (tests shorten it; default 30 s). */
  readonly scanDelayMs?: number;
  /** How long a denial waits for Git to be fetched again first (tests on a busy machine lengthen it; default 1 s). */
  readonly refreshWaitMs?: number;
  /** Runs once everything is started, just before the server listens. */
  readonly beforeServing?: () => void;
}

export interface Driftgate {
  readonly url: string;
  /** The CA of the development certificate, when driftgate made one itself. */
  readonly caCert: string | undefined;
  readonly provider: GitDesiredProvider;
  stop(): Promise<void>;
}

export async function startDriftgate(
  config: Config,
  options: DriftgateOptions,
): Promise<Driftgate> {
  const { logger } = options;
  const now = options.now ?? (() => new Date());
  let caCert: string | undefined;
  let tls = options.tls;
  if (tls === undefined && config.listen.certFile !== null && config.listen.keyFile !== null) {
    tls = { kind: 'files', certFile: config.listen.certFile, keyFile: config.listen.keyFile };
  }
  if (tls === undefined) {
    logger.warn(
      'no listen.certFile/keyFile configured: serving a self-signed development certificate',
    );
    // Loaded only here: node-forge is some 10 MB resident that a pod with its certificate files
    // never needs.
    const { selfSignedForDevelopment } = await import('./certs/generate.js');
    const generated = selfSignedForDevelopment();
    caCert = generated.caCert;
    tls = { kind: 'memory', cert: generated.cert, key: generated.key };
  }

  const secretFile = config.hooks.git.secretFile;
  const hookSecret = secretFile === null ? null : await readSecret(secretFile);
  // The files are checked before Git is rendered, which can take minutes: a wrong path is
  // reported at once, naming the file.
  await readTls(tls, config.listen.clientCAFile);
  const provider = createGitProvider(
    { sources: config.sources, cacheDir: config.cacheDir, safety: config.safety },
    {
      logger,
      now: () => now().getTime(),
      prepare: (snapshot) => indexSnapshotInSlices(snapshot),
      ...(options.refreshWaitMs === undefined ? {} : { refreshWaitMs: options.refreshWaitMs }),
    },
  );
  await provider.start();
  // A config that reviews nothing looks exactly like one that works: say so, naming the key.
  for (const warning of [
    ...configCoverageWarnings(config),
    ...snapshotCoverageWarnings(
      config,
      [...provider.current().entries()].map((e) => e.key),
    ),
  ]) {
    logger.warn({ key: warning.path }, `config ${warning.path}: ${warning.message}`);
  }

  const gitHook = (input: {
    headers: Record<string, string | undefined>;
    rawBody: Buffer;
  }): GitHookResult => {
    const result = provider.handleGitPush(input, hookSecret);
    switch (result.kind) {
      case 'triggered':
        return {
          status: 202,
          message: `refreshing ${result.sources.join(', ')} for ${result.ref}`,
        };
      case 'ignored':
        return { status: 200, message: `ignored: ${result.reason}` };
      case 'unauthorized':
        return { status: 401, message: result.reason };
      case 'bad-request':
        return { status: 400, message: result.reason };
    }
  };

  const metrics = createMetrics(provider, options.droppedLogLines);
  const connection =
    options.connection === undefined ? await clusterConnection(config) : options.connection;
  const watchEvents = watchMetrics(metrics.registry);
  const cluster =
    connection === null || connection === undefined
      ? undefined
      : await startClusterWatch(connection, config, options, watchEvents);
  // Replaced whole on each change, as the snapshot is: a request sees one set or the other.
  let helmReleases: ReadonlyMap<string, HelmReleaseFacts> = new Map();
  const discovery = await startDiscovery(connection ?? null, config, options, {
    events: watchEvents,
    provider,
    registry: metrics.registry,
    helmReleases: (releases) => {
      helmReleases = new Map(releases.map((release) => [release.name, release]));
    },
  });
  if (cluster === undefined) {
    logger.info(
      'not watching a cluster (no kubeconfig or in-cluster credentials, or cluster.watch: false): HPAs, namespace labels and the kill switch are not seen, no Events are sent',
    );
  }
  const scan = await startScan(connection ?? null, cluster, config, options, {
    provider,
    registry: metrics.registry,
    now,
  });
  const events =
    connection === null || connection === undefined || !config.cluster.events
      ? undefined
      : (await import('./cluster/events.js')).createEventRecorder({
          connection,
          registry: metrics.registry,
          logger,
          now,
        });
  const clusterFacts =
    options.facts ?? (cluster === undefined ? () => noClusterFacts : () => cluster.facts());
  // Every review asks for the facts: the extended set is made once per change of either side
  // (the cluster's facts are one live object; the releases are replaced whole), not per review.
  let extended:
    { known: ClusterFacts; releases: typeof helmReleases; facts: ClusterFacts } | undefined;
  const facts = () => {
    const known = clusterFacts();
    if (helmReleases.size === 0) return known;
    if (extended?.known !== known || extended.releases !== helmReleases) {
      extended = { known, releases: helmReleases, facts: withHelmReleases(known, helmReleases) };
    }
    return extended.facts;
  };
  registerOverrideMetric(metrics.registry, () => facts().override);
  const app = createApp({
    config,
    provider,
    facts,
    ...(events === undefined ? {} : { events }),
    sources: () => provider.sources(),
    now,
    logger,
    ...(options.decisionLog === undefined ? {} : { decisionLog: options.decisionLog }),
    metrics,
    ready: () => provider.current().origin !== 'empty',
    gitHook,
    requireClientCertificate: config.listen.clientCAFile !== null,
  });
  options.beforeServing?.();
  const server = await startServer(app, {
    port: options.port ?? config.listen.port,
    ...(options.host === undefined ? {} : { host: options.host }),
    tls,
    clientCAFile: config.listen.clientCAFile,
    onCertificate: metrics.certificateLoaded,
    ...(options.serverTimeouts === undefined ? {} : { timeouts: options.serverTimeouts }),
    logger,
  });
  logger.info({ url: server.url, objects: provider.current().size }, 'driftgate is serving');
  return {
    url: server.url,
    caCert,
    provider,
    async stop() {
      await server.close();
      await scan?.stop();
      await events?.stop(5_000);
      await cluster?.stop();
      await discovery?.stop();
      await provider.stop();
    },
  };
}

/**
 * The cluster's credentials under `cluster.watch`. The Kubernetes client (some 60 MB resident
 * with its API models) is loaded only for credentials driftgate does not read itself (exec
 * plugins, auth providers…), by resolveKubeConfig.
 */
async function clusterConnection(config: Config): Promise<ClusterConnection | undefined> {
  if (!kubeConfigPresent(config.cluster.watch)) return undefined;
  return resolveKubeConfig(config.cluster.watch);
}

/** serve's background scan (`scan.enabled`): whenever the cluster is watched, unless turned off. */
async function startScan(
  connection: ClusterConnection | null,
  cluster: ClusterWatch | undefined,
  config: Config,
  options: DriftgateOptions,
  deps: {
    readonly provider: GitDesiredProvider;
    readonly registry: Registry;
    readonly now: () => Date;
  },
): Promise<BackgroundScan | undefined> {
  if (config.scan.enabled === false) return undefined;
  if (connection === null || cluster === undefined) {
    if (config.scan.enabled === 'auto') return undefined;
    throw new DriftgateError(
      errorCodes.config,
      'scan.enabled is true, but the cluster is not watched (no kubeconfig or in-cluster credentials, or cluster.watch: false)',
    );
  }
  const facts = options.facts ?? (() => cluster.facts());
  const { startBackgroundScan } = await import('./scan/background.js');
  return startBackgroundScan({
    connection,
    config,
    snapshot: () => deps.provider.current(),
    sources: () => deps.provider.sources(),
    facts,
    ready: () => Object.values(cluster.synced()).every(Boolean),
    registry: deps.registry,
    logger: options.logger,
    now: deps.now,
    ...(options.scanDelayMs === undefined ? {} : { initialDelayMs: options.scanDelayMs }),
  });
}

/** Watches the cluster; never waits for the watches to sync. */
async function startClusterWatch(
  connection: ClusterConnection,
  config: Config,
  options: DriftgateOptions,
  events: WatchEvents,
): Promise<ClusterWatch> {
  const { watchCluster } = await import('./cluster/cluster-facts.js');
  const { logger } = options;
  logger.info(
    { server: connection.server },
    'watching the cluster; until each watch has listed, decisions rest on Git alone',
  );
  return watchCluster(
    connection,
    { namespace: config.cluster.namespace, overrideConfigMap: config.override.configMap },
    {
      logger,
      events,
      ...(options.watchTiming === undefined ? {} : { timing: options.watchTiming }),
    },
  );
}

/** Argo CD and Flux discovery, when configured; it needs the cluster, so it fails without one. */
async function startDiscovery(
  connection: ClusterConnection | null,
  config: Config,
  options: DriftgateOptions,
  deps: {
    readonly events: WatchEvents;
    readonly provider: GitDesiredProvider;
    readonly registry: Registry;
    readonly helmReleases: (releases: readonly HelmReleaseFacts[]) => void;
  },
): Promise<DiscoveryWatch | undefined> {
  const { argocd, flux } = config.discovery;
  if (argocd === null && flux === null) return undefined;
  // Hub and spoke: Argo CD's objects are read on the hub, with the kubeconfig it was given for it.
  const hub =
    argocd?.hub == null
      ? undefined
      : await loadKubeConfigFile(argocd.hub.kubeconfigFile, 'discovery.argocd.hub.kubeconfigFile');
  const local = connection ?? (flux === null ? hub : undefined);
  if (local === undefined) {
    throw new DriftgateError(
      errorCodes.config,
      'discovery is configured, but there is no cluster to discover from (no kubeconfig or in-cluster credentials, or cluster.watch: false)',
    );
  }
  const { logger } = options;
  const { watchDiscovery } = await import('./cluster/discovery-watch.js');
  return watchDiscovery(
    local,
    {
      argocd,
      flux,
      pollIntervalMs: defaults.pollIntervalMs,
      // git runs in the clone's directory: the files it reads need absolute paths.
      credentialsDir: resolve(config.cacheDir, 'credentials'),
    },
    {
      logger,
      events: deps.events,
      // Rendering a discovered source fails or leaves files out as its Application's problem.
      problems: discoveryProblemMetrics(deps.registry, () => deps.provider.discoveryProblems()),
      publish: (result) => {
        deps.provider.setDiscoveredSources(result.sources).catch((error: unknown) => {
          logger.error({ err: error }, 'discovered sources could not be applied');
        });
      },
      releases: (result) => {
        deps.helmReleases(result.releases);
      },
      ...(options.watchTiming === undefined ? {} : { timing: options.watchTiming }),
      ...(hub === undefined ? {} : { argocdConnection: hub }),
    },
  );
}

async function readSecret(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new DriftgateError(
      errorCodes.config,
      `hooks.git.secretFile ${file}: cannot read it (${code === 'ENOENT' ? 'no such file' : code})`,
    );
  }
}
