// User ignore rules, written exactly as Argo CD's `ignoreDifferences`, applied as one more
// normaliser: the fields they name are removed from Git's side and from the object's side.
import { isJsonObject, type KubeObject, type ResourceKey } from '../kube/object.js';
import { ownedFieldTries, removeOwned } from './managed-fields.js';
import type { SchemaNode } from './schema.js';
import { memoized } from './memo.js';
import { parsePointer } from './path.js';

export interface IgnoreRule {
  readonly group?: string;
  readonly kind: string;
  readonly name?: string;
  readonly namespace?: string;
  readonly jsonPointers?: readonly string[];
  readonly jqPathExpressions?: readonly string[];
  readonly managedFieldsManagers?: readonly string[];
}

export interface RuleError {
  readonly path: string;
  readonly message: string;
}

const RULE_KEYS = new Set([
  'group',
  'kind',
  'name',
  'namespace',
  'jsonPointers',
  'jqPathExpressions',
  'managedFieldsManagers',
]);

/** Checks a list of rules as a user wrote it; `at` names where it came from in error paths. */
export function validateIgnoreRules(
  value: unknown,
  at: string,
): { readonly rules: IgnoreRule[]; readonly errors: RuleError[] } {
  const errors: RuleError[] = [];
  const rules: IgnoreRule[] = [];
  if (value === undefined || value === null) return { rules, errors };
  if (!Array.isArray(value)) {
    return { rules, errors: [{ path: at, message: 'must be a list of rules' }] };
  }
  value.forEach((item: unknown, index) => {
    const here = `${at}[${index}]`;
    if (!isJsonObject(item)) {
      errors.push({ path: here, message: 'must be a mapping' });
      return;
    }
    const before = errors.length;
    for (const key of Object.keys(item)) {
      if (!RULE_KEYS.has(key)) errors.push({ path: `${here}.${key}`, message: 'unknown key' });
    }
    for (const key of ['group', 'kind', 'name', 'namespace'] as const) {
      const field = item[key];
      if (field !== undefined && typeof field !== 'string') {
        errors.push({ path: `${here}.${key}`, message: 'must be a string' });
      }
    }
    if (typeof item.kind !== 'string' || item.kind === '') {
      errors.push({ path: `${here}.kind`, message: "required (use '*' for every kind)" });
    }
    for (const key of ['jsonPointers', 'jqPathExpressions', 'managedFieldsManagers'] as const) {
      const list = item[key];
      if (list === undefined) continue;
      if (!Array.isArray(list) || !list.every((entry) => typeof entry === 'string')) {
        errors.push({ path: `${here}.${key}`, message: 'must be a list of strings' });
      }
    }
    if (Array.isArray(item.jsonPointers)) {
      item.jsonPointers.forEach((pointer, i) => {
        if (typeof pointer === 'string' && parsePointer(pointer) === undefined) {
          errors.push({
            path: `${here}.jsonPointers[${i}]`,
            message: `'${pointer}' is not a JSON pointer (it must start with '/')`,
          });
        }
      });
    }
    if (Array.isArray(item.jqPathExpressions) && item.jqPathExpressions.length > 0) {
      errors.push({
        path: `${here}.jqPathExpressions`,
        message: 'not supported: rewrite the expression as jsonPointers or managedFieldsManagers',
      });
    }
    if (errors.length === before) rules.push(item as unknown as IgnoreRule);
  });
  return { rules, errors };
}

// Rules come from the config and are matched on every request: each pattern is compiled once.
const globRegex = memoized(
  (pattern: string) =>
    new RegExp(
      '^' +
        pattern
          .split('*')
          .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
          .join('.*') +
        '$',
    ),
  1_000,
);

function globMatch(pattern: string, value: string): boolean {
  if (pattern === '*') return true;
  if (!pattern.includes('*')) return pattern === value;
  return globRegex(pattern).test(value);
}

/** The rules that apply to an object. `group` and `kind` accept `*` wildcards. */
export function rulesFor(rules: readonly IgnoreRule[], key: ResourceKey): IgnoreRule[] {
  return rules.filter(
    (rule) =>
      globMatch(rule.group ?? '', key.group) &&
      globMatch(rule.kind, key.kind) &&
      (rule.name === undefined || rule.name === '' || rule.name === key.name) &&
      (rule.namespace === undefined || rule.namespace === '' || rule.namespace === key.namespace),
  );
}

/**
 * Removes what the rules name from each object. JSON pointers are resolved in each object on
 * its own (as Argo CD does); managed-fields rules remove, from every object, the fields that the
 * named managers own in `owner`'s `metadata.managedFields` (the object being judged).
 */
export function applyIgnoreRules<T extends readonly (KubeObject | undefined)[]>(
  rules: readonly IgnoreRule[],
  owner: KubeObject,
  schema: SchemaNode | undefined,
  objects: T,
): T {
  if (rules.length === 0) return objects;
  const pointers = rules.flatMap((rule) => rule.jsonPointers ?? []);
  const managers = new Set(rules.flatMap((rule) => rule.managedFieldsManagers ?? []));
  const owned = managers.size > 0 ? ownedFieldTries(owner, managers) : [];
  return objects.map((object) => {
    if (object === undefined) return undefined;
    let result: unknown = object;
    for (const pointer of pointers) {
      const tokens = pointerTokens(pointer);
      // Copy only when there is something to remove: most rules name fields most objects lack.
      if (tokens !== undefined && tokens.length > 0 && existsAt(result, tokens)) {
        result = removeAtPointer(result, tokens, 0);
      }
    }
    for (const trie of owned) result = removeOwned(result, trie, schema);
    return result as KubeObject;
  }) as unknown as T;
}

// Rules are few and fixed; their pointers are parsed once, not on every request.
const pointerTokens = memoized(parsePointer, 10_000);

/**
 * Whether a JSON pointer names a field in any of the objects: where it names none, a rule for it
 * removes nothing.
 */
export function pointsIntoAny(pointer: string, objects: readonly unknown[]): boolean {
  const tokens = pointerTokens(pointer);
  return tokens !== undefined && tokens.length > 0 && objects.some((o) => existsAt(o, tokens));
}

function existsAt(value: unknown, tokens: readonly string[]): boolean {
  let current = value;
  for (const token of tokens) {
    if (Array.isArray(current)) {
      if (!/^\d+$/.test(token) || Number(token) >= current.length) return false;
      current = current[Number(token)];
    } else if (isJsonObject(current) && Object.hasOwn(current, token)) {
      current = current[token];
    } else {
      return false;
    }
  }
  return true;
}

function removeAtPointer(value: unknown, tokens: readonly string[], at: number): unknown {
  const token = tokens[at] as string;
  const last = at === tokens.length - 1;
  if (Array.isArray(value)) {
    if (!/^\d+$/.test(token)) return value;
    const index = Number(token);
    if (index >= value.length) return value;
    const copy = [...(value as unknown[])];
    if (last) copy.splice(index, 1);
    else copy[index] = removeAtPointer(copy[index], tokens, at + 1);
    return copy;
  }
  if (isJsonObject(value) && Object.hasOwn(value, token)) {
    if (last) {
      const { [token]: _removed, ...rest } = value;
      return rest;
    }
    return { ...value, [token]: removeAtPointer(value[token], tokens, at + 1) };
  }
  return value;
}
