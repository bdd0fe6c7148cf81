// What `metadata.managedFields` says about an object: which fields each field manager owns
// (server-side apply's record, kept for every write). Used to ignore the fields of named
// managers, and to read what a sync tool last declared where Git cannot be rendered again.
import { isJsonObject, type KubeObject } from '../kube/object.js';
import { elementIdentity, fieldOf, itemsOf, type MergeKeys, type SchemaNode } from './schema.js';

// metadata.managedFields[].fieldsV1 is a trie: `f:<field>`, `k:<merge key JSON>`,
// `v:<value JSON>`, `i:<index>`, and `.` for "this node itself".
export type FieldsTrie = Readonly<Record<string, unknown>>;

/** One entry of `metadata.managedFields`, as far as driftgate reads it. */
export interface ManagedFieldsEntry {
  readonly manager: string;
  readonly operation: string;
  readonly subresource: string;
  readonly fields: FieldsTrie;
}

export function managedFieldsOf(object: KubeObject | null | undefined): ManagedFieldsEntry[] {
  const entries = object?.metadata?.managedFields;
  if (!Array.isArray(entries)) return [];
  const found: ManagedFieldsEntry[] = [];
  for (const entry of entries as unknown[]) {
    if (!isJsonObject(entry)) continue;
    const { manager, operation, subresource, fieldsV1 } = entry;
    if (typeof manager !== 'string' || !isJsonObject(fieldsV1)) continue;
    found.push({
      manager,
      operation: typeof operation === 'string' ? operation : '',
      subresource: typeof subresource === 'string' ? subresource : '',
      fields: fieldsV1,
    });
  }
  return found;
}

/** The tries of every entry of these managers (the main resource's and its subresources'). */
export function ownedFieldTries(owner: KubeObject, managers: ReadonlySet<string>): FieldsTrie[] {
  return managedFieldsOf(owner)
    .filter((entry) => managers.has(entry.manager))
    .map((entry) => entry.fields);
}

/**
 * Removes the leaves of the trie: a node with no children but `.` owns only the existence of a
 * map or list element, not the fields that other managers set inside it, so it is kept.
 */
export function removeOwned(
  value: unknown,
  trie: FieldsTrie,
  schema: SchemaNode | undefined,
): unknown {
  let result = value;
  for (const [token, child] of Object.entries(trie)) {
    if (token === '.' || !isJsonObject(child)) continue;
    const isLeaf = Object.keys(child).length === 0;
    if (token.startsWith('f:') && isJsonObject(result)) {
      const name = token.slice(2);
      if (!Object.hasOwn(result, name)) continue;
      if (isLeaf) {
        const { [name]: _removed, ...rest } = result;
        result = rest;
      } else {
        result = { ...result, [name]: removeOwned(result[name], child, fieldOf(schema, name)) };
      }
    } else if (Array.isArray(result)) {
      const list = result as unknown[];
      const index = findOwnedElement(list, token, schema?.keys);
      if (index === -1) continue;
      const copy = [...list];
      if (isLeaf) copy.splice(index, 1);
      else copy[index] = removeOwned(copy[index], child, itemsOf(schema));
      result = copy;
    }
  }
  return result;
}

/**
 * Only what the tries own of `value`: the fields, list elements (with their keys) and values
 * a manager set, as the object holds them now. Undefined where the object holds none of them.
 */
export function keepOwned(
  value: unknown,
  tries: readonly FieldsTrie[],
  schema: SchemaNode | undefined,
): unknown {
  if (tries.length === 0) return undefined;
  // A leaf (or `.` alone) owns the whole value here.
  if (tries.some((trie) => isLeafTrie(trie))) return value;
  if (isJsonObject(value)) {
    const kept: Record<string, unknown> = {};
    const names = new Set<string>();
    for (const trie of tries) {
      for (const token of Object.keys(trie)) if (token.startsWith('f:')) names.add(token.slice(2));
    }
    for (const name of names) {
      if (!Object.hasOwn(value, name)) continue;
      const children = tries.flatMap((trie) => {
        const child = trie[`f:${name}`];
        return isJsonObject(child) ? [child] : [];
      });
      const part = keepOwned(value[name], children, fieldOf(schema, name));
      if (part !== undefined) kept[name] = part;
    }
    return kept;
  }
  if (Array.isArray(value)) {
    const list = value as unknown[];
    const kept: unknown[] = [];
    const taken = new Set<number>();
    for (const trie of tries) {
      for (const [token, child] of Object.entries(trie)) {
        if (token === '.' || !isJsonObject(child)) continue;
        const index = findOwnedElement(list, token, schema?.keys);
        if (index === -1 || taken.has(index)) continue;
        taken.add(index);
        const element = list[index];
        const part = keepOwned(element, [child], itemsOf(schema));
        // A keyed element keeps its keys, so that it is still found by them.
        kept.push(withKeys(part, element, token));
      }
    }
    return kept;
  }
  return value;
}

function isLeafTrie(trie: FieldsTrie): boolean {
  for (const token in trie) if (token !== '.') return false;
  return true;
}

function withKeys(part: unknown, element: unknown, token: string): unknown {
  if (!token.startsWith('k:') || !isJsonObject(element)) return part;
  const keys: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(token.slice(2));
    if (isJsonObject(parsed)) for (const field of Object.keys(parsed)) keys[field] = element[field];
  } catch {
    return part;
  }
  return isJsonObject(part) ? { ...keys, ...part } : keys;
}

/**
 * Every field path a set of tries owns, spelled readably (`spec.template.spec.containers[name=app].image`):
 * to tell which fields changed hands between two versions of an object.
 */
export function ownedPaths(tries: readonly FieldsTrie[]): Set<string> {
  const paths = new Set<string>();
  const walk = (trie: FieldsTrie, prefix: string): void => {
    for (const [token, child] of Object.entries(trie)) {
      if (token === '.' || !isJsonObject(child)) continue;
      const path = prefix + stepOf(token, prefix === '');
      if (isLeafTrie(child)) paths.add(path);
      else walk(child, path);
    }
  };
  for (const trie of tries) walk(trie, '');
  return paths;
}

/**
 * The JSON pointer of each owned path (as `ownedPaths` spells it) in `object`, where the object
 * holds that field; list elements are found by their keys or values.
 */
export function ownedPointers(
  tries: readonly FieldsTrie[],
  object: unknown,
  schema: SchemaNode | undefined,
): Map<string, string> {
  const pointers = new Map<string, string>();
  const walk = (
    trie: FieldsTrie,
    prefix: string,
    value: unknown,
    pointer: string | undefined,
    node: SchemaNode | undefined,
  ): void => {
    for (const [token, child] of Object.entries(trie)) {
      if (token === '.' || !isJsonObject(child)) continue;
      const path = prefix + stepOf(token, prefix === '');
      let next: unknown;
      let at: string | undefined;
      let nextNode: SchemaNode | undefined;
      if (token.startsWith('f:')) {
        const name = token.slice(2);
        next = isJsonObject(value) ? value[name] : undefined;
        at = pointer === undefined || next === undefined ? undefined : `${pointer}/${escape(name)}`;
        nextNode = fieldOf(node, name);
      } else {
        const index = Array.isArray(value) ? findOwnedElement(value, token, node?.keys) : -1;
        next = index === -1 ? undefined : (value as unknown[])[index];
        at = pointer === undefined || index === -1 ? undefined : `${pointer}/${index}`;
        nextNode = itemsOf(node);
      }
      if (isLeafTrie(child)) {
        if (at !== undefined) pointers.set(path, at);
      } else {
        walk(child, path, next, at, nextNode);
      }
    }
  };
  for (const trie of tries) walk(trie, '', object, '', schema);
  return pointers;
}

function escape(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

function stepOf(token: string, first: boolean): string {
  const body = token.slice(2);
  if (token.startsWith('f:')) {
    return /^[A-Za-z_$][\w$-]*$/.test(body) ? `${first ? '' : '.'}${body}` : `[${body}]`;
  }
  if (token.startsWith('k:')) {
    try {
      const parsed: unknown = JSON.parse(body);
      if (isJsonObject(parsed)) {
        return `[${Object.entries(parsed)
          .map(
            ([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`,
          )
          .join(',')}]`;
      }
    } catch {
      // Spelled as it came.
    }
  }
  return `[${body}]`;
}

export function findOwnedElement(
  list: readonly unknown[],
  token: string,
  keys?: MergeKeys,
): number {
  const kind = token.slice(0, 2);
  const body = token.slice(2);
  if (kind === 'i:') return /^\d+$/.test(body) && Number(body) < list.length ? Number(body) : -1;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return -1;
  }
  if (kind === 'v:') return list.findIndex((element) => sameJson(element, parsed));
  if (kind !== 'k:' || !isJsonObject(parsed)) return -1;
  const keyFields = Object.keys(parsed);
  const effective: MergeKeys = keys ?? { fields: keyFields };
  const wanted = elementIdentity(parsed, effective);
  if (wanted === undefined) return -1;
  return list.findIndex((element) => elementIdentity(element, effective) === wanted);
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
