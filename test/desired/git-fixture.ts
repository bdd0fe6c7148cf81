// Real Git for the desired-state tests: a bare repository in a temp dir, a working clone that
// commits and pushes to it, and `git daemon` serving it over git:// on 127.0.0.1.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, symlinkSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pino, { type Logger } from 'pino';
import type { HelmOptions, SourceConfig } from '../../src/config/config.js';
import { createGitProvider, type GitProviderOptions } from '../../src/desired/git-provider.js';

export const capturedManifests = join(
  import.meta.dirname,
  '..',
  'fixtures',
  'captured',
  'manifests',
);

const gitEnv = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.com',
};

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: gitEnv, encoding: 'utf8', timeout: 20_000 }).trim();
}

/** Files to write (string) or delete (null), relative to the repository root. */
export type FileChanges = Readonly<Record<string, string | null>>;

export interface TestRepo {
  /** Parent of the bare repository: the base path git daemon serves. */
  readonly base: string;
  readonly bare: string;
  readonly work: string;
  readonly fileURL: string;
  commit(changes: FileChanges, message?: string): string;
  symlink(path: string, target: string): string;
  tag(name: string, annotated?: boolean): void;
  /** Replaces the last commit with one holding `changes` and force-pushes it. */
  amendAndForcePush(changes: FileChanges): string;
  cleanup(): void;
}

export function createTestRepo(name = 'ops'): TestRepo {
  const root = mkdtempSync(join(tmpdir(), 'driftgate-repo-'));
  const base = join(root, 'served');
  const bare = join(base, `${name}.git`);
  const work = join(root, 'work');
  mkdirSync(base, { recursive: true });
  git(root, 'init', '--bare', '--quiet', '--initial-branch=main', bare);
  git(root, 'init', '--quiet', '--initial-branch=main', work);
  git(work, 'remote', 'add', 'origin', bare);

  const write = (changes: FileChanges): void => {
    for (const [path, content] of Object.entries(changes)) {
      const file = join(work, path);
      if (content === null) {
        rmSync(file, { force: true });
        continue;
      }
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, content);
    }
  };
  const commitAll = (message: string): string => {
    git(work, 'add', '-A');
    git(work, 'commit', '--quiet', '--allow-empty', '-m', message);
    return git(work, 'rev-parse', 'HEAD');
  };
  return {
    base,
    bare,
    work,
    fileURL: `file://${bare}`,
    commit(changes, message = 'change') {
      write(changes);
      const sha = commitAll(message);
      git(work, 'push', '--quiet', 'origin', 'HEAD:main');
      return sha;
    },
    symlink(path, target) {
      const file = join(work, path);
      mkdirSync(dirname(file), { recursive: true });
      symlinkSync(target, file);
      const sha = commitAll(`link ${path}`);
      git(work, 'push', '--quiet', 'origin', 'HEAD:main');
      return sha;
    },
    tag(tagName, annotated = false) {
      if (annotated) git(work, 'tag', '-a', '-m', tagName, tagName);
      else git(work, 'tag', tagName);
      git(work, 'push', '--quiet', 'origin', `refs/tags/${tagName}`);
    },
    amendAndForcePush(changes) {
      write(changes);
      git(work, 'add', '-A');
      git(work, 'commit', '--quiet', '--amend', '-m', 'rewritten');
      git(work, 'push', '--quiet', '--force', 'origin', 'HEAD:main');
      return git(work, 'rev-parse', 'HEAD');
    },
    cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

export interface GitDaemon {
  readonly port: number;
  url(repository: string): string;
  stop(): Promise<void>;
}

/** `git daemon` serving every repository under `base` on 127.0.0.1, ready when resolved. */
export async function startGitDaemon(base: string): Promise<GitDaemon> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    'git',
    [
      'daemon',
      '--export-all',
      '--reuseaddr',
      '--informative-errors',
      `--base-path=${base}`,
      '--listen=127.0.0.1',
      `--port=${port}`,
      base,
    ],
    { env: gitEnv, stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  // Bounded wait for the listening socket: 100 tries, 50 ms apart.
  for (let attempt = 0; attempt < 100 && !(await canConnect(port)); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (!(await canConnect(port))) {
    child.kill('SIGKILL');
    throw new Error(`git daemon did not listen on ${port}`);
  }
  return {
    port,
    url: (repository) => `git://127.0.0.1:${port}/${repository}`,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A TCP server that accepts git:// connections and never answers: a hung Git server. */
export async function startSilentServer(): Promise<{
  url: string;
  connections: () => number;
  stop: () => Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server: Server = createServer((socket) => {
    count += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    url: `git://127.0.0.1:${address.port}/hung.git`,
    connections: () => count,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    },
  };
}

export function tempDir(prefix: string): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return {
    path,
    cleanup: () => {
      rmSync(path, { recursive: true, force: true });
    },
  };
}

export function listDir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

/** A SourceConfig as validateConfig would produce it, with test-friendly overrides. */
export function sourceConfig(
  overrides: Partial<SourceConfig> & Pick<SourceConfig, 'repoURL'>,
): SourceConfig {
  return {
    name: 'shop',
    revision: null,
    path: '.',
    namespace: 'shop',
    render: 'plain',
    command: [],
    pollIntervalMs: 30_000,
    include: [],
    exclude: [],
    auth: null,
    syncIdentities: { users: [], groups: [] },
    ...overrides,
  };
}

/** Helm options as Argo CD's defaults leave them, with `overrides`. */
export function helmOptions(overrides: Partial<HelmOptions> = {}): HelmOptions {
  return {
    releaseName: 'shop-prod',
    namespace: 'shop',
    valueFiles: [],
    ignoreMissingValueFiles: false,
    values: null,
    parameters: [],
    skipCrds: false,
    skipSchemaValidation: false,
    kubeVersion: null,
    apiVersions: [],
    ...overrides,
  };
}

/** A pino logger whose lines the test can read. */
export function captureLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
  return {
    logger,
    lines: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

/** Polls an asynchronous condition every 25 ms until it holds or `timeoutMs` passes. */
export async function eventually(
  condition: () => Promise<boolean>,
  timeoutMs = 10_000,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return condition();
}

/** Polls `condition` every 25 ms until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return condition();
}

/**
 * A Git provider that does not poll, with a cache directory of its own unless given one and a
 * logger whose lines the test reads; `cleanups` stops it and removes the cache.
 */
export function testProvider(
  cleanups: (() => unknown)[],
  options: Omit<GitProviderOptions, 'cacheDir'> & { cacheDir?: string },
) {
  const cache = tempDir('driftgate-cache-');
  cleanups.push(cache.cleanup);
  const log = captureLogger();
  const cacheDir = options.cacheDir ?? cache.path;
  const created = createGitProvider({ poll: false, ...options, cacheDir }, { logger: log.logger });
  cleanups.push(() => created.stop());
  return { provider: created, cacheDir, log };
}
