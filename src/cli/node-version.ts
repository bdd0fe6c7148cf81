// The Node.js version check `driftgate` runs before anything else: an older Node fails here with
// one line naming both versions, rather than later with a stack trace from a missing API.
// This module must itself load on old Node versions: plain syntax, no imports.

/**
 * Returns the one-line problem when `actual` (as in `process.versions.node`) does not satisfy
 * `required` (package.json `engines.node`, of the form `>=MAJOR[.MINOR[.PATCH]]`), or null.
 * A range in any other form is not judged here: npm reports it at install time.
 */
export function nodeVersionProblem(required: string, actual: string): string | null {
  const wanted = /^\s*>=\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*$/.exec(required);
  const found = /^v?(\d+)\.(\d+)\.(\d+)/.exec(actual);
  if (wanted === null || found === null) return null;
  const need = [wanted[1], wanted[2], wanted[3]].map((part) => Number(part ?? 0));
  const have = [found[1], found[2], found[3]].map(Number);
  for (let i = 0; i < 3; i++) {
    const [h, n] = [have[i] ?? 0, need[i] ?? 0];
    if (h > n) return null;
    if (h < n) {
      return `driftgate needs Node.js ${required.trim()}, this is Node.js ${actual.replace(/^v/, '')}`;
    }
  }
  return null;
}
