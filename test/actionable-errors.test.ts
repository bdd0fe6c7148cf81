// Errors a cluster admin meets first, said so they can act on them: a certificate file that is
// missing or unusable is one line naming the file; a driftgate that has not rendered Git yet
// says "no desired snapshot yet" in its log, its readiness probe and its warnings.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTls } from '../src/admission/server.js';
import { selfSignedForDevelopment } from '../src/certs/generate.js';
import { errorCodes } from '../src/desired/errors.js';
import { tempDir } from './desired/git-fixture.js';
import { review } from './support/fixtures.js';
import { getText, postReview, startTestServer, type TestServer } from './support/server.js';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('certificate files', () => {
  const dir = tempDir('driftgate-tls-');
  const generated = selfSignedForDevelopment();
  const files = {
    cert: join(dir.path, 'tls.crt'),
    key: join(dir.path, 'tls.key'),
    otherKey: join(dir.path, 'other.key'),
    missing: join(dir.path, 'missing.crt'),
    directory: join(dir.path, 'a-directory'),
    garbage: join(dir.path, 'garbage.key'),
  };
  beforeAll(() => {
    writeFileSync(files.cert, generated.cert);
    writeFileSync(files.key, generated.key);
    writeFileSync(files.otherKey, selfSignedForDevelopment().key);
    writeFileSync(files.garbage, 'not a key\n');
    mkdirSync(files.directory);
  });
  afterAll(() => {
    dir.cleanup();
  });

  it.each([
    {
      name: 'a missing certificate',
      cert: () => files.missing,
      key: () => files.key,
      message: () => `serving certificate ${files.missing}: cannot read it (no such file)`,
    },
    {
      name: 'a key path that is a directory',
      cert: () => files.cert,
      key: () => files.directory,
      message: () => `serving key ${files.directory}: cannot read it (is a directory)`,
    },
    {
      name: 'a key that is not PEM',
      cert: () => files.cert,
      key: () => files.garbage,
      message: () => `serving certificate and key ${files.cert} and ${files.garbage}: not usable (`,
    },
    {
      name: 'a key of another certificate',
      cert: () => files.cert,
      key: () => files.otherKey,
      message: () =>
        `serving certificate and key ${files.cert} and ${files.otherKey}: not usable (`,
    },
  ])('$name: a DRIFTGATE_ERR_TLS_FILE error naming the file', async ({ cert, key, message }) => {
    const error = await readTls({ kind: 'files', certFile: cert(), keyFile: key() }, null).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: errorCodes.tlsFile });
    expect((error as Error).message.startsWith(message())).toBe(true);
  });

  it('reads a good pair', async () => {
    const tls = await readTls({ kind: 'files', certFile: files.cert, keyFile: files.key }, null);
    expect(tls.cert).toBe(generated.cert);
  });

  it('driftgate serve with a missing certificate prints one line naming it, exit 2', () => {
    const config = join(dir.path, 'config.yaml');
    writeFileSync(
      config,
      [
        `cacheDir: ${join(dir.path, 'cache')}`,
        'listen:',
        `  certFile: ${files.missing}`,
        `  keyFile: ${files.key}`,
        'sources:',
        `  - { name: shop, repoURL: "file://${join(dir.path, 'no-repo')}", revision: main, path: ., namespace: shop }`,
        '',
      ].join('\n'),
    );
    const result = spawnSync(
      process.execPath,
      [
        '--import',
        import.meta.resolve('tsx'),
        join(root, 'src/cli.ts'),
        'serve',
        '--config',
        config,
      ],
      {
        cwd: dir.path,
        encoding: 'utf8',
        timeout: 30_000,
        env: { ...process.env, LOG_LEVEL: 'silent' },
      },
    );
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(
      `driftgate serve: serving certificate ${files.missing}: cannot read it (no such file)\n`,
    );
  });
});

describe('before Git is rendered: no desired snapshot yet', () => {
  let server: TestServer;
  beforeAll(async () => {
    // A source that cannot be fetched: the server starts, with nothing rendered.
    server = await startTestServer({
      source: { repoURL: 'file:///nonexistent/driftgate-repo.git' },
      config: { failureMode: 'open' },
    });
  });
  afterAll(async () => {
    await server.stop();
  });

  it('the readiness probe says so', async () => {
    expect(await getText(server.driftgate, '/readyz')).toEqual({
      status: 503,
      body: 'not ready: no desired snapshot yet\n',
    });
  });

  it('a write under failureMode open is allowed with a warning that says so, and the log too', async () => {
    const request = review('20-set-image-deployment-by-alice');
    const response = await postReview(server.driftgate, 'validate', request);
    expect(response.allowed).toBe(true);
    expect(response.warnings).toEqual([
      'driftgate: could not judge this write (no desired snapshot yet); allowed',
    ]);
    const logged = server.logLines().filter((line) => line.uid === request.uid);
    expect(logged.map((line) => line.msg)).toContain('could not decide: no desired snapshot yet');
    expect(JSON.stringify(logged)).not.toContain('internal error');
  });
});
