// What the API's own schema says about each field of an object, as one walkable tree: which
// values are structs, maps, quantities, and which lists are atomic, sets or keyed maps. Built-in
// kinds come from a table generated from a real API server's OpenAPI v3
// (scripts/generate-builtin-schema.ts); custom resources from their CustomResourceDefinition.
import { isJsonObject } from '../kube/object.js';
import builtinSchema from './generated/builtin-schema.json' with { type: 'json' };
import { QUANTITY, type CompactSchema, type CompactType } from './schema-compact.js';

/** A list's merge keys, with the schema's defaults for keys a manifest may leave out. */
export interface MergeKeys {
  readonly fields: readonly string[];
  readonly defaults?: Readonly<Record<string, string | number | boolean>>;
}

export type ListType = 'atomic' | 'set' | 'map';

/**
 * One position in an object. `struct` values keep an empty `{}` (the API server stores
 * `emptyDir: {}`); `map` values are free-form keys; `scalar` is named only where the schema
 * lists every field (custom resources), so that fields outside it can be told apart.
 */
export interface SchemaNode {
  readonly type: 'struct' | 'map' | 'list' | 'quantity' | 'scalar' | 'any';
  /** A struct's fields: for built-in kinds only those that are not plain scalars. */
  readonly fields?: ReadonlyMap<string, SchemaNode>;
  /** A map's values. */
  readonly values?: SchemaNode;
  /** A list's elements. */
  readonly items?: SchemaNode;
  readonly listType?: ListType;
  /** Present when the list is keyed (`x-kubernetes-list-type: map`). */
  readonly keys?: MergeKeys;
  /** A custom resource's struct: the API server prunes fields its schema does not name. */
  readonly prunes?: boolean;
}

/** The schema of one kind, and how the API server stores its values. */
export interface KindSchema {
  readonly root: SchemaNode;
  /**
   * Built-in kinds go through Go types: a zero scalar of an `omitempty` field, an empty map or
   * list is not stored. Custom resources are stored as JSON, as written (less what is pruned).
   */
  readonly storesAsWritten: boolean;
}

export function fieldOf(node: SchemaNode | undefined, name: string): SchemaNode | undefined {
  if (node === undefined) return undefined;
  return node.type === 'map' ? node.values : node.fields?.get(name);
}

export function itemsOf(node: SchemaNode | undefined): SchemaNode | undefined {
  return node?.items;
}

// --- Kinds described by an API server's OpenAPI v3, in the compact form --------------------------

const QUANTITY_NODE: SchemaNode = { type: 'quantity' };
const SCALAR_NODE: SchemaNode = { type: 'scalar' };
const ANY_NODE: SchemaNode = { type: 'any' };

/** Custom resources are published under their own names; built-in types under `io.k8s.`. */
const BUILT_IN_PREFIX = 'io.k8s.';

/**
 * The kinds of one compact schema: nodes are made on first use, one per definition, and shared
 * by every kind that reaches them.
 */
export class SchemaSet {
  private readonly definitions = new Map<string, SchemaNode>();
  private readonly kinds = new Map<string, KindSchema>();
  // `group/Kind` to every version's definition, the first being the one to fall back on.
  private readonly byKind = new Map<string, Map<string, string>>();

  constructor(private readonly compact: CompactSchema) {
    for (const [gvk, name] of Object.entries(compact.kinds)) {
      const [group = '', version = '', kind = ''] = gvk.split('/');
      const id = `${group}/${kind}`;
      let versions = this.byKind.get(id);
      if (versions === undefined) {
        versions = new Map();
        this.byKind.set(id, versions);
      }
      versions.set(version, name);
    }
  }

  /** Whether the set holds this kind at some version. */
  has(group: string, kind: string): boolean {
    return this.byKind.has(`${group}/${kind}`);
  }

  /** The `group/version`s the set describes (`v1` for the core group). */
  groupVersions(): Set<string> {
    const found = new Set<string>();
    for (const gvk of Object.keys(this.compact.kinds)) {
      const [group = '', version = ''] = gvk.split('/');
      found.add(group === '' ? version : `${group}/${version}`);
    }
    return found;
  }

  /**
   * The schema of a kind at `apiVersion`, or at another version of the same kind when the set
   * lacks that one; undefined for a kind the set does not hold.
   */
  schemaFor(apiVersion: string | undefined, kind: string): KindSchema | undefined {
    const slash = apiVersion?.indexOf('/') ?? -1;
    const group = apiVersion === undefined || slash === -1 ? '' : apiVersion.slice(0, slash);
    const version = apiVersion === undefined ? '' : apiVersion.slice(slash + 1);
    const versions = this.byKind.get(`${group}/${kind}`);
    if (versions === undefined) return undefined;
    const name = versions.get(version) ?? versions.values().next().value;
    if (name === undefined) return undefined;
    let schema = this.kinds.get(name);
    if (schema === undefined) {
      schema = { root: this.definition(name), storesAsWritten: !name.startsWith(BUILT_IN_PREFIX) };
      this.kinds.set(name, schema);
    }
    return schema;
  }

  private nodeOfType(type: CompactType | 0 | undefined): SchemaNode | undefined {
    if (type === undefined || type === 0) return undefined;
    if (typeof type === 'string') return type === QUANTITY ? QUANTITY_NODE : this.definition(type);
    if ('m' in type) {
      const values = this.nodeOfType(type.m);
      return values === undefined ? { type: 'map' } : { type: 'map', values };
    }
    const items = this.nodeOfType(type.i);
    const keys: MergeKeys | undefined =
      type.k === undefined
        ? undefined
        : { fields: type.k, ...(type.d ? { defaults: type.d } : {}) };
    return {
      type: 'list',
      listType: type.l,
      ...(items === undefined ? {} : { items }),
      ...(keys === undefined ? {} : { keys }),
    };
  }

  // Definitions refer to each other in cycles (JSONSchemaProps): each node is made once and
  // registered before its fields are filled.
  private definition(name: string): SchemaNode {
    let node = this.definitions.get(name);
    if (node !== undefined) return node;
    const fields = new Map<string, SchemaNode>();
    const scalars = this.compact.pruned?.[name];
    node =
      scalars === undefined ? { type: 'struct', fields } : { type: 'struct', fields, prunes: true };
    this.definitions.set(name, node);
    for (const [field, type] of Object.entries(this.compact.defs[name] ?? {})) {
      const child = this.nodeOfType(type);
      if (child !== undefined) fields.set(field, child);
    }
    for (const field of scalars ?? []) fields.set(field, SCALAR_NODE);
    return node;
  }
}

/** Built-in kinds, from the table generated from a real API server (see the script). */
export const builtinSchemas = new SchemaSet(builtinSchema as unknown as CompactSchema);

export function builtinSchemaFor(
  apiVersion: string | undefined,
  kind: string,
): KindSchema | undefined {
  return builtinSchemas.schemaFor(apiVersion, kind);
}

// --- Custom resources, from their CustomResourceDefinition ------------------------------------

/**
 * The schema of the custom resource a CustomResourceDefinition manifest defines, at `version`
 * (or its storage version): undefined when the definition carries no structural schema.
 */
export function customResourceSchema(
  crd: unknown,
  version: string | undefined,
): KindSchema | undefined {
  if (!isJsonObject(crd) || !isJsonObject(crd.spec)) return undefined;
  const versions = Array.isArray(crd.spec.versions) ? crd.spec.versions.filter(isJsonObject) : [];
  const chosen =
    versions.find((v) => v.name === version) ??
    versions.find((v) => v.storage === true) ??
    versions[0];
  const schema = isJsonObject(chosen?.schema) ? chosen.schema.openAPIV3Schema : undefined;
  if (!isJsonObject(schema)) return undefined;
  const root = structuralNode(schema, true);
  // The API server keeps apiVersion, kind and metadata whatever the schema says of them.
  const fields = new Map(root.fields);
  const metadata = builtinSchemas.schemaFor('v1', 'ConfigMap')?.root.fields?.get('metadata');
  fields.set('metadata', metadata ?? { type: 'struct', fields: new Map() });
  fields.set('apiVersion', SCALAR_NODE);
  fields.set('kind', SCALAR_NODE);
  return { root: { ...root, fields }, storesAsWritten: true };
}

/** One level of a structural schema (`openAPIV3Schema` and below). */
function structuralNode(schema: Record<string, unknown>, top: boolean): SchemaNode {
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  if (schema['x-kubernetes-int-or-string'] === true) return SCALAR_NODE;
  const type = schema.type;
  if (type === 'array') {
    const items = isJsonObject(schema.items) ? structuralNode(schema.items, false) : ANY_NODE;
    const listType = schema['x-kubernetes-list-type'];
    const mapKeys = schema['x-kubernetes-list-map-keys'];
    if (
      listType === 'map' &&
      Array.isArray(mapKeys) &&
      mapKeys.every((k) => typeof k === 'string')
    ) {
      return { type: 'list', listType: 'map', items, keys: { fields: mapKeys } };
    }
    return { type: 'list', listType: listType === 'set' ? 'set' : 'atomic', items };
  }
  if (type === 'object' || top || isJsonObject(schema.properties)) {
    if (isJsonObject(schema.properties)) {
      const fields = new Map<string, SchemaNode>();
      for (const [name, property] of Object.entries(schema.properties)) {
        if (isJsonObject(property)) fields.set(name, structuralNode(property, false));
      }
      return { type: 'struct', fields, prunes: !preserve };
    }
    if (isJsonObject(schema.additionalProperties)) {
      return { type: 'map', values: structuralNode(schema.additionalProperties, false) };
    }
    if (schema.additionalProperties === true || preserve) return ANY_NODE;
    // `type: object` and nothing else: the server keeps `{}` and prunes every key.
    return { type: 'struct', fields: new Map(), prunes: true };
  }
  return preserve ? ANY_NODE : SCALAR_NODE;
}

// --- List elements ------------------------------------------------------------------------------

/** What identifies a list element: compared with `===` and used as a Map key. */
export type ElementIdentity = string | number | boolean;

/**
 * The identity of a list element under its merge keys, with defaults applied: the key's own value
 * when the list has one key (`web`, `8080`: a number and a string never match), otherwise a
 * string (`number:8080|s:TCP`); undefined when the element lacks its first key field or is not an
 * object. Built by hand rather than with JSON.stringify: it runs for every list element, and most
 * lists, keyed by one field, need no new string at all.
 */
export function elementIdentity(element: unknown, keys: MergeKeys): ElementIdentity | undefined {
  if (typeof element !== 'object' || element === null || Array.isArray(element)) return undefined;
  const record = element as Record<string, unknown>;
  const fields = keys.fields;
  if (fields.length === 1) {
    const field = fields[0] as string;
    const value = record[field] ?? keys.defaults?.[field];
    return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
      ? value
      : undefined;
  }
  let identity = '';
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i] as string;
    const value = record[field] ?? keys.defaults?.[field];
    if (i > 0) identity += '|';
    if (typeof value === 'string') identity += `s:${value}`;
    else if (typeof value === 'number' || typeof value === 'boolean')
      identity += `${typeof value}:${String(value)}`;
    // Only the first key is required; a missing secondary key without a default stays empty.
    else if (i === 0) return undefined;
  }
  return identity;
}

/** The merge-key fields an element spells out itself, for the readable path. */
export function declaredKeyFields(
  element: Readonly<Record<string, unknown>>,
  keys: MergeKeys,
): Record<string, string | number | boolean> {
  const fields: Record<string, string | number | boolean> = {};
  for (const field of keys.fields) {
    const value = element[field];
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      fields[field] = value;
    }
  }
  return fields;
}
