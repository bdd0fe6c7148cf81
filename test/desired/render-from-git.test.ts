// A plain source's next commit is rendered from the files Git says changed, read from Git's
// objects, with no checkout: after each commit, what the provider serves must be what a
// provider rendering that commit from scratch serves, entry for entry and in the same order,
// and a change a checkout's walk would read differently must be rendered from a checkout.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { GitProviderOptions } from '../../src/desired/git-provider.js';
import { ParseWorkerPool } from '../../src/desired/parse-task.js';
import { defaultRenderLimits, renderChanges } from '../../src/desired/render.js';
import type { DesiredSnapshot } from '../../src/desired/snapshot.js';
import { capturedManifests, sourceConfig, testProvider } from './git-fixture.js';
import { cleanedAfterEach } from '../support/cleanups.js';

const template = readFileSync(join(capturedManifests, 'cm-web-config.yaml'), 'utf8');
const configMap = (name: string, value = 'one'): string =>
  template
    .replace('name: web-config', `name: ${name}`)
    .replace(/^data:$/m, `data:\n  value: ${value}`);

const { cleanups, repo } = cleanedAfterEach();

function provider(options: Omit<GitProviderOptions, 'cacheDir'>) {
  const { provider: created, log } = testProvider(cleanups, options);
  const rendered = () => log.lines().filter((line) => line['msg'] === 'source rendered');
  const swapped = () => log.lines().filter((line) => line['msg'] === 'desired snapshot swapped');
  return { provider: created, rendered, swapped };
}

/** Everything a decision reads, in the snapshot's order, plus the conflicts. */
function served(snapshot: DesiredSnapshot): unknown {
  return JSON.parse(
    JSON.stringify({ entries: [...snapshot.entries()], conflicts: snapshot.conflicts }),
  ) as unknown;
}

async function fromScratch(options: Omit<GitProviderOptions, 'cacheDir'>): Promise<unknown> {
  const full = provider(options);
  await full.provider.start();
  expect(full.rendered().at(-1)).toMatchObject({ readFrom: 'checkout', delta: false });
  return served(full.provider.current());
}

describe('a plain source rendered again from Git objects', () => {
  it('serves what a render from scratch serves after additions, edits, deletions and duplicates, in the walk order', async () => {
    const git = repo();
    // Names whose order differs between a sort of whole paths and the walk's sort of each
    // directory's entries: `a/` sorts before `a-b` in the walk and after it as a path.
    git.commit({
      'apps/a.yaml': configMap('a'),
      'apps/a/b.yaml': configMap('a-b-nested'),
      'apps/a-b.yaml': configMap('a-b'),
      'apps/B.yaml': configMap('upper-b'),
      'apps/z/y/x.json': JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'x', namespace: 'shop' },
      }),
      'apps/README.md': '# not a manifest\n',
      'apps/.hidden/h.yaml': configMap('hidden'),
      'other/outside.yaml': configMap('outside'),
    });
    const options = { sources: [sourceConfig({ repoURL: git.fileURL, path: 'apps' })] };
    const live = provider(options);
    await live.provider.start();

    const steps: Record<string, string | null>[] = [
      {
        'apps/a/a.yaml': configMap('a-a'),
        'apps/a0.yaml': configMap('a0'),
        'apps/Z.yml': configMap('upper-z'),
        'apps/a-b.yaml': configMap('a-b', 'two'),
        'apps/z/y/x.json': null,
        'apps/notes.txt': 'not a manifest either\n',
        'other/outside.yaml': configMap('outside', 'two'),
      },
      // The same ConfigMap in two files: the first in the walk's order is served, the other
      // is a conflict.
      { 'apps/a/dup.yaml': configMap('dup', 'nested'), 'apps/a-dup.yaml': configMap('dup', 'top') },
      { 'apps/a/dup.yaml': null, 'apps/deep/er/still.yaml': configMap('still') },
      // Renamed, content unchanged.
      { 'apps/a0.yaml': null, 'apps/renamed/a0.yaml': configMap('a0') },
    ];
    for (const [index, changes] of steps.entries()) {
      const commit = git.commit(changes);
      await live.provider.refreshAll();
      expect(live.rendered().at(-1), `step ${index + 1}`).toMatchObject({
        commit,
        readFrom: 'git',
        delta: true,
      });
      expect(served(live.provider.current()), `step ${index + 1}`).toEqual(
        await fromScratch(options),
      );
      // The duplicate of the second step is a conflict while both files hold it.
      expect(live.provider.current().conflicts).toHaveLength(index === 1 ? 1 : 0);
    }
  });

  it('derives the snapshot of a commit that edits objects in place from the one before, from the first commit on', async () => {
    const git = repo();
    git.commit({
      'apps/a.yaml': configMap('a'),
      'apps/b.yaml': configMap('b'),
      'apps/c/d.yaml': configMap('d'),
    });
    const options = { sources: [sourceConfig({ repoURL: git.fileURL, path: 'apps' })] };
    const live = provider(options);
    await live.provider.start();
    expect(live.swapped().at(-1)).toMatchObject({ derived: false });
    const steps: { changes: Record<string, string | null>; derived: boolean }[] = [
      // The first commit after a render of every file: its documents are the same objects.
      { changes: { 'apps/b.yaml': configMap('b', 'two') }, derived: true },
      {
        changes: { 'apps/a.yaml': configMap('a', 'two'), 'apps/c/d.yaml': configMap('d', 'two') },
        derived: true,
      },
      { changes: { 'apps/b.yaml': configMap('b', 'three') }, derived: true },
      // Objects added or gone change the keys: built whole.
      { changes: { 'apps/c/e.yaml': configMap('e') }, derived: false },
      { changes: { 'apps/a.yaml': null }, derived: false },
      { changes: { 'apps/b.yaml': configMap('b', 'four') }, derived: true },
    ];
    for (const [index, { changes, derived }] of steps.entries()) {
      const commit = git.commit(changes);
      const before = live.provider.current();
      await live.provider.refreshAll();
      expect(live.rendered().at(-1), `step ${index + 1}`).toMatchObject({ commit, delta: true });
      expect(live.swapped().at(-1), `step ${index + 1}`).toMatchObject({ derived });
      expect(live.provider.current().derivedFrom()?.snapshot, `step ${index + 1}`).toBe(
        derived ? before : undefined,
      );
      expect(served(live.provider.current()), `step ${index + 1}`).toEqual(
        await fromScratch(options),
      );
    }
  });

  it('renders from a checkout when a change is one a walk of files reads differently', async () => {
    const git = repo();
    git.commit({ 'apps/one.yaml': configMap('one'), 'shared/linked.yaml': configMap('linked') });
    const options = { sources: [sourceConfig({ repoURL: git.fileURL, path: 'apps' })] };
    const live = provider(options);
    await live.provider.start();

    // A symbolic link: the walk follows it to a file outside the changes.
    git.symlink('apps/link.yaml', '../shared/linked.yaml');
    await live.provider.refreshAll();
    expect(live.rendered().at(-1)).toMatchObject({ readFrom: 'checkout' });
    expect(served(live.provider.current())).toEqual(await fromScratch(options));
    expect(
      live.provider
        .current()
        .get({ group: '', kind: 'ConfigMap', namespace: 'shop', name: 'linked' }),
    ).toBeDefined();
  });

  it('renders again a source whose directory lies under a link when only the target changes', async () => {
    const git = repo();
    git.commit({ 'real/sub/one.yaml': configMap('one', 'before') });
    git.symlink('apps', 'real');
    const live = provider({ sources: [sourceConfig({ repoURL: git.fileURL, path: 'apps/sub' })] });
    await live.provider.start();
    const one = { group: '', kind: 'ConfigMap', namespace: 'shop', name: 'one' };
    expect(live.provider.current().get(one)?.object).toMatchObject({ data: { value: 'before' } });

    // Git lists the change under real/: nothing under apps/sub changed by name.
    const commit = git.commit({ 'real/sub/one.yaml': configMap('one', 'after') });
    await live.provider.refreshAll();
    expect(live.rendered().at(-1)).toMatchObject({ commit, readFrom: 'checkout' });
    expect(live.provider.current().get(one)?.object).toMatchObject({ data: { value: 'after' } });
  });

  it('a kustomization appearing makes the source another kind: never read as plain files', async () => {
    const git = repo();
    git.commit({ 'apps/one.yaml': configMap('one') });
    const live = provider({ sources: [sourceConfig({ repoURL: git.fileURL, path: 'apps' })] });
    await live.provider.start();
    const commit = git.commit({
      'apps/kustomization.yaml': 'resources: [one.yaml]\nnamePrefix: prefixed-\n',
    });
    await live.provider.refreshAll();
    // Rendered by kustomize where it is installed, else failed for want of it: either way not
    // served as two plain files.
    const after = live.rendered().filter((line) => line['commit'] === commit);
    expect(after.filter((line) => line['readFrom'] === 'git')).toEqual([]);
  });

  it('fails as a render of a checkout fails: a file over the size limit, the directory gone', async () => {
    const git = repo();
    git.commit({ 'apps/one.yaml': configMap('one'), 'keep.txt': 'x\n' });
    const options = {
      sources: [sourceConfig({ repoURL: git.fileURL, path: 'apps' })],
      limits: { maxFileBytes: 4_096 },
    };
    const live = provider(options);
    await live.provider.start();
    const good = live.provider.current();

    git.commit({ 'apps/big.yaml': configMap('big', 'x'.repeat(5_000)) });
    await live.provider.refreshAll();
    const [tooLarge] = live.provider.status();
    expect(tooLarge?.lastError?.message).toContain('apps/big.yaml');
    expect(tooLarge?.lastError?.message).toContain('is larger than 4096 bytes');
    expect(live.provider.current()).toBe(good);

    git.commit({ 'apps/big.yaml': null, 'apps/one.yaml': null });
    await live.provider.refreshAll();
    const [gone] = live.provider.status();
    expect(gone?.lastError?.message).toContain('path apps');
    expect(live.provider.current()).toBe(good);
  });

  it('renders from a checkout when the persisted snapshot no longer holds the files a commit left unchanged', async () => {
    const git = repo();
    git.commit({ 'apps/one.yaml': configMap('one'), 'apps/two.yaml': configMap('two') });
    const options = { sources: [sourceConfig({ repoURL: git.fileURL, path: 'apps' })] };
    const { provider: live, cacheDir, log } = testProvider(cleanups, options);
    const rendered = () => log.lines().filter((line) => line['msg'] === 'source rendered');
    await live.start();

    const first = git.commit({ 'apps/one.yaml': configMap('one', 'two') });
    await live.refreshAll();
    expect(rendered().at(-1)).toMatchObject({ commit: first, readFrom: 'git', filesCopied: 1 });

    // The unchanged file's documents are in the snapshot file, which is replaced behind
    // driftgate's back: a commit read from Git cannot be completed from it.
    const snapshots = join(cacheDir, 'snapshots');
    const [file] = readdirSync(snapshots).filter((name) => name.endsWith('.json'));
    if (file === undefined) throw new Error(`no snapshot in ${snapshots}`);
    writeFileSync(join(snapshots, file), readFileSync(join(snapshots, file), 'utf8') + ' ');
    const second = git.commit({ 'apps/one.yaml': configMap('one', 'three') });
    await live.refreshAll();
    expect(rendered().at(-1)).toMatchObject({ commit: second, readFrom: 'checkout' });
    expect(served(live.current())).toEqual(await fromScratch(options));
  });

  it('reads nothing, and asks for a checkout, when the parser no longer holds the render the changes apply to', async () => {
    const parser = new ParseWorkerPool();
    cleanups.push(() => parser.close());
    const sent: unknown[] = [];
    const rendered = await renderChanges({
      source: sourceConfig({ name: 'shop', repoURL: 'file:///unused', path: 'apps' }),
      limits: defaultRenderLimits,
      persist: null,
      parser,
      onDocuments: (documents) => sent.push(...documents),
      token: 'next',
      base: 'a parse this worker never made',
      changed: [
        { path: 'apps/one.yaml', state: 'present', content: Buffer.from(configMap('one')) },
      ],
    });
    expect(rendered).toBeUndefined();
    expect(sent).toEqual([]);
  });
});
