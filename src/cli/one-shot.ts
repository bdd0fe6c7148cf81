// What the offline commands (`check`, `render`) share: the config file read as `serve` reads
// it, and every source rendered once, with no polling and nothing written to the cache.
import { resolve } from 'node:path';
import pino from 'pino';
import type { Config, SourceConfig } from '../config/config.js';
import { loadConfig } from '../config/load-config.js';
import { isDriftgateError } from '../desired/errors.js';
import { createGitProvider } from '../desired/git-provider.js';
import type { SourceStatus } from '../desired/provider.js';
import type { DesiredSnapshot } from '../desired/snapshot.js';
import { UsageError } from './io.js';

export async function readConfig(file: string, cwd: string): Promise<Config> {
  try {
    return await loadConfig(resolve(cwd, file));
  } catch (error) {
    if (isDriftgateError(error)) throw new UsageError(error.message);
    throw error;
  }
}

/**
 * Every source rendered once: the config's, and `discovered` (from Argo CD or Flux, read by
 * the caller) as serve would render them.
 */
export async function renderOnce(
  config: Config,
  cwd: string,
  discovered: readonly SourceConfig[] = [],
): Promise<{
  snapshot: DesiredSnapshot;
  status: readonly SourceStatus[];
  sources: readonly SourceConfig[];
}> {
  const provider = createGitProvider(
    {
      sources: config.sources,
      cacheDir: resolve(cwd, config.cacheDir),
      poll: false,
      persist: false,
      restore: false,
    },
    // Problems are in the returned status; the log would only repeat them.
    { logger: pino({ level: 'silent' }) },
  );
  try {
    await provider.start();
    if (discovered.length > 0) await provider.setDiscoveredSources(discovered);
  } finally {
    await provider.stop();
  }
  return { snapshot: provider.current(), status: provider.status(), sources: provider.sources() };
}
