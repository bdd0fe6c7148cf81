// The comparison of an object with the manifest Git declares for it (DESIGN.md §2): only the
// fields Git declares are compared, after normalisation, with lists matched by merge key.
import { isJsonObject, keyOf, type KubeObject, type ResourceKey } from '../kube/object.js';
import { applyIgnoreRules, rulesFor, type IgnoreRule } from './ignore.js';
import {
  declaredKeyFields,
  elementIdentity,
  fieldOf,
  type ElementIdentity,
  itemsOf,
  schemaFor,
  type MergeKeys,
  type SchemaNode,
} from './merge-keys.js';
import {
  isNeverCompared,
  isQuantityPosition,
  isSecret,
  isSecretValuePath,
  isSops,
  isSopsEncrypted,
  normalizeDesired,
  REDACTED,
  type NeverCompared,
} from './normalize.js';
import { jsonPointer, readablePath, type KeyStep, type Segment } from './path.js';
import { quantitiesEqual } from './quantity.js';

/** One field where the object differs from Git. */
export interface FieldDrift {
  /** Readable: `spec.template.spec.containers[name=web].image`. */
  readonly path: string;
  /** RFC 6901 pointer into the object (into Git's manifest where the object lacks the field). */
  readonly pointer: string;
  /** Git's value; absent when Git does not declare the field (strict policy only). */
  readonly desired?: unknown;
  /** The object's value; absent when the object lacks the field. */
  readonly live?: unknown;
}

export interface DiffOptions {
  /** Namespace of the source, for namespaced manifests that do not name one. */
  readonly defaultNamespace?: string;
  /** Argo CD's tracking label, when Argo CD tracks resources by label (Argo CD overwrites it). */
  readonly trackingLabel?: string;
  /** Argo CD `ignoreDifferences` rules; only those matching the object apply. */
  readonly ignore?: readonly IgnoreRule[];
}

/** A drift found by the walk, before it is spelled for people. */
interface RawDrift {
  readonly segments: readonly Segment[];
  readonly desired: unknown;
  readonly live: unknown;
}

interface Walk {
  /** Where the associative lists of this kind are. */
  readonly schema: SchemaNode;
  readonly never: NeverCompared;
  readonly secret: boolean;
  readonly limitRange: boolean;
  readonly segments: Segment[];
  readonly out: RawDrift[];
}

/** Fields Git declares that the live object does not match. */
export function diff(
  desired: KubeObject,
  live: KubeObject,
  options: DiffOptions = {},
): FieldDrift[] {
  const prepared = prepare(desired, live, undefined, options);
  return spell(prepared.walk, compareDeclared(prepared));
}

export type FieldPolicy = 'declared' | 'strict';

export interface WriteDrift {
  /** Drift this write introduced: it changed these fields away from Git or kept them away. */
  readonly introduced: FieldDrift[];
  /** Drift that was already there and that this write left alone. */
  readonly preexisting: FieldDrift[];
}

/**
 * The drift an UPDATE introduces (DESIGN.md §3.8): declared fields that differ from Git in the
 * new object and whose value the write changed; under `strict`, also undeclared fields the
 * write changed. Declared drift the write did not touch is reported apart as pre-existing.
 */
export function diffWrite(
  desired: KubeObject,
  old: KubeObject,
  live: KubeObject,
  options: DiffOptions & { readonly fieldPolicy?: FieldPolicy } = {},
): WriteDrift {
  const prepared = prepare(desired, live, old, options);
  const { walk } = prepared;
  const introduced: RawDrift[] = [];
  const preexisting: RawDrift[] = [];
  for (const drift of compareDeclared(prepared)) {
    const before = resolve(prepared.old, drift.segments, walk.schema);
    (sameValue(before, drift.live) ? preexisting : introduced).push(drift);
  }
  if (options.fieldPolicy === 'strict') {
    const strictWalk: Walk = { ...walk, segments: [], out: [] };
    collectUndeclaredChanges(
      strictWalk,
      prepared.old,
      prepared.live,
      prepared.desired,
      walk.schema,
    );
    introduced.push(...strictWalk.out);
  }
  return { introduced: spell(walk, introduced), preexisting: spell(walk, preexisting) };
}

interface Prepared {
  readonly walk: Walk;
  readonly desired: unknown;
  readonly live: unknown;
  readonly old: unknown;
}

function prepare(
  desired: KubeObject,
  live: KubeObject,
  old: KubeObject | undefined,
  options: DiffOptions,
): Prepared {
  const key: ResourceKey = keyOf(live, options.defaultNamespace);
  let normalized = normalizeDesired(desired, live, options.defaultNamespace);
  let liveSide = live;
  let oldSide = old;
  const rules = rulesFor(options.ignore ?? [], key);
  if (rules.length > 0) {
    [normalized, liveSide, oldSide] = applyIgnoreRules(rules, key, live, [
      normalized,
      live,
      old,
    ] as const);
  }
  return {
    walk: {
      schema: schemaFor(key.group, key.kind),
      never: { trackingLabel: options.trackingLabel, sops: isSops(desired) },
      secret: isSecret(live),
      limitRange: key.group === '' && key.kind === 'LimitRange',
      segments: [],
      out: [],
    },
    desired: normalized,
    live: liveSide,
    old: oldSide,
  };
}

function compareDeclared({ walk, desired, live }: Prepared): RawDrift[] {
  compareValue(walk, desired, live, walk.schema);
  return walk.out;
}

// Absence, as Git and the API server spell it: a missing field, or null.
function isAbsent(value: unknown): value is null | undefined {
  return value === undefined || value === null;
}

// What Git may write where the object has nothing: `{}`, `[]`, `""` (Argo CD treats `[]` and
// null alike). `0` and `false` are values.
function isEmpty(value: unknown): boolean {
  if (isAbsent(value) || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  if (!isJsonObject(value)) return false;
  for (const _ in value) return false;
  return true;
}

/**
 * The step to a list element. Its readable spelling (the merge-key fields the manifest writes)
 * is worked out only when a drift below it is spelled: most elements have none.
 */
class KeySegment implements KeyStep {
  readonly kind = 'key' as const;
  constructor(
    private readonly element: Readonly<Record<string, unknown>>,
    private readonly keys: MergeKeys,
    readonly index: number,
  ) {}

  get fields(): Record<string, string | number | boolean> {
    return declaredKeyFields(this.element, this.keys);
  }
}

function report(walk: Walk, desired: unknown, live: unknown): void {
  walk.out.push({ segments: [...walk.segments], desired, live });
}

function compareValue(
  walk: Walk,
  desired: unknown,
  live: unknown,
  schema: SchemaNode | undefined,
): void {
  // null in Git declares nothing: templates print it for unset values.
  if (isAbsent(desired)) return;
  if (walk.never.sops && isSopsEncrypted(desired)) return;
  if (isAbsent(live) && isEmpty(desired)) return;

  if (Array.isArray(desired)) {
    if (!Array.isArray(live)) {
      report(walk, desired, live ?? undefined);
      return;
    }
    const keys = schema?.keys;
    if (keys !== undefined && hasIdentities(desired, keys)) {
      compareAssociative(walk, desired, live, keys, schema);
    } else {
      compareAtomic(walk, desired, live, schema);
    }
    return;
  }

  if (isJsonObject(desired)) {
    if (!isAbsent(live) && !isJsonObject(live)) {
      report(walk, desired, live);
      return;
    }
    // A missing map is compared leaf by leaf, so each declared field is named.
    const liveMap = isAbsent(live) ? undefined : live;
    const sopsSecretData =
      walk.secret &&
      walk.never.sops &&
      walk.segments.length === 1 &&
      isSecretValuePath(walk.segments);
    // for…in rather than Object.keys: no array per map. Parsed JSON inherits nothing enumerable.
    for (const name in desired) {
      if (isNeverCompared(walk.segments, name, walk.never)) continue;
      walk.segments.push(name);
      const liveValue = liveMap?.[name];
      if (sopsSecretData) {
        // A SOPS-encrypted Secret can only be compared by the keys it holds.
        if (liveValue === undefined) report(walk, desired[name], undefined);
      } else {
        compareValue(walk, desired[name], liveValue, fieldOf(schema, name));
      }
      walk.segments.pop();
    }
    return;
  }

  if (isAbsent(live)) {
    report(walk, desired, undefined);
    return;
  }
  if (!scalarsEqual(walk, desired, live)) report(walk, desired, live);
}

function scalarsEqual(walk: Walk, desired: unknown, live: unknown): boolean {
  if (desired === live) return true;
  if (walk.secret && isSecretValuePath(walk.segments)) {
    // Base64 may be wrapped or padded differently in Git; the bytes are what count.
    return (
      typeof desired === 'string' &&
      typeof live === 'string' &&
      Buffer.from(desired, 'base64').equals(Buffer.from(live, 'base64'))
    );
  }
  if (
    (typeof desired === 'string' || typeof desired === 'number') &&
    (typeof live === 'string' || typeof live === 'number') &&
    isQuantityPosition(walk.segments, walk.limitRange)
  ) {
    return quantitiesEqual(desired, live);
  }
  return false;
}

/** Whether every element has an identity; a list where one has none is compared as a whole. */
function hasIdentities(list: readonly unknown[], keys: MergeKeys): boolean {
  for (const item of list) if (elementIdentity(item, keys) === undefined) return false;
  return true;
}

function compareAssociative(
  walk: Walk,
  desired: readonly unknown[],
  live: readonly unknown[],
  keys: MergeKeys,
  schema: SchemaNode | undefined,
): void {
  const partners = livePartners(live, keys);
  const items = itemsOf(schema);
  for (let desiredIndex = 0; desiredIndex < desired.length; desiredIndex++) {
    const element = desired[desiredIndex] as Record<string, unknown>;
    // Worked out again rather than kept by hasIdentities(): no array per list (BENCHMARKS.md, 12).
    const liveAt = partners.take(elementIdentity(element, keys) as ElementIdentity);
    walk.segments.push(new KeySegment(element, keys, liveAt ?? desiredIndex));
    if (liveAt === undefined) report(walk, element, undefined);
    else compareValue(walk, element, live[liveAt], items);
    walk.segments.pop();
  }
}

// Up to this many elements, a scan finds an element's partner faster than a Map would (and the
// elements handed out fit in the 32 bits of one number).
const SCAN_LIMIT = 32;

/**
 * The live elements, handed out by identity. Duplicate keys happen (env allows them): the n-th
 * element asked for pairs with the n-th occurrence, so none is handed out twice.
 */
interface LivePartners {
  take(identity: ElementIdentity): number | undefined;
}

/** A short list: scanned, with the elements handed out marked in the bits of one number. */
class ScannedPartners implements LivePartners {
  private taken = 0;
  constructor(private readonly identities: readonly (ElementIdentity | undefined)[]) {}

  take(identity: ElementIdentity): number | undefined {
    const { identities } = this;
    for (let index = 0; index < identities.length; index++) {
      const bit = 1 << index;
      if ((this.taken & bit) === 0 && identities[index] === identity) {
        this.taken |= bit;
        return index;
      }
    }
    return undefined;
  }
}

function livePartners(live: readonly unknown[], keys: MergeKeys): LivePartners {
  const identities = live.map((item) => elementIdentity(item, keys));
  if (identities.length <= SCAN_LIMIT) return new ScannedPartners(identities);
  const byIdentity = new Map<ElementIdentity, number[]>();
  identities.forEach((identity, index) => {
    if (identity === undefined) return;
    const indices = byIdentity.get(identity);
    if (indices === undefined) byIdentity.set(identity, [index]);
    else indices.push(index);
  });
  return { take: (identity) => byIdentity.get(identity)?.shift() };
}

function compareAtomic(
  walk: Walk,
  desired: readonly unknown[],
  live: readonly unknown[],
  schema: SchemaNode | undefined,
): void {
  if (desired.length !== live.length) {
    report(walk, desired, live);
    return;
  }
  desired.forEach((item, index) => {
    walk.segments.push(index);
    compareValue(walk, item, live[index], itemsOf(schema));
    walk.segments.pop();
  });
}

/** The value at `segments` in another version of the object (list elements found by key). */
function resolve(root: unknown, segments: readonly Segment[], rootSchema: SchemaNode): unknown {
  let value = root;
  let schema: SchemaNode | undefined = rootSchema;
  for (const segment of segments) {
    if (typeof segment === 'string') {
      value = isJsonObject(value) ? value[segment] : undefined;
      schema = fieldOf(schema, segment);
      continue;
    }
    if (!Array.isArray(value)) return undefined;
    if (typeof segment === 'number') {
      value = value[segment];
    } else {
      const keys = schema?.keys;
      const wanted = keys && elementIdentity(segment.fields, keys);
      value =
        wanted === undefined
          ? undefined
          : (value as unknown[]).find(
              (item) => elementIdentity(item, keys as MergeKeys) === wanted,
            );
    }
    schema = itemsOf(schema);
  }
  return value;
}

/**
 * Equality of two stored values, where a missing field, null and an empty map or list agree.
 * With a stack of pairs rather than recursion: objects may nest 10,000 levels deep, and a stack
 * overflow here would be an internal error, which fails open.
 */
function sameValue(first: unknown, second: unknown): boolean {
  const pending: [unknown, unknown][] = [[first, second]];
  for (let pair = pending.pop(); pair !== undefined; pair = pending.pop()) {
    const [a, b] = pair;
    if (a === b) continue;
    const emptyA = a !== '' && isEmpty(a);
    const emptyB = b !== '' && isEmpty(b);
    if (emptyA || emptyB) {
      if (emptyA && emptyB) continue;
      return false;
    }
    if (Array.isArray(a)) {
      if (!Array.isArray(b) || a.length !== b.length) return false;
      for (let index = 0; index < a.length; index++) pending.push([a[index], b[index]]);
      continue;
    }
    if (!isJsonObject(a) || !isJsonObject(b)) return false;
    for (const key in a) pending.push([a[key], b[key]]);
    for (const key in b) if (!Object.hasOwn(a, key)) pending.push([undefined, b[key]]);
  }
  return true;
}

/**
 * Strict policy: every field the write changed that Git does not declare. Walks the old and
 * new objects together, with Git's manifest alongside to know what is declared.
 */
function collectUndeclaredChanges(
  walk: Walk,
  old: unknown,
  live: unknown,
  desired: unknown,
  schema: SchemaNode | undefined,
): void {
  if (isJsonObject(desired) && (isJsonObject(old) || isAbsent(old)) && isJsonObject(live)) {
    // Compared field by field, not whole first: that would walk the map twice, and walk what is
    // never compared (managedFields, which every write changes) as well.
    const oldMap = isJsonObject(old) ? old : {};
    const visit = (name: string): void => {
      if (isNeverCompared(walk.segments, name, walk.never)) return;
      walk.segments.push(name);
      collectUndeclaredChanges(
        walk,
        oldMap[name],
        live[name],
        desired[name],
        fieldOf(schema, name),
      );
      walk.segments.pop();
    };
    for (const name in oldMap) visit(name);
    for (const name in live) if (!Object.hasOwn(oldMap, name)) visit(name);
    return;
  }
  if (sameValue(old, live)) return;
  if (isAbsent(desired)) {
    report(walk, undefined, live ?? undefined);
    return;
  }
  const keys = schema?.keys;
  if (keys !== undefined && Array.isArray(desired) && Array.isArray(live)) {
    const oldList: readonly unknown[] = Array.isArray(old) ? old : [];
    const byIdentity = (list: readonly unknown[]) =>
      new Map(list.map((item, index) => [elementIdentity(item, keys), { item, index }] as const));
    const oldItems = byIdentity(oldList);
    const desiredItems = byIdentity(desired);
    const liveItems = byIdentity(live);
    for (const identity of new Set([...oldItems.keys(), ...liveItems.keys()])) {
      if (identity === undefined) continue;
      const before = oldItems.get(identity);
      const after = liveItems.get(identity);
      const element = (after ?? before)?.item as Record<string, unknown>;
      walk.segments.push(new KeySegment(element, keys, (after ?? before)?.index ?? 0));
      collectUndeclaredChanges(
        walk,
        before?.item,
        after?.item,
        desiredItems.get(identity)?.item,
        itemsOf(schema),
      );
      walk.segments.pop();
    }
  }
  // Anything else Git declares: the declared comparison has judged it.
}

function spell(walk: Walk, drifts: readonly RawDrift[]): FieldDrift[] {
  return drifts.map(({ segments, desired, live }) => {
    const redact = walk.secret && isSecretValuePath(segments);
    const drift: { path: string; pointer: string; desired?: unknown; live?: unknown } = {
      path: readablePath(segments),
      pointer: jsonPointer(segments),
    };
    if (desired !== undefined) drift.desired = redact ? REDACTED : desired;
    if (live !== undefined) drift.live = redact ? REDACTED : live;
    return drift;
  });
}
