// A private repository over HTTPS with username and password files, against a real Git
// smart-HTTP server (git http-backend behind TLS and Basic auth on 127.0.0.1). The server's
// certificate is signed by a private CA that git trusts only through GIT_SSL_CAINFO.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SourceAuth } from '../../src/config/config.js';
import { GitRepository } from '../../src/desired/git-repository.js';
import { DriftgateError, errorCodes } from '../../src/desired/errors.js';
import { startGitHttpsServer, type GitHttpsServer } from '../support/git-https.js';
import { createTestRepo, type TestRepo } from './git-fixture.js';

const USERNAME = 'driftgate-reader';
const PASSWORD = 'correct-horse-battery-staple';

describe('GitRepository over HTTPS with username and password files', () => {
  let repo: TestRepo;
  let server: GitHttpsServer;
  let dir: string;
  let usernameFile: string;
  let passwordFile: string;
  let savedCAInfo: string | undefined;

  beforeEach(async () => {
    savedCAInfo = process.env['GIT_SSL_CAINFO'];
    repo = createTestRepo('private');
    dir = mkdtempSync(join(tmpdir(), 'driftgate-https-auth-'));
    usernameFile = join(dir, 'username');
    passwordFile = join(dir, 'password');
    writeFileSync(usernameFile, `${USERNAME}\n`);
    writeFileSync(passwordFile, PASSWORD);
    server = await startGitHttpsServer({
      projectRoot: repo.base,
      username: USERNAME,
      password: PASSWORD,
    });
    process.env['GIT_SSL_CAINFO'] = server.caFile;
  });

  afterEach(async () => {
    if (savedCAInfo === undefined) delete process.env['GIT_SSL_CAINFO'];
    else process.env['GIT_SSL_CAINFO'] = savedCAInfo;
    await server.close();
    repo.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const repository = (auth: SourceAuth): GitRepository =>
    new GitRepository({
      repoURL: server.url('private.git'),
      cacheDir: mkdtempSync(join(dir, 'cache-')),
      auth,
      logger: pino({ level: 'silent' }),
      timeoutMs: 15_000,
    });

  const httpsAuth = (): SourceAuth => ({ kind: 'https', usernameFile, passwordFile });

  /** The rejection of `promise`, which must be a DriftgateError. */
  const failureOf = async (promise: Promise<unknown>): Promise<DriftgateError> => {
    const error = await promise.then(
      () => new Error('expected the fetch to fail'),
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(DriftgateError);
    return error as DriftgateError;
  };

  it('clones and checks out with the right username and password, then fetches a new commit', async () => {
    const first = repo.commit({ 'apps/web.yaml': 'replicas: 2\n' });
    const git = repository(httpsAuth());

    expect(await git.fetch(null)).toBe(first);
    const firstDir = await git.checkout(first);
    expect(readFileSync(join(firstDir, 'apps', 'web.yaml'), 'utf8')).toBe('replicas: 2\n');

    const second = repo.commit({ 'apps/web.yaml': 'replicas: 3\n', 'apps/db.yaml': 'db: 1\n' });
    expect(await git.fetch('main')).toBe(second);
    const secondDir = await git.checkout(second);
    expect(readFileSync(join(secondDir, 'apps', 'web.yaml'), 'utf8')).toBe('replicas: 3\n');
    expect(existsSync(join(secondDir, 'apps', 'db.yaml'))).toBe(true);

    // git asked without credentials first, was refused, then sent the files' username/password.
    expect(server.requests.refused).toBeGreaterThan(0);
    expect(server.requests.authenticated).toBeGreaterThan(0);
  });

  it('takes credential files named relative to the working directory, as the config may', async () => {
    const first = repo.commit({ 'apps/web.yaml': 'replicas: 2\n' });
    const git = repository({
      kind: 'https',
      usernameFile: relative(process.cwd(), usernameFile),
      passwordFile: relative(process.cwd(), passwordFile),
    });
    expect(await git.fetch(null)).toBe(first);
    expect(server.requests.authenticated).toBeGreaterThan(0);
  });

  it('a wrong password is a credentials error that shows neither the password nor the username', async () => {
    repo.commit({ 'apps/web.yaml': 'replicas: 2\n' });
    const wrongPassword = 'not-the-password-4242';
    writeFileSync(passwordFile, wrongPassword);

    const error = await failureOf(repository(httpsAuth()).fetch(null));
    expect(error.code).toBe(errorCodes.gitCredentials);
    expect(error.message).toContain('127.0.0.1');
    expect(error.message).not.toContain(wrongPassword);
    expect(error.message).not.toContain(PASSWORD);
    expect(error.message).not.toContain(USERNAME);
    expect(server.requests.authenticated).toBe(0);
    expect(server.requests.refused).toBeGreaterThan(0);
  });

  it('without GIT_SSL_CAINFO the private CA is not trusted and nothing reaches the server', async () => {
    repo.commit({ 'apps/web.yaml': 'replicas: 2\n' });
    delete process.env['GIT_SSL_CAINFO'];

    const error = await failureOf(repository(httpsAuth()).fetch(null));
    expect(error.code).toBe(errorCodes.gitFetch);
    expect(error.message).toMatch(/certificate/i);
    expect(server.requests).toEqual({ authenticated: 0, refused: 0 });
  });

  it('reads the credential files at each fetch: a rotated password works without a restart', async () => {
    const first = repo.commit({ 'apps/web.yaml': 'replicas: 2\n' });
    const git = repository(httpsAuth());
    expect(await git.fetch(null)).toBe(first);

    // The server now wants a new password; the mounted file still holds the old one.
    const rotated = 'rotated-password-2';
    server.setPassword(rotated);
    const second = repo.commit({ 'apps/web.yaml': 'replicas: 3\n' });
    const error = await failureOf(git.fetch(null));
    expect(error.code).toBe(errorCodes.gitCredentials);
    expect(error.message).not.toContain(rotated);

    // The Secret is updated: the same GitRepository picks the new content up at the next fetch.
    writeFileSync(passwordFile, `${rotated}\n`);
    expect(await git.fetch(null)).toBe(second);
    const checkout = await git.checkout(second);
    expect(readFileSync(join(checkout, 'apps', 'web.yaml'), 'utf8')).toBe('replicas: 3\n');
  });
});
