// One read of the sources Argo CD Applications and Flux Kustomizations describe, for the
// one-shot commands (`driftgate scan`): serve's discovery watches and mapping, stopped once every
// watch has listed and the sources are published. A watch that fails ends it: a one-shot
// command reports what it cannot read instead of retrying as serve does.
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { defaults, type Config } from '../config/config.js';
import type { DiscoveryResult } from '../discovery/result.js';
import type { ClusterConnection } from './connection.js';
import { watchDiscovery } from './discovery-watch.js';
import { loadKubeConfigFile } from './kubeconfig.js';
import { describeError } from './watch.js';

/** Discovery could not read what it needs from the cluster (forbidden, not installed, down). */
export class DiscoveryReadError extends Error {
  readonly code = 'DRIFTGATE_ERR_DISCOVERY_READ';
}

export async function discoverOnce(
  connection: ClusterConnection,
  config: Config,
  options: { readonly cwd: string; readonly logger: Logger; readonly timeoutMs?: number },
): Promise<DiscoveryResult> {
  const { argocd, flux } = config.discovery;
  if (argocd === null && flux === null) return { sources: [], problems: [] };
  const hub =
    argocd?.hub == null
      ? undefined
      : await loadKubeConfigFile(
          resolve(options.cwd, argocd.hub.kubeconfigFile),
          'discovery.argocd.hub.kubeconfigFile',
        );
  const timeoutMs = options.timeoutMs ?? 60_000;
  let settle: { resolve: (r: DiscoveryResult) => void; reject: (e: Error) => void } | undefined;
  const result = new Promise<DiscoveryResult>((resolve, reject) => {
    settle = { resolve, reject };
  });
  const watch = watchDiscovery(
    connection,
    {
      argocd,
      flux,
      pollIntervalMs: defaults.pollIntervalMs,
      credentialsDir: resolve(options.cwd, config.cacheDir, 'credentials'),
    },
    {
      logger: options.logger,
      events: {
        started: () => undefined,
        synced: () => undefined,
        changed: () => undefined,
        relisted: () => undefined,
        failed: (name, error) => {
          settle?.reject(
            new DiscoveryReadError(`${name} could not be read: ${describeError(error)}`),
          );
        },
      },
      publish: (published) => settle?.resolve(published),
      debounceMs: 0,
      ...(hub === undefined ? {} : { argocdConnection: hub }),
    },
  );
  const timer = setTimeout(() => {
    settle?.reject(
      new DiscoveryReadError(`the sync tools' objects were not listed within ${timeoutMs / 1000}s`),
    );
  }, timeoutMs);
  try {
    return await result;
  } finally {
    clearTimeout(timer);
    await watch?.stop();
  }
}
