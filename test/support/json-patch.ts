// Applies an RFC 6902 patch as strictly as the API server does: a `remove` of a missing member
// or an `add` under a missing parent fails the whole request, so it fails here too.
import { unescapePointerToken } from '../../src/drift/path.js';
import type { JsonPatchOperation } from '../../src/policy/mutate.js';

export function applyPatch<T>(document: T, patch: readonly JsonPatchOperation[]): T {
  const result = structuredClone(document) as any;
  for (const operation of patch) {
    const tokens = operation.path.split('/').slice(1).map(unescapePointerToken);
    const last = tokens.pop();
    if (last === undefined) throw new Error(`cannot patch the root: ${operation.path}`);
    let parent = result;
    for (const token of tokens) {
      if (parent === null || typeof parent !== 'object' || !(token in parent)) {
        throw new Error(`${operation.op} ${operation.path}: parent does not exist`);
      }
      parent = parent[token];
    }
    if (parent === null || typeof parent !== 'object')
      throw new Error(`${operation.path}: parent is not an object`);
    if (operation.op === 'add') {
      parent[last] = operation.value;
    } else {
      if (!(last in parent)) throw new Error(`remove ${operation.path}: no such member`);
      delete parent[last];
    }
  }
  return result;
}
