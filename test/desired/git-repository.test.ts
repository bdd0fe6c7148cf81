// Checkouts of a real repository: a new commit turns an idle checkout into its own instead of
// writing every file again, and the result holds exactly that commit, whatever the old one held.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { GitRepository } from '../../src/desired/git-repository.js';
import { createTestRepo, git, type TestRepo } from './git-fixture.js';

/** Every file of a checkout but .git, with its content. */
function filesOf(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (relative: string): void => {
    for (const entry of readdirSync(join(dir, relative), { withFileTypes: true })) {
      if (entry.name === '.git') continue;
      const path = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else files[path] = readFileSync(join(dir, path), 'utf8');
    }
  };
  walk('');
  return files;
}

describe('GitRepository checkouts', () => {
  let repo: TestRepo;
  let cacheDir: string;
  afterEach(() => {
    repo.cleanup();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  const setUp = () => {
    repo = createTestRepo();
    cacheDir = mkdtempSync(join(tmpdir(), 'driftgate-cache-'));
    return new GitRepository({
      repoURL: repo.fileURL,
      cacheDir,
      auth: null,
      logger: pino({ level: 'silent' }),
      timeoutMs: 20_000,
    });
  };

  it('turns the idle checkout of the last commit into the next one, file for file', async () => {
    const repository = setUp();
    const first = repo.commit({
      'apps/a.yaml': 'a: 1\n',
      'apps/b.yaml': 'b: 1\n',
      'apps/gone.yaml': 'gone: 1\n',
    });
    await repository.fetch(null);
    const firstDir = await repository.checkout(first);
    // Whatever was left in the old checkout must not survive into the new one.
    writeFileSync(join(firstDir, 'apps', 'a.yaml'), 'edited in place\n');
    writeFileSync(join(firstDir, 'apps', 'stray.yaml'), 'untracked\n');

    const second = repo.commit({
      'apps/b.yaml': 'b: 2\n',
      'apps/gone.yaml': null,
      'apps/new/c.yaml': 'c: 1\n',
    });
    await repository.fetch(null);
    const secondDir = await repository.checkout(second);

    expect(existsSync(firstDir)).toBe(false);
    expect(filesOf(secondDir)).toEqual({
      'apps/a.yaml': 'a: 1\n',
      'apps/b.yaml': 'b: 2\n',
      'apps/new/c.yaml': 'c: 1\n',
    });
    expect(git(secondDir, 'rev-parse', 'HEAD')).toBe(second);
    expect(git(secondDir, 'status', '--porcelain')).toBe('');
    // And the commit it left can be checked out again, afresh.
    expect(filesOf(await repository.checkout(first))).toEqual({
      'apps/a.yaml': 'a: 1\n',
      'apps/b.yaml': 'b: 1\n',
      'apps/gone.yaml': 'gone: 1\n',
    });
  });

  it('never touches a checkout that is being read', async () => {
    const repository = setUp();
    const first = repo.commit({ 'apps/a.yaml': 'a: 1\n' });
    await repository.fetch(null);
    const firstDir = await repository.checkout(first);
    const second = repo.commit({ 'apps/a.yaml': 'a: 2\n' });
    await repository.fetch(null);

    const secondDir = await repository.checkout(second, () => new Set([first]));

    expect(filesOf(firstDir)).toEqual({ 'apps/a.yaml': 'a: 1\n' });
    expect(filesOf(secondDir)).toEqual({ 'apps/a.yaml': 'a: 2\n' });
    expect(git(firstDir, 'rev-parse', 'HEAD')).toBe(first);
  });

  it('removes the checkouts no render uses but the last one made, which the next checkout reuses', async () => {
    const repository = setUp();
    const commits: string[] = [];
    const dirs: string[] = [];
    // Three checkouts side by side: each is in use while the next is made.
    for (const n of [1, 2, 3]) {
      commits.push(repo.commit({ 'apps/a.yaml': `a: ${n}\n` }));
      await repository.fetch(null);
      dirs.push(await repository.checkout(commits.at(-1) ?? '', () => new Set(commits)));
    }
    const [first, second, third] = dirs;
    // Left from an interrupted checkout: not a worktree git knows.
    const interrupted = join(dirname(first ?? ''), 'f'.repeat(40));
    mkdirSync(join(interrupted, 'apps'), { recursive: true });

    await repository.removeCheckoutsExcept(() => new Set([commits[0] ?? '']));

    expect([first, second, third, interrupted].map((dir) => existsSync(dir ?? ''))).toEqual([
      true,
      false,
      true,
      false,
    ]);
    const worktrees = git(repository.dir, 'worktree', 'list', '--porcelain');
    expect(worktrees).toContain(first);
    expect(worktrees).toContain(third);
    expect(worktrees).not.toContain(second);

    const fourth = repo.commit({ 'apps/a.yaml': 'a: 4\n' });
    await repository.fetch(null);
    const fourthDir = await repository.checkout(fourth, () => new Set([commits[0] ?? '']));
    // The spare became the new checkout: moved, not written afresh beside it.
    expect(existsSync(third ?? '')).toBe(false);
    expect(filesOf(fourthDir)).toEqual({ 'apps/a.yaml': 'a: 4\n' });
  });

  it('tells what changed between two commits and reads it from Git objects with one process', async () => {
    const repository = setUp();
    const first = repo.commit({ 'apps/a.yaml': 'a: 1\n', 'apps/gone.yaml': 'gone: 1\n' });
    await repository.fetch(null);
    // Bytes that are not UTF-8, a line feed at the end of the content and none: read as they are.
    const binary = Buffer.from([0xff, 0x00, 0x0a, 0x0a]);
    repo.commit({
      'apps/a.yaml': 'a: 2',
      'apps/gone.yaml': null,
      'apps/with space.yaml': binary.toString('latin1'),
    });
    writeFileSync(join(repo.work, 'apps', 'with space.yaml'), binary);
    const third = repo.commit({});
    expect(await repository.fetch(null)).toBe(third);

    const changes = await repository.changes(first, third);
    expect(changes?.map(({ path, mode }) => ({ path, mode }))).toEqual([
      { path: 'apps/a.yaml', mode: '100644' },
      { path: 'apps/gone.yaml', mode: '000000' },
      { path: 'apps/with space.yaml', mode: '100644' },
    ]);
    expect(await repository.changedFiles(first, third)).toEqual(changes?.map((c) => c.path));
    const [edited, gone, added] = changes ?? [];
    expect(gone?.object).toBe('0'.repeat(40));
    expect(edited?.object).toMatch(/^[0-9a-f]{40}$/);
    const objects = await repository.readObjects([
      edited?.object ?? '',
      added?.object ?? '',
      `${third}:apps`,
      `${third}:apps/not there.yaml`,
      `${third}:apps/gone.yaml`,
    ]);
    expect(objects.get(edited?.object ?? '')).toEqual({
      type: 'blob',
      content: Buffer.from('a: 2'),
    });
    expect(objects.get(added?.object ?? '')).toEqual({ type: 'blob', content: binary });
    expect(objects.get(`${third}:apps`)).toMatchObject({ type: 'tree' });
    expect(objects.get(`${third}:apps/not there.yaml`)).toBe('missing');
    expect(objects.get(`${third}:apps/gone.yaml`)).toBe('missing');
    await expect(repository.readObjects(['HEAD'])).rejects.toThrow(/full object names/);
  });
});
