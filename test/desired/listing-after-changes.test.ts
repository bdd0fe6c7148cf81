// The listing of manifest files worked out from Git's changes alone must be the listing a walk
// of the changed directory gives: the same files, in the same order, under kubectl's rules and
// under Argo CD's (recursion, include and exclude globs).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ArgoCDRendering } from '../../src/config/config.js';
import { argoGlobMatch } from '../../src/desired/argocd-glob.js';
import {
  compareListingOrder,
  listingAfterChanges,
  listManifestFiles,
  type ManifestFileOptions,
} from '../../src/desired/manifest-parser.js';

const root = mkdtempSync(join(tmpdir(), 'driftgate-listing-'));
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

const BEFORE = [
  'apps/a.yaml',
  'apps/a/b.yaml',
  'apps/a-b.yaml',
  'apps/B.yaml',
  'apps/z/y/x.json',
  'apps/README.md',
  'apps/.hidden/h.yaml',
  'apps/lib.jsonnet',
  'apps/UPPER.YAML',
];
// Gone: a-b.yaml, z/y/x.json. New: files before, between and after the kept ones, at each depth.
const AFTER = [
  'apps/a.yaml',
  'apps/a/b.yaml',
  'apps/a/a.yaml',
  'apps/a0.yaml',
  'apps/B.yaml',
  'apps/Z.yml',
  'apps/0.yaml',
  'apps/README.md',
  'apps/.hidden/h.yaml',
  'apps/lib.jsonnet',
  'apps/UPPER.YAML',
  'apps/deep/er/still.json',
  'apps/notes.txt',
];

let trees = 0;
/** A directory holding `files`, as a checkout of a commit would. */
function tree(files: readonly string[]): string {
  const dir = join(root, `tree-${trees++}`);
  for (const file of files) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), 'kind: ConfigMap\n');
  }
  return dir;
}

const listed = (options: Omit<ManifestFileOptions, 'root'>, dir: string): string[] =>
  listManifestFiles({ ...options, root: dir }).map((file) => file.file);

const plain = (include: string[] = [], exclude: string[] = []) => ({
  directory: 'apps',
  include,
  exclude,
});
const argocd = (rendering: ArgoCDRendering) => ({
  ...plain(),
  argocd: rendering,
  argoGlobMatch,
});

describe('the listing after changes', () => {
  const before = tree(BEFORE);
  const after = tree(AFTER);
  // Every path in either tree: present when in the new one (an edit changes nothing here).
  const changed = new Map(
    [...new Set([...BEFORE, ...AFTER])].map((path) => [path, AFTER.includes(path)]),
  );

  it.each([
    ['every manifest file', plain()],
    ['include globs', plain(['a/**', '*.yml'])],
    ['exclude globs', plain([], ['**/b.yaml', '.hidden/**'])],
    [
      "Argo CD's rules, without recursion",
      argocd({ recurse: false, include: null, exclude: null }),
    ],
    ["Argo CD's rules, recursive", argocd({ recurse: true, include: null, exclude: null })],
    [
      "Argo CD's rules with include and exclude",
      argocd({ recurse: true, include: '{a/*,*.yaml}', exclude: 'a/b.yaml' }),
    ],
  ])('is what a walk lists: %s', (_, options) => {
    const expected = listed(options, after);
    expect(expected.length).toBeGreaterThan(0);
    expect(listingAfterChanges(listed(options, before), changed, { ...options, root: '' })).toEqual(
      expected,
    );
  });

  it('leaves the listing alone when only files outside the directory changed', () => {
    const options = plain();
    const listing = listed(options, before);
    const outside = new Map([
      ['other/new.yaml', true],
      ['appsy/new.yaml', true],
    ]);
    expect(listingAfterChanges(listing, outside, { ...options, root: '' })).toEqual(listing);
  });

  it("orders paths as the walk does: a directory's files where its name sorts", () => {
    const paths = ['a-b.yaml', 'a/b.yaml', 'a.yaml', 'B.yaml', 'a/a/z.yaml', 'a/a.yaml'];
    expect(paths.sort(compareListingOrder)).toEqual([
      'B.yaml',
      'a/a/z.yaml',
      'a/a.yaml',
      'a/b.yaml',
      'a-b.yaml',
      'a.yaml',
    ]);
  });
});
