// The comparison of an object with the manifest Git declares for it (DESIGN.md §2): only the
// fields Git declares are compared, after normalisation, with lists matched by merge key.
import { isJsonObject, keyOf, type KubeObject, type ResourceKey } from '../kube/object.js';
import { applyIgnoreRules, rulesFor, type IgnoreRule } from './ignore.js';
import {
  builtinSchemaFor,
  declaredKeyFields,
  elementIdentity,
  fieldOf,
  type ElementIdentity,
  itemsOf,
  type KindSchema,
  type MergeKeys,
  type SchemaNode,
} from './schema.js';
import {
  isNeverCompared,
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
  /**
   * The kind's schema: a custom resource's from its CustomResourceDefinition. Without it a
   * built-in kind's comes from the generated table, and any other kind is compared without one.
   */
  readonly schema?: KindSchema;
}

/** A drift found by the walk, before it is spelled for people. */
interface RawDrift {
  readonly segments: readonly Segment[];
  readonly desired: unknown;
  readonly live: unknown;
  /**
   * Git declares a zero value (`false`, `0`) the object lacks. A built-in kind's API server does
   * not store the zero of an `omitempty` field, so this is drift only where the field is shown to
   * be kept: the object held that zero before this write.
   */
  readonly zeroNotStored?: boolean;
}

interface Walk {
  /** The kind's schema; undefined where driftgate has none. */
  readonly schema: SchemaNode | undefined;
  /** Custom resources (and kinds without a schema) are stored as written: zeros are kept. */
  readonly storesAsWritten: boolean;
  readonly never: NeverCompared;
  readonly secret: boolean;
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
  return spell(
    prepared.walk,
    compareDeclared(prepared).filter((drift) => drift.zeroNotStored !== true),
  );
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
    if (drift.zeroNotStored === true) {
      // The old object stored Git's zero, so the API server keeps this field: removing it is drift.
      if (before === drift.desired) introduced.push(drift);
      continue;
    }
    (sameValue(before, drift.live) && !removedStruct(drift, before)
      ? preexisting
      : introduced
    ).push(drift);
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

/**
 * A struct Git declares empty (`emptyDir: {}`) that this write removed: `{}` and absence are the
 * same value elsewhere, but the API server keeps an empty struct, so removing it changed the object.
 */
function removedStruct(drift: RawDrift, before: unknown): boolean {
  return isAbsent(drift.live) && isJsonObject(drift.desired) && isJsonObject(before);
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
  // The live object is the API server's: it names a namespace exactly when its kind has one.
  const key: ResourceKey = keyOf(live, '', () =>
    live.metadata?.namespace === undefined ? 'Cluster' : 'Namespaced',
  );
  let normalized = normalizeDesired(desired, live, options.defaultNamespace);
  let liveSide = live;
  let oldSide = old;
  const schema = options.schema ?? builtinSchemaFor(live.apiVersion, key.kind);
  const rules = rulesFor(options.ignore ?? [], key);
  if (rules.length > 0) {
    [normalized, liveSide, oldSide] = applyIgnoreRules(rules, live, schema?.root, [
      normalized,
      live,
      old,
    ] as const);
  }
  return {
    walk: {
      schema: schema?.root,
      storesAsWritten: schema?.storesAsWritten ?? true,
      never: { trackingLabel: options.trackingLabel, sops: isSops(desired) },
      secret: isSecret(live),
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
 * is worked out only when a drift below it is spelled: most elements have none. `occurrence`
 * tells a second element with the same key (a duplicate env name) from the first.
 */
class KeySegment implements KeyStep {
  readonly kind = 'key' as const;
  constructor(
    private readonly element: Readonly<Record<string, unknown>>,
    readonly keys: MergeKeys,
    readonly index: number,
    readonly occurrence = 0,
  ) {}

  get fields(): Record<string, string | number | boolean> {
    return declaredKeyFields(this.element, this.keys);
  }
}

function report(walk: Walk, desired: unknown, live: unknown): void {
  walk.out.push({ segments: [...walk.segments], desired, live });
}

/**
 * Whether Git's value, where the object has none, declares nothing the API server would keep:
 * `[]` and `""` (Argo CD treats `[]` and null alike), and `{}` of a map. `{}` of a struct is
 * kept by the API server (`emptyDir: {}`, `subresources.status: {}`): it declares the field.
 */
function declaresNothingWhenAbsent(desired: unknown, schema: SchemaNode | undefined): boolean {
  if (desired === '' || (Array.isArray(desired) && desired.length === 0)) return true;
  return isJsonObject(desired) && isEmpty(desired) && schema?.type !== 'struct';
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
  if (isAbsent(live)) {
    if (declaresNothingWhenAbsent(desired, schema)) return;
    if ((desired === false || desired === 0) && !walk.storesAsWritten) {
      walk.out.push({
        segments: [...walk.segments],
        desired,
        live: undefined,
        zeroNotStored: true,
      });
      return;
    }
  }

  if (Array.isArray(desired)) {
    if (!Array.isArray(live)) {
      report(walk, desired, live ?? undefined);
      return;
    }
    const keys = schema?.keys;
    if (keys !== undefined && hasIdentities(desired, keys)) {
      compareAssociative(walk, desired, live, keys, schema);
    } else if (schema?.listType === 'set') {
      compareSet(walk, desired, live);
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
    // A struct Git declares empty is there or not; none of its fields is declared.
    if (isAbsent(live) && isEmpty(desired)) {
      report(walk, desired, undefined);
      return;
    }
    // A missing map is compared leaf by leaf, so each declared field is named.
    const liveMap = isAbsent(live) ? undefined : live;
    const sopsSecretData =
      walk.secret &&
      walk.never.sops &&
      walk.segments.length === 1 &&
      isSecretValuePath(walk.segments);
    // A custom resource's field outside its schema is pruned by the API server: never stored.
    const known = schema?.prunes === true ? schema.fields : undefined;
    // for…in rather than Object.keys: no array per map. Parsed JSON inherits nothing enumerable.
    for (const name in desired) {
      if (isNeverCompared(walk.segments, name, walk.never)) continue;
      if (known !== undefined && !known.has(name)) continue;
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
  if (!scalarsEqual(walk, desired, live, schema)) report(walk, desired, live);
}

const STRICT_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function scalarsEqual(
  walk: Walk,
  desired: unknown,
  live: unknown,
  schema: SchemaNode | undefined,
): boolean {
  if (desired === live) return true;
  if (walk.secret && isSecretValuePath(walk.segments)) {
    // Base64 may be wrapped over lines in Git; the bytes are what count. Only what the API
    // server itself decodes is equal: it skips line breaks and nothing else.
    if (typeof desired !== 'string' || typeof live !== 'string') return false;
    const unwrapped = desired.replace(/[\r\n]/g, '');
    return (
      STRICT_BASE64.test(unwrapped) &&
      unwrapped.length % 4 === 0 &&
      Buffer.from(unwrapped, 'base64').equals(Buffer.from(live, 'base64'))
    );
  }
  if (
    schema?.type === 'quantity' &&
    (typeof desired === 'string' || typeof desired === 'number') &&
    (typeof live === 'string' || typeof live === 'number')
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
  // A second live element with a key Git declares overrides Git's (the last env entry of a name
  // is the one a container sees): each one left over is drift.
  for (let desiredIndex = 0; desiredIndex < desired.length; desiredIndex++) {
    const element = desired[desiredIndex] as Record<string, unknown>;
    const identity = elementIdentity(element, keys) as ElementIdentity;
    for (
      let occurrence = 1, extra = partners.take(identity);
      extra !== undefined;
      occurrence++, extra = partners.take(identity)
    ) {
      walk.segments.push(new KeySegment(element, keys, extra, occurrence));
      report(walk, element, live[extra]);
      walk.segments.pop();
    }
  }
}

/** A set (`x-kubernetes-list-type: set`): each value Git lists must be in the object, in any order. */
function compareSet(walk: Walk, desired: readonly unknown[], live: readonly unknown[]): void {
  for (const value of desired) {
    if (!live.some((item) => sameValue(item, value))) {
      report(walk, desired, live);
      return;
    }
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
function resolve(
  root: unknown,
  segments: readonly Segment[],
  rootSchema: SchemaNode | undefined,
): unknown {
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
      const keys = schema?.keys ?? (segment instanceof KeySegment ? segment.keys : undefined);
      const wanted = keys && elementIdentity(segment.fields, keys);
      const occurrence = segment instanceof KeySegment ? segment.occurrence : 0;
      value =
        wanted === undefined
          ? undefined
          : (value as unknown[]).filter(
              (item) => elementIdentity(item, keys as MergeKeys) === wanted,
            )[occurrence];
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
