// What the offline commands (`check`, `render`) share: the config file read as `serve` reads
// it, and every source rendered once, with no polling and nothing written to the cache.
import { resolve } from 'node:path';
import pino from 'pino';
import type { Config } from '../config/config.js';
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

export async function renderOnce(
  config: Config,
  cwd: string,
): Promise<{ snapshot: DesiredSnapshot; status: readonly SourceStatus[] }> {
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
  } finally {
    await provider.stop();
  }
  return { snapshot: provider.current(), status: provider.status() };
}
