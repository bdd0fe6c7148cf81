// A real driftgate for tests: the captured manifests committed to a real Git repository,
// served over HTTPS on 127.0.0.1 with a development certificate. Returns what a test needs.
import { readFileSync } from 'node:fs';
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
  });
  if ('errors' in result) throw new Error(JSON.stringify(result.errors));
  const log = captureLogger();
  const driftgate = await startDriftgate(result.config, {
    logger: log.logger,
    host: '127.0.0.1',
    port: 0,
    ...(options.now === undefined ? {} : { now: options.now }),
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
