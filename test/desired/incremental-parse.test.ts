// A new commit re-parses only the manifest files it changed: rendering real checkouts of
// successive commits of a real Git repository, counting the files parsed and comparing the
// documents with a parse from scratch.
import { randomUUID } from 'node:crypto';
import {
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RenderedDocument } from '../../src/desired/manifest-parser.js';
import { ParseWorkerPool } from '../../src/desired/parse-task.js';
import { applyDelta, defaultRenderLimits, renderSource } from '../../src/desired/render.js';
import { Slices } from '../../src/desired/slices.js';
import { capturedManifests, createTestRepo, git, sourceConfig } from './git-fixture.js';

const FILES = 40;
const template = readFileSync(join(capturedManifests, 'cm-web-config.yaml'), 'utf8');
const configMap = (index: number, value = 'one'): string =>
  template
    .replace(/^( {2}name: )(.+)$/m, `$1$2-${index}`)
    .replace(/^data:$/m, `data:\n  value: ${value}`);

/**
 * A repository, the parse workers a describe block starts (closed after it), and a checkout of
 * each commit in a directory of its own, as the provider makes one per commit.
 */
function gitRenderFixture() {
  const repo = createTestRepo();
  const pools: ParseWorkerPool[] = [];
  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.close()));
    repo.cleanup();
  });
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
  return { repo, pools, checkoutOf };
}

describe('incremental parse of a plain source', () => {
  const { repo, pools, checkoutOf } = gitRenderFixture();

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

describe('a commit rendered as a delta of the last render', () => {
  const { repo, pools, checkoutOf } = gitRenderFixture();

  const fromScratch = async (commit: string): Promise<RenderedDocument[]> => {
    const parser = new ParseWorkerPool();
    pools.push(parser);
    const documents: RenderedDocument[] = [];
    await renderSource({
      source: sourceConfig({ name: 'shop', repoURL: repo.fileURL, path: 'apps' }),
      checkout: checkoutOf(commit),
      workDir: join(repo.base, '..', 'render-work'),
      limits: defaultRenderLimits,
      persist: null,
      parser,
      onDocuments: (chunk) => documents.push(...chunk),
    });
    return documents;
  };

  /**
   * A render of `commit` given the files Git says changed since `base` (rendered before by the
   * same parser, its documents `held`): what crossed from the worker, and the documents once the
   * delta is applied.
   */
  const renderDelta = async (
    parser: ParseWorkerPool,
    base: string,
    held: readonly RenderedDocument[],
    commit: string,
  ) => {
    const sent: RenderedDocument[] = [];
    const changed = git(repo.work, 'diff', '--name-only', '--no-renames', base, commit)
      .split('\n')
      .filter((path) => path !== '');
    const outcome = await renderSource({
      source: sourceConfig({ name: 'shop', repoURL: repo.fileURL, path: 'apps' }),
      checkout: checkoutOf(commit),
      workDir: join(repo.base, '..', 'render-work'),
      limits: defaultRenderLimits,
      persist: null,
      parser,
      onDocuments: (chunk) => sent.push(...chunk),
      token: commit,
      delta: { base, changed },
    });
    const documents =
      outcome.delta === undefined
        ? sent
        : await applyDelta(held, sent, outcome.delta, new Slices(0, 3));
    return { outcome, sent, documents };
  };

  it('sends only the changed files of a commit, and the delta applied equals a full render', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < FILES; i++) files[`apps/cm-${i}.yaml`] = configMap(i);
    files['apps/several.yaml'] = [configMap(2000), configMap(2001)].join('---\n');
    const first = repo.commit(files);
    const parser = new ParseWorkerPool();
    pools.push(parser);
    const sent: RenderedDocument[] = [];
    await renderSource({
      source: sourceConfig({ name: 'shop', repoURL: repo.fileURL, path: 'apps' }),
      checkout: checkoutOf(first),
      workDir: join(repo.base, '..', 'render-work'),
      limits: defaultRenderLimits,
      persist: null,
      parser,
      onDocuments: (chunk) => sent.push(...chunk),
      token: first,
    });
    expect(sent).toHaveLength(FILES + 2);

    // One file edited, one added, one deleted, one renamed, a file of several documents given
    // a third one.
    const second = repo.commit({
      'apps/cm-3.yaml': configMap(3, 'two'),
      'apps/a-new.yaml': configMap(1000),
      'apps/cm-5.yaml': null,
      'apps/cm-6.yaml': null,
      'apps/renamed/cm-6.yaml': configMap(6),
      'apps/several.yaml': [configMap(2000), configMap(2001), configMap(2002)].join('---\n'),
    });
    const delta = await renderDelta(parser, first, sent, second);
    expect(delta.outcome.delta?.reread.toSorted()).toEqual([
      'apps/a-new.yaml',
      'apps/cm-3.yaml',
      'apps/renamed/cm-6.yaml',
      'apps/several.yaml',
    ]);
    // Only the documents of the files read again crossed: 1 + 1 + 1 + 3.
    expect(delta.sent.map((d) => d.name).toSorted()).toEqual(
      [1000, 3, 6, 2000, 2001, 2002].map((index) => `web-config-${index}`).toSorted(),
    );
    expect(delta.documents).toEqual(await fromScratch(second));

    // A file that now declares nothing, and a file of several documents cut to one.
    const third = repo.commit({
      'apps/cm-8.yaml': '# nothing here yet\n',
      'apps/several.yaml': configMap(2001),
    });
    const again = await renderDelta(parser, second, delta.documents, third);
    expect(again.sent.map((d) => d.name)).toEqual(['web-config-2001']);
    expect(again.documents).toEqual(await fromScratch(third));
    expect(again.documents.some((d) => d.file === 'apps/cm-8.yaml')).toBe(false);

    // Invalid YAML fails as a full render does; the next commit's delta is taken from the last
    // render that succeeded, which the caller still serves.
    const broken = repo.commit({ 'apps/cm-9.yaml': 'kind: [unclosed\n' });
    await expect(renderDelta(parser, third, again.documents, broken)).rejects.toThrow(
      /apps\/cm-9\.yaml/,
    );
    const fixed = repo.commit({
      'apps/cm-9.yaml': configMap(9, 'fixed'),
      'apps/cm-10.yaml': configMap(10, 'too'),
    });
    const after = await renderDelta(parser, third, again.documents, fixed);
    expect(after.outcome.delta?.reread.toSorted()).toEqual(['apps/cm-10.yaml', 'apps/cm-9.yaml']);
    expect(after.documents).toEqual(await fromScratch(fixed));
  });

  it("sends every document when its parse cache is not the delta's base, or the source renders as one text", async () => {
    const parser = new ParseWorkerPool();
    pools.push(parser);
    const base = repo.commit({ 'apps/cm-11.yaml': configMap(11, 'base') });
    const next = repo.commit({ 'apps/cm-11.yaml': configMap(11, 'next') });
    // A new parser (a restarted worker) holds no parse: the delta cannot be trusted.
    const cold = await renderDelta(parser, base, [], next);
    expect(cold.outcome.delta).toBeUndefined();
    expect(cold.sent).toEqual(await fromScratch(next));
    // Manifests rendered as one text (here after substitution) are all sent, whatever the delta.
    const substituted: RenderedDocument[] = [];
    const text = await renderSource({
      source: sourceConfig({
        name: 'shop',
        repoURL: repo.fileURL,
        path: 'apps',
        substitute: { unused: 'x' },
      }),
      checkout: checkoutOf(next),
      workDir: join(repo.base, '..', 'render-work'),
      limits: defaultRenderLimits,
      persist: null,
      parser,
      onDocuments: (chunk) => substituted.push(...chunk),
      token: next,
      delta: { base: next, changed: [] },
    });
    expect(text.delta).toBeUndefined();
    expect(substituted.map((d) => d.name)).toEqual((await fromScratch(next)).map((d) => d.name));
    // Its cache is now `next`'s; a delta said to be from `base` is refused too.
    const later = repo.commit({ 'apps/cm-12.yaml': configMap(12, 'later') });
    const wrongBase = await renderDelta(parser, base, [], later);
    expect(wrongBase.outcome.delta).toBeUndefined();
    expect(wrongBase.sent).toEqual(await fromScratch(later));
  });
});

describe('the persisted snapshot of a commit rendered after another', () => {
  const { repo, pools, checkoutOf } = gitRenderFixture();
  const snapshots = mkdtempSync(join(tmpdir(), 'driftgate-persisted-'));
  afterAll(() => {
    rmSync(snapshots, { recursive: true, force: true });
  });

  /**
   * Renders `commit` persisting it as the provider does: aside as a candidate, then renamed to
   * `served` (unless `hold`). Returns the render's outcome and the candidate's text.
   */
  const persisted = async (
    parser: ParseWorkerPool,
    commit: string,
    served: string,
    options: { base?: string; hold?: boolean; sent?: RenderedDocument[] } = {},
  ) => {
    const changed =
      options.base === undefined
        ? undefined
        : git(repo.work, 'diff', '--name-only', '--no-renames', options.base, commit)
            .split('\n')
            .filter((path) => path !== '');
    const candidate = `${served}.candidate`;
    const outcome = await renderSource({
      source: sourceConfig({ name: 'shop', repoURL: repo.fileURL, path: 'apps' }),
      checkout: checkoutOf(commit),
      workDir: join(repo.base, '..', 'render-work'),
      limits: defaultRenderLimits,
      persist: { file: candidate, header: { commit }, served },
      parser,
      onDocuments: (chunk) => options.sent?.push(...chunk),
      token: commit,
      ...(options.base === undefined || changed === undefined
        ? {}
        : { delta: { base: options.base, changed } }),
    });
    const text = readFileSync(candidate, 'utf8');
    if (options.hold === true) rmSync(candidate);
    else renameSync(candidate, served);
    return { outcome, text };
  };

  /** The snapshot file a new parser (nothing to copy from) writes for `commit`. */
  const writtenWhole = async (commit: string): Promise<string> => {
    const parser = new ParseWorkerPool();
    pools.push(parser);
    const served = join(snapshots, `whole-${commit}.json`);
    const { outcome, text } = await persisted(parser, commit, served);
    expect(outcome.copied).toBeUndefined();
    return text;
  };

  const start = () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < FILES; i++) files[`apps/cm-${i}.yaml`] = configMap(i);
    files['apps/several.yaml'] = [configMap(2000), configMap(2001)].join('---\n');
    files['apps/empty.yaml'] = '# nothing yet\n';
    return repo.commit(files);
  };

  it('copies the unchanged files and writes what a full write would, byte for byte', async () => {
    const first = start();
    const parser = new ParseWorkerPool();
    pools.push(parser);
    const served = join(snapshots, 'shop.json');
    const initial = await persisted(parser, first, served);
    expect(initial.text).toBe(await writtenWhole(first));

    // An edit, an added file (first in order), a deletion, a rename, a file given another
    // document, and an object moved from one file to another.
    const second = repo.commit({
      'apps/cm-3.yaml': configMap(3, 'two'),
      'apps/a-new.yaml': configMap(1000),
      'apps/cm-5.yaml': null,
      'apps/cm-6.yaml': null,
      'apps/renamed/cm-6.yaml': configMap(6),
      'apps/several.yaml': [configMap(2000), configMap(2001), configMap(2002)].join('---\n'),
      'apps/cm-7.yaml': null,
      'apps/cm-8.yaml': [configMap(8), configMap(7)].join('---\n'),
    });
    const delta = await persisted(parser, second, served, { base: first });
    expect(delta.outcome.delta).toBeDefined();
    expect(delta.outcome.copied).toBe(FILES - 5);
    expect(delta.text).toBe(await writtenWhole(second));

    // A file that comes to declare an object, another that comes to declare none.
    const third = repo.commit({
      'apps/empty.yaml': configMap(3000),
      'apps/cm-9.yaml': '# gone\n',
    });
    const again = await persisted(parser, third, served, { base: second });
    // Of the files that declare objects, all but cm-9 (cm-5, -6 and -7 went, two were added).
    expect(again.outcome.copied).toBe(FILES - 1);
    expect(again.text).toBe(await writtenWhole(third));
  });

  it.each([
    {
      name: 'missing',
      spoil: (file: string) => {
        rmSync(file);
      },
    },
    {
      name: 'replaced by other bytes',
      spoil: (file: string) => {
        writeFileSync(file, readFileSync(file, 'utf8').replaceAll('e', 'x'));
      },
    },
    {
      name: 'cut short',
      spoil: (file: string) => {
        truncateSync(file, 100);
      },
    },
  ])('writes the snapshot whole when the previous one is $name', async ({ spoil }) => {
    const first = repo.commit({ 'apps/cm-1.yaml': configMap(1, randomUUID()) });
    const parser = new ParseWorkerPool();
    pools.push(parser);
    const served = join(snapshots, `spoilt-${first}.json`);
    await persisted(parser, first, served);
    spoil(served);
    const second = repo.commit({ 'apps/cm-2.yaml': configMap(2, randomUUID()) });
    const next = await persisted(parser, second, served, { base: first });
    expect(next.outcome.delta).toBeDefined();
    expect(next.outcome.copied).toBeUndefined();
    expect(next.text).toBe(await writtenWhole(second));
  });

  it('sends the files a full render finds unchanged from the snapshot it wrote, or parses them again when that is gone', async () => {
    const first = start();
    const parser = new ParseWorkerPool();
    pools.push(parser);
    const served = join(snapshots, `full-${first}.json`);
    await persisted(parser, first, served);
    const expected: RenderedDocument[] = [];
    const whole = new ParseWorkerPool();
    pools.push(whole);
    await persisted(whole, first, join(snapshots, `full-whole-${first}.json`), { sent: expected });
    // The files that declare objects: their documents live in the snapshot, not the worker.
    const declaring = new Set(expected.map((document) => document.file)).size;

    // Rendered again in full (no delta): nothing parsed, every document sent as parsed.
    const again: RenderedDocument[] = [];
    const reread = await persisted(parser, first, served, { sent: again });
    expect(reread.outcome.parsed).toBe(0);
    expect(again).toEqual(expected);
    expect(reread.text).toBe(await writtenWhole(first));

    // The snapshot replaced by other bytes: the files whose documents it held are parsed again.
    writeFileSync(served, readFileSync(served, 'utf8').replaceAll('e', 'x'));
    const after: RenderedDocument[] = [];
    const reparsed = await persisted(parser, first, served, { sent: after });
    expect(reparsed.outcome.parsed).toBe(declaring);
    expect(after).toEqual(expected);
    expect(reparsed.text).toBe(await writtenWhole(first));
  });

  it('writes the snapshot whole after a render that was held back and never served', async () => {
    const first = repo.commit({ 'apps/cm-1.yaml': configMap(1, randomUUID()) });
    const parser = new ParseWorkerPool();
    pools.push(parser);
    const served = join(snapshots, `held-${first}.json`);
    await persisted(parser, first, served);
    const held = repo.commit({ 'apps/cm-2.yaml': configMap(2, randomUUID()) });
    await persisted(parser, held, served, { base: first, hold: true });
    const third = repo.commit({ 'apps/cm-3.yaml': configMap(3, randomUUID()) });
    // The served file is the first commit's, the parse cache the held one's: nothing to copy.
    const next = await persisted(parser, third, served, { base: held });
    expect(next.outcome.copied).toBeUndefined();
    expect(next.text).toBe(await writtenWhole(third));
  });
});
