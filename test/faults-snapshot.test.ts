// Faults in where desired state comes from, injected for real: a commit that suddenly drops most
// objects, a cache that cannot be written, and the metrics that must show both. Each time the
// last good snapshot keeps deciding. (Broken YAML, a hung renderer, a hung or unreachable Git
// server and a restart without Git are proven in test/desired/git-provider.test.ts.)
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../src/admission/metrics.js';
import { errorCodes } from '../src/desired/errors.js';
import { createGitProvider, type GitProviderOptions } from '../src/desired/git-provider.js';
import {
  capturedManifests,
  captureLogger,
  sourceConfig,
  tempDir,
  type TestRepo,
} from './desired/git-fixture.js';
import { cleanedAfterEach } from './support/cleanups.js';

const fixture = (name: string): string => readFileSync(join(capturedManifests, name), 'utf8');
const FOUR = {
  'deploy-web.yaml': fixture('deploy-web.yaml'),
  'svc-web.yaml': fixture('svc-web.yaml'),
  'cm-web-config.yaml': fixture('cm-web-config.yaml'),
  'sa-web.yaml': fixture('sa-web.yaml'),
};

/** Faults injected over the whole file, for the README's figure. */
let faults = 0;
const { cleanups, repo } = cleanedAfterEach();

function provider(git: TestRepo, cacheDir: string, options: Partial<GitProviderOptions> = {}) {
  const log = captureLogger();
  const created = createGitProvider(
    {
      poll: false,
      sources: [sourceConfig({ repoURL: git.fileURL })],
      cacheDir,
      safety: { maxDeletionShare: 0.5, acceptDeletionsAt: null },
      ...options,
    },
    { logger: log.logger },
  );
  cleanups.push(() => created.stop());
  return { provider: created, log };
}

function cache(): string {
  const dir = tempDir('driftgate-cache-');
  cleanups.push(dir.cleanup);
  return dir.path;
}

describe('a render that drops most objects is held', () => {
  it('keeps serving, says so in status, log and metrics, and lets a later commit through', async () => {
    const git = repo();
    const good = git.commit(FOUR);
    const dir = cache();
    const { provider: gitProvider, log } = provider(git, dir);
    await gitProvider.start();
    const before = gitProvider.current();
    expect(before.size).toBe(4);

    // A path typo, a bad merge: three of four objects gone at once.
    faults += 1;
    const dropped = git.commit({
      'svc-web.yaml': null,
      'cm-web-config.yaml': null,
      'sa-web.yaml': null,
    });
    await gitProvider.refreshAll();
    expect(gitProvider.current()).toBe(before);
    const [status] = gitProvider.status();
    expect(status).toMatchObject({ commit: good, stale: true });
    expect(status?.lastError?.code).toBe(errorCodes.snapshotHeld);
    expect(status?.lastError?.message).toBe(
      `source shop: commit ${dropped.slice(0, 12)} would remove 3 of 4 objects (75%, more than safety.maxDeletionShare 50%); still serving commit ${good.slice(0, 12)}. To serve it, set safety.acceptDeletionsAt: ${dropped}`,
    );
    const held = log.lines().filter((line) => line.code === errorCodes.snapshotHeld);
    expect(held).toHaveLength(1);
    expect(held[0]).toMatchObject({ level: 50, commit: dropped, objectsLost: 3, objectsServed: 4 });
    const metrics = await createMetrics(gitProvider).registry.metrics();
    expect(metrics).toMatch(/driftgate_source_stale\{source="shop"\} 1/);
    expect(metrics).toMatch(
      /driftgate_source_last_error_timestamp_seconds\{source="shop",code="DRIFTGATE_ERR_SNAPSHOT_HELD"\} \d/,
    );

    // Polling the same commit again neither swaps it in nor logs it again.
    await gitProvider.refreshAll();
    expect(gitProvider.current()).toBe(before);
    expect(log.lines().filter((line) => line.code === errorCodes.snapshotHeld)).toHaveLength(1);

    // The fix: two of the three come back, one deletion of four is under the share.
    const fixed = git.commit({
      'svc-web.yaml': FOUR['svc-web.yaml'],
      'cm-web-config.yaml': FOUR['cm-web-config.yaml'],
    });
    await gitProvider.refreshAll();
    expect(gitProvider.current().size).toBe(3);
    expect(gitProvider.status()[0]).toMatchObject({ commit: fixed, stale: false, lastError: null });
  });

  it('counts an object dropped from a file that stays, read as a delta, as dropped', async () => {
    const git = repo();
    git.commit(FOUR);
    const { provider: gitProvider, log } = provider(git, cache(), {
      safety: { maxDeletionShare: 0.1, acceptDeletionsAt: null },
    });
    await gitProvider.start();
    const before = gitProvider.current();
    // Every file still listed, one of them now declaring nothing.
    faults += 1;
    const emptied = git.commit({ 'sa-web.yaml': '# moved elsewhere\n' });
    await gitProvider.refreshAll();
    expect(log.lines().filter((line) => line['msg'] === 'source rendered')).toHaveLength(1);
    expect(gitProvider.current()).toBe(before);
    expect(gitProvider.status()[0]?.lastError?.message).toContain(
      `commit ${emptied.slice(0, 12)} would remove 1 of 4 objects`,
    );
    // Edited back: served, and the counts the next commit is judged by are right.
    git.commit({ 'sa-web.yaml': FOUR['sa-web.yaml'], 'svc-web.yaml': `${FOUR['svc-web.yaml']}\n` });
    await gitProvider.refreshAll();
    expect(gitProvider.status()[0]?.lastError).toBeNull();
    const gone = git.commit({ 'cm-web-config.yaml': '# moved elsewhere\n' });
    await gitProvider.refreshAll();
    expect(gitProvider.status()[0]?.lastError?.message).toContain(
      `commit ${gone.slice(0, 12)} would remove 1 of 4 objects`,
    );
  });

  it('counts what a commit read as a delta drops as a full render counts it', async () => {
    const git = repo();
    // The Service declared twice: deleting one of its files drops no object.
    const good = git.commit({ ...FOUR, 'dup-svc.yaml': FOUR['svc-web.yaml'] });
    const safety = { safety: { maxDeletionShare: 0.1, acceptDeletionsAt: null } };
    const dir = cache();
    const { provider: gitProvider, log } = provider(git, dir, safety);
    await gitProvider.start();
    const commit = async (changes: Record<string, string | null>) => {
      const sha = git.commit(changes);
      await gitProvider.refreshAll();
      return sha;
    };
    const rendered = () => log.lines().filter((line) => line['msg'] === 'source rendered');

    // A Service file gone (the other declares it), a ConfigMap moved to another file.
    const moved = await commit({
      'svc-web.yaml': null,
      'cm-web-config.yaml': null,
      'nested/cm.yaml': FOUR['cm-web-config.yaml'],
    });
    expect(rendered().at(-1)).toMatchObject({ commit: moved, delta: true });
    expect(gitProvider.status()[0]).toMatchObject({ commit: moved, lastError: null });

    // One of four objects (four documents) gone, over 10%: held, as a full render would be.
    faults += 1;
    const dropped = await commit({ 'sa-web.yaml': null });
    const message = `source shop: commit ${dropped.slice(0, 12)} would remove 1 of 4 objects (25%, more than safety.maxDeletionShare 10%); still serving commit ${moved.slice(0, 12)}. To serve it, set safety.acceptDeletionsAt: ${dropped}`;
    expect(gitProvider.status()[0]?.lastError?.message).toBe(message);
    // From scratch: the served commit restored from disk, the new one rendered whole.
    await gitProvider.stop();
    const restarted = provider(git, dir, safety);
    await restarted.provider.start();
    await restarted.provider.refreshAll();
    expect(restarted.provider.status()[0]?.lastError?.message).toBe(message);
    expect(restarted.log.lines().some((line) => line['msg'] === 'source rendered')).toBe(false);
    expect(good).not.toBe(moved);
  });

  it('a restart serves the last render that was served, not the held one, until it is accepted', async () => {
    const git = repo();
    const good = git.commit(FOUR);
    const dir = cache();
    const first = provider(git, dir).provider;
    await first.start();
    faults += 1;
    const dropped = git.commit({
      'svc-web.yaml': null,
      'cm-web-config.yaml': null,
      'sa-web.yaml': null,
    });
    await first.refreshAll();
    await first.stop();

    // Restarted without Git: the persisted snapshot is the good commit's.
    const moved = `${git.bare}.moved`;
    execFileSync('mv', [git.bare, moved]);
    const offline = provider(git, dir).provider;
    await offline.start();
    expect(offline.current()).toMatchObject({ origin: 'restored', size: 4 });
    expect(offline.current().commits['shop']).toBe(good);
    await offline.stop();
    execFileSync('mv', [moved, git.bare]);

    // Restarted with Git but no acceptance: held again.
    const again = provider(git, dir).provider;
    await again.start();
    await again.refreshAll();
    expect(again.current().commits['shop']).toBe(good);
    expect(again.status()[0]?.lastError?.code).toBe(errorCodes.snapshotHeld);
    await again.stop();

    // Accepted by the admin in the config (a short SHA is enough): served and persisted.
    const accepted = provider(git, dir, {
      safety: { maxDeletionShare: 0.5, acceptDeletionsAt: dropped.slice(0, 12) },
    });
    await accepted.provider.start();
    await accepted.provider.refreshAll();
    expect(accepted.provider.current()).toMatchObject({ size: 1 });
    expect(accepted.provider.current().commits['shop']).toBe(dropped);
    expect(accepted.provider.status()[0]?.lastError).toBeNull();
    expect(accepted.log.lines().map((line) => line.msg)).toContain(
      'serving a render that drops many objects: its commit is safety.acceptDeletionsAt',
    );
  });

  it('maxDeletionShare 1 turns the guard off', async () => {
    const git = repo();
    git.commit(FOUR);
    const { provider: gitProvider } = provider(git, cache(), {
      safety: { maxDeletionShare: 1, acceptDeletionsAt: null },
    });
    await gitProvider.start();
    faults += 1;
    git.commit({
      'svc-web.yaml': null,
      'cm-web-config.yaml': null,
      'sa-web.yaml': null,
      'deploy-web.yaml': null,
    });
    await gitProvider.refreshAll();
    expect(gitProvider.current().size).toBe(0);
  });
});

describe('a cache that cannot be written', () => {
  it('keeps the last good snapshot when the snapshot file cannot be written', async () => {
    const git = repo();
    const good = git.commit(FOUR);
    const dir = cache();
    const { provider: gitProvider } = provider(git, dir);
    await gitProvider.start();
    const before = gitProvider.current();
    // The file's place is taken by a directory: every write into it fails, even as root.
    faults += 1;
    rmSync(join(dir, 'snapshots'), { recursive: true, force: true });
    writeFileSync(join(dir, 'snapshots'), 'not a directory');
    git.commit({ 'deploy-web.yaml': FOUR['deploy-web.yaml'].replace('web:1.4.2', 'web:2.0.0') });
    await gitProvider.refreshAll();
    expect(gitProvider.current()).toBe(before);
    expect(gitProvider.status()[0]).toMatchObject({ commit: good, stale: true });
    expect(gitProvider.status()[0]?.lastError?.message).toMatch(/ENOTDIR|EEXIST|not a directory/i);

    // Space again: the next refresh serves the new commit.
    rmSync(join(dir, 'snapshots'), { force: true });
    mkdirSync(join(dir, 'snapshots'));
    await gitProvider.refreshAll();
    expect(gitProvider.status()[0]).toMatchObject({ stale: false });
  });

  it('keeps serving when the disk is full (a file size limit in a child process)', () => {
    const git = repo();
    git.commit(FOUR);
    const dir = cache();
    const script = join(dir, 'full-disk.mts');
    // Rendering once to fill the cache, then the new commit under `ulimit -f 1`: any write past
    // 1 KiB fails with EFBIG, as writes fail with ENOSPC on a full disk.
    writeFileSync(
      script,
      `
import { createGitProvider } from ${JSON.stringify(join(import.meta.dirname, '../src/desired/git-provider.ts'))};
import pino from ${JSON.stringify(import.meta.resolve('pino'))};
process.on('SIGXFSZ', () => undefined);
const logger = pino({ level: 'silent' });
const provider = createGitProvider(
  { poll: false, restore: true, cacheDir: ${JSON.stringify(join(dir, 'cache'))},
    sources: [{ name: 'shop', repoURL: ${JSON.stringify(git.fileURL)}, revision: null, path: '.', namespace: 'shop', render: 'plain', command: [], pollIntervalMs: 30000, include: [], exclude: [], auth: null, syncIdentities: { users: [], groups: [] } }] },
  { logger },
);
await provider.start();
await provider.refreshAll();
const [status] = provider.status();
console.log(JSON.stringify({ size: provider.current().size, origin: provider.current().origin, commit: status.commit, error: status.lastError?.message ?? null }));
await provider.stop();
`,
    );
    const run = (limit: string) =>
      JSON.parse(
        execFileSync('bash', ['-c', `ulimit -f ${limit}; exec node --import tsx ${script}`], {
          cwd: join(import.meta.dirname, '..'),
          encoding: 'utf8',
          timeout: 60_000,
        }).trim(),
      ) as { size: number; origin: string; commit: string; error: string | null };
    const first = run('unlimited');
    expect(first).toMatchObject({ size: 4, origin: 'rendered', error: null });

    faults += 1;
    const next = git.commit({
      'deploy-web.yaml': FOUR['deploy-web.yaml'].replace('web:1.4.2', 'web:2.0.0'),
    });
    const full = run('1');
    // The restored snapshot is served; the new commit could not be checked out or persisted.
    expect(full).toMatchObject({ size: 4, origin: 'restored', commit: first.commit });
    expect(full.error).toMatch(/cannot check out|EFBIG|signal 25/);
    expect(full.commit).not.toBe(next);
  });
});

describe('figures', () => {
  it('counts the faults injected', () => {
    console.log(`faults-snapshot: ${faults} faults injected, each survived`);
    expect(faults).toBeGreaterThan(0);
  });
});
