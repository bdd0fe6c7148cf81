// The cluster's own OpenAPI v3 for kinds outside the generated table, read from a loopback API
// server that serves the documents a real v1.31 server served.
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { watchClusterSchemas, type ClusterSchemas } from '../src/cluster/openapi-schemas.js';
import { diff } from '../src/drift/diff.js';
import { manifest131, review131 } from './support/fixtures.js';
import { startFakeApiServer, type FakeApiServer } from './support/fake-apiserver.js';

const logger = pino({ level: 'silent' });
let api: FakeApiServer | undefined;
let schemas: ClusterSchemas | undefined;

afterEach(async () => {
  schemas?.stop();
  await api?.stop();
  api = undefined;
  schemas = undefined;
});

const fetched = (server: FakeApiServer) =>
  server.requests.filter((r) => r.path.startsWith('/openapi/v3/')).map((r) => r.path);

describe('the cluster OpenAPI schemas', () => {
  it('reads custom resources the table lacks, and leaves built-in groups to the table', async () => {
    api = await startFakeApiServer();
    schemas = watchClusterSchemas(api.connection(), { logger });
    await schemas.refresh();

    const widget = schemas.schemaOf('capture.example.com/v1', 'Widget');
    expect(widget?.storesAsWritten).toBe(true);
    expect(widget?.root.fields?.get('spec')?.type).toBe('struct');
    expect(schemas.schemaOf('apps/v1', 'Deployment')).toBeUndefined();
    expect(fetched(api)).toEqual(['/openapi/v3/apis/capture.example.com/v1']);
  });

  it("describes a built-in group from the cluster's document where the table lacks it", async () => {
    api = await startFakeApiServer();
    schemas = watchClusterSchemas(api.connection(), { logger, covered: new Set() });
    await schemas.refresh();

    const deployment = schemas.schemaOf('apps/v1', 'Deployment');
    expect(deployment?.storesAsWritten).toBe(false);
    const podSpec = deployment?.root.fields
      ?.get('spec')
      ?.fields?.get('template')
      ?.fields?.get('spec');
    expect(podSpec?.fields?.get('volumes')).toMatchObject({
      listType: 'map',
      keys: { fields: ['name'] },
    });
  });

  it("prunes what the cluster's published CRD schema does not name, as the API server did", async () => {
    api = await startFakeApiServer();
    schemas = watchClusterSchemas(api.connection(), { logger });
    await schemas.refresh();
    const stored = review131(
      '71b-apply-create-widget-unknown-field-validate-warn-by-argocd',
    ).object!;
    const schema = schemas.schemaOf('capture.example.com/v1', 'Widget')!;
    expect(diff(manifest131('widget-unknown-field'), stored, { schema })).toEqual([]);
    const resized = { ...stored, spec: { ...(stored.spec as object), size: 'large' } };
    expect(
      diff(manifest131('widget-unknown-field'), resized, { schema }).map((d) => d.path),
    ).toEqual(['spec.size']);
  });

  it('reads a document again only when its hash changes', async () => {
    api = await startFakeApiServer();
    schemas = watchClusterSchemas(api.connection(), { logger });
    await schemas.refresh();
    await schemas.refresh();
    expect(fetched(api)).toEqual(['/openapi/v3/apis/capture.example.com/v1']);
  });

  it('a server without OpenAPI leaves every kind to the table, without failing', async () => {
    api = await startFakeApiServer();
    schemas = watchClusterSchemas(api.connection({ token: 'wrong' }), { logger });
    await schemas.refresh();
    expect(schemas.schemaOf('capture.example.com/v1', 'Widget')).toBeUndefined();
  });
});
