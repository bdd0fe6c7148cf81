// A new commit re-parses only the manifest files it changed: rendering real checkouts of
// successive commits of a real Git repository, counting the files parsed and comparing the
// documents with a parse from scratch.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RenderedDocument } from '../../src/desired/manifest-parser.js';
import { ParseWorkerPool } from '../../src/desired/parse-task.js';
import { defaultRenderLimits, renderSource } from '../../src/desired/render.js';
import { capturedManifests, createTestRepo, git, sourceConfig } from './git-fixture.js';

const FILES = 40;
const template = readFileSync(join(capturedManifests, 'cm-web-config.yaml'), 'utf8');
const configMap = (index: number, value = 'one'): string =>
  template
    .replace(/^( {2}name: )(.+)$/m, `$1$2-${index}`)
    .replace(/^data:$/m, `data:\n  value: ${value}`);

describe('incremental parse of a plain source', () => {
  const repo = createTestRepo();
  const pools: ParseWorkerPool[] = [];
  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.close()));
    repo.cleanup();
  });

  /** A checkout of `commit` in a directory of its own, as the provider makes one per commit. */
  const checkouts = new Map<string, string>();
  const checkoutOf = (commit: string): string => {
    let dir = checkouts.get(commit);
    if (dir === undefined) {
      dir = join(repo.base, '..', `checkout-${commit}`);
      git(repo.work, 'worktree', 'add', '--quiet', '--detach', dir, commit);
      checkouts.set(commit, dir);
    }
    return dir;
  };

  const render = async (parser: ParseWorkerPool, commit: string) => {
    const documents: RenderedDocument[] = [];
    const files = await renderSource({
      source: sourceConfig({ name: 'shop', repoURL: repo.fileURL, path: 'apps' }),
      checkout: checkoutOf(commit),
      workDir: join(repo.base, '..', 'render-work'),
      limits: defaultRenderLimits,
      persist: null,
      parser,
      onDocuments: (chunk) => documents.push(...chunk),
    });
    return { files, documents };
  };

  const fromScratch = async (commit: string): Promise<RenderedDocument[]> => {
    const parser = new ParseWorkerPool();
    pools.push(parser);
    return (await render(parser, commit)).documents;
  };

  it('parses each changed or added file once and reuses the rest', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < FILES; i++) files[`apps/cm-${i}.yaml`] = configMap(i);
    const first = repo.commit(files);
    const parser = new ParseWorkerPool();
    pools.push(parser);

    const initial = await render(parser, first);
    expect(initial.files).toEqual({ parsed: FILES, reused: 0 });
    expect(initial.documents).toHaveLength(FILES);

    // One file edited, one added, one deleted, one renamed with its content unchanged (the
    // file name is part of each document, so it is parsed again).
    const second = repo.commit({
      'apps/cm-3.yaml': configMap(3, 'two'),
      'apps/cm-new.yaml': configMap(1000),
      'apps/cm-5.yaml': null,
      'apps/cm-6.yaml': null,
      'apps/renamed/cm-6.yaml': configMap(6),
    });
    const changed = await render(parser, second);
    expect(changed.files).toEqual({ parsed: 3, reused: FILES - 3 });
    expect(changed.documents).toEqual(await fromScratch(second));
    const edited = changed.documents.find((d) => d.file === 'apps/cm-3.yaml');
    expect(JSON.parse(edited?.json ?? '{}')).toMatchObject({ data: { value: 'two' } });
    expect(changed.documents.some((d) => d.file === 'apps/cm-5.yaml')).toBe(false);
  });

  it('keeps the last good parse as the base when a commit fails to parse', async () => {
    const parser = new ParseWorkerPool();
    pools.push(parser);
    const good = repo.commit({ 'apps/cm-7.yaml': configMap(7, 'before') });
    expect((await render(parser, good)).files.parsed).toBe(FILES);

    const broken = repo.commit({ 'apps/cm-8.yaml': 'kind: [unclosed\n' });
    await expect(render(parser, broken)).rejects.toThrow(/apps\/cm-8\.yaml/);

    const fixed = repo.commit({
      'apps/cm-8.yaml': configMap(8),
      'apps/cm-7.yaml': configMap(7, 'after'),
    });
    const after = await render(parser, fixed);
    // cm-7 changed since the last good parse; cm-8 is back to the content that parse saw.
    expect(after.files).toEqual({ parsed: 1, reused: FILES - 1 });
    expect(after.documents).toEqual(await fromScratch(fixed));
  });
});
