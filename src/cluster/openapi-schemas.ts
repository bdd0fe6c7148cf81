// The cluster's own OpenAPI v3 for the kinds the generated table does not describe: built-in
// groups it was not generated from (webhook configurations, StorageClasses, ...), aggregated
// APIs and custom resources. Read in the background; a decision never waits for it and, until
// a group-version is read, compares that kind without a schema, as before.
import type { Logger } from 'pino';
import { compactDefinitions, type OpenApiDocument } from '../drift/schema-compact.js';
import { builtinSchemas, SchemaSet, type KindSchema } from '../drift/schema.js';
import type { ClusterConnection } from './connection.js';
import { getJson } from './get-json.js';

export interface ClusterSchemas {
  /** The cluster's schema of a kind the generated table lacks; undefined until it is read. */
  schemaOf(apiVersion: string | undefined, kind: string): KindSchema | undefined;
  /** Reads the index again and every group-version whose document changed. */
  refresh(): Promise<void>;
  stop(): void;
}

interface OpenApiIndex {
  readonly paths?: Readonly<Record<string, { readonly serverRelativeURL?: string }>>;
}

const DEFAULT_INTERVAL_MS = 10 * 60_000;

export function watchClusterSchemas(
  connection: ClusterConnection,
  deps: {
    readonly logger: Logger;
    /** How often the index is read again (a new CRD version changes its document's hash). */
    readonly intervalMs?: number;
    /** Group-versions (`apps/v1`, `v1`) left to the generated table. */
    readonly covered?: ReadonlySet<string>;
  },
): ClusterSchemas {
  const covered = deps.covered ?? builtinSchemas.groupVersions();
  // Group-version → the document's URL (with its hash) and what was made of it.
  const loaded = new Map<string, { url: string; schemas: SchemaSet }>();
  let stopped = false;
  let running: Promise<void> | undefined;

  async function readAll(): Promise<void> {
    const index = (await getJson(connection, '/openapi/v3')) as OpenApiIndex;
    const wanted = new Map<string, string>();
    for (const [path, entry] of Object.entries(index.paths ?? {})) {
      const groupVersion = path === 'api/v1' ? 'v1' : path.startsWith('apis/') ? path.slice(5) : '';
      // `apis/<group>` alone is the group's index, not a document of kinds.
      if (!groupVersion.includes('/') && groupVersion !== 'v1') continue;
      if (covered.has(groupVersion) || entry.serverRelativeURL === undefined) continue;
      wanted.set(groupVersion, entry.serverRelativeURL);
    }
    for (const groupVersion of loaded.keys()) {
      if (!wanted.has(groupVersion)) loaded.delete(groupVersion);
    }
    for (const [groupVersion, url] of wanted) {
      if (stopped) return;
      if (loaded.get(groupVersion)?.url === url) continue;
      try {
        const document = (await getJson(connection, url)) as OpenApiDocument;
        const compact = compactDefinitions([document], { customResources: true });
        loaded.set(groupVersion, { url, schemas: new SchemaSet(compact) });
      } catch (error) {
        deps.logger.warn(
          { groupVersion, err: error instanceof Error ? error.message : String(error) },
          'could not read the OpenAPI schema of this group-version; its kinds are compared without it',
        );
      }
    }
  }

  function refresh(): Promise<void> {
    running ??= readAll()
      .catch((error: unknown) => {
        deps.logger.warn(
          { err: error instanceof Error ? error.message : String(error) },
          'could not read the OpenAPI index; kinds outside the built-in table are compared without a schema',
        );
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  void refresh();
  const timer = setInterval(() => void refresh(), deps.intervalMs ?? DEFAULT_INTERVAL_MS);
  timer.unref();

  return {
    schemaOf(apiVersion, kind) {
      if (apiVersion === undefined) return undefined;
      return loaded.get(apiVersion)?.schemas.schemaFor(apiVersion, kind);
    },
    refresh,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
