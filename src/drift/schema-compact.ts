// The part of an API server's OpenAPI v3 schema that decides what "equal" means, in a compact
// form: which fields are structs, maps, lists (and of which list type, keyed by what) and
// quantities. Scalars are left out: a field the form does not name compares as a plain value.

/** A field's type in the compact form. */
export type CompactType =
  /** A struct: the name of a definition. */
  string | CompactList | CompactMap;

export interface CompactList {
  /** `x-kubernetes-list-type`; lists without one are atomic. */
  readonly l: 'atomic' | 'set' | 'map';
  /** `x-kubernetes-list-map-keys`. */
  readonly k?: readonly string[];
  /** Schema defaults of key fields (a container port's `protocol` is TCP when left out). */
  readonly d?: Readonly<Record<string, string | number | boolean>>;
  readonly i?: CompactType;
}

export interface CompactMap {
  /** The values' type; 0 for scalar values. */
  readonly m: CompactType | 0;
}

export interface CompactSchema {
  /** `group/version/Kind` (`/v1/ConfigMap` for the core group) to its definition. */
  readonly kinds: Readonly<Record<string, string>>;
  /** Definitions by name: the fields that are not plain scalars. */
  readonly defs: Readonly<Record<string, Readonly<Record<string, CompactType>>>>;
  /**
   * Custom resources' structs whose unknown fields the API server prunes, with their scalar
   * fields (the others are in `defs`): a field in neither is never stored.
   */
  readonly pruned?: Readonly<Record<string, readonly string[]>>;
}

/** The name quantities are defined under; it stands for itself in the compact form. */
export const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';

interface OpenApiSchema {
  readonly type?: string;
  readonly $ref?: string;
  readonly allOf?: readonly OpenApiSchema[];
  readonly properties?: Readonly<Record<string, OpenApiSchema>>;
  readonly additionalProperties?: OpenApiSchema | boolean;
  readonly items?: OpenApiSchema;
  readonly default?: unknown;
  readonly 'x-kubernetes-preserve-unknown-fields'?: boolean;
  readonly 'x-kubernetes-list-type'?: string;
  readonly 'x-kubernetes-list-map-keys'?: readonly string[];
  readonly 'x-kubernetes-patch-merge-key'?: string;
  readonly 'x-kubernetes-group-version-kind'?: ReadonlyArray<{
    readonly group: string;
    readonly version: string;
    readonly kind: string;
  }>;
}

export interface OpenApiDocument {
  readonly components?: { readonly schemas?: Readonly<Record<string, OpenApiSchema>> };
}

const REF_PREFIX = '#/components/schemas/';

function refOf(schema: OpenApiSchema): string | undefined {
  const ref = schema.$ref ?? schema.allOf?.[0]?.$ref;
  return ref?.startsWith(REF_PREFIX) === true ? ref.slice(REF_PREFIX.length) : undefined;
}

// Kinds served in several versions, or of other API servers (aggregated APIs) have their own
// definitions; the wrappers every group-version repeats (lists, watch events, options) are left out.
const NOT_A_RESOURCE = /(List|Options|WatchEvent)$/;
const BUILT_IN_PREFIX = 'io.k8s.';

/**
 * The compact form of every resource kind in the documents, with the definitions they reach;
 * custom resources only when asked for.
 */
export function compactDefinitions(
  documents: readonly OpenApiDocument[],
  options: { readonly customResources?: boolean } = {},
): CompactSchema {
  const schemas = new Map<string, OpenApiSchema>();
  for (const document of documents) {
    for (const [name, schema] of Object.entries(document.components?.schemas ?? {})) {
      schemas.set(name, schema);
    }
  }
  const kinds: Record<string, string> = {};
  const defs: Record<string, Record<string, CompactType>> = {};
  const pruned: Record<string, string[]> = {};

  // `at` names an inline struct (custom resources nest them rather than refer to definitions).
  const typeOf = (schema: OpenApiSchema, at: string): CompactType | undefined => {
    const ref = refOf(schema);
    if (ref !== undefined) {
      if (ref === QUANTITY) return QUANTITY;
      const target = schemas.get(ref);
      // Named scalars (Time, IntOrString, JSON) compare as plain values; an object without
      // properties (CustomResourceSubresourceStatus) is still a struct the server keeps.
      if (target === undefined) return undefined;
      if (target.properties === undefined && target.type !== 'object') return undefined;
      if (target.properties === undefined && target.additionalProperties !== undefined) {
        return undefined;
      }
      define(ref);
      return ref;
    }
    if (schema.properties !== undefined) {
      define(at, schema);
      return at;
    }
    if (schema.type === 'array') {
      const items = schema.items === undefined ? undefined : typeOf(schema.items, `${at}[]`);
      const listType = schema['x-kubernetes-list-type'];
      const mergeKey = schema['x-kubernetes-patch-merge-key'];
      const keys =
        schema['x-kubernetes-list-map-keys'] ??
        (listType === undefined && mergeKey !== undefined ? [mergeKey] : undefined);
      const l = listType === 'set' ? 'set' : keys !== undefined ? 'map' : 'atomic';
      const list: {
        l: CompactList['l'];
        k?: string[];
        d?: Record<string, string>;
        i?: CompactType;
      } = { l };
      if (l === 'map' && keys !== undefined) {
        list.k = [...keys];
        const itemRef = schema.items === undefined ? undefined : refOf(schema.items);
        const itemProperties = itemRef === undefined ? undefined : schemas.get(itemRef)?.properties;
        const defaults: Record<string, string> = {};
        for (const key of keys) {
          const value = itemProperties?.[key]?.default;
          if (typeof value === 'string' && value !== '') defaults[key] = value;
        }
        if (Object.keys(defaults).length > 0) list.d = defaults;
      }
      if (items !== undefined) list.i = items;
      return list;
    }
    if (schema.type === 'object' && typeof schema.additionalProperties === 'object') {
      return { m: typeOf(schema.additionalProperties, `${at}{}`) ?? 0 };
    }
    return undefined;
  };

  const define = (name: string, schema = schemas.get(name)): void => {
    if (Object.hasOwn(defs, name)) return;
    const fields: Record<string, CompactType> = {};
    defs[name] = fields;
    const properties = schema?.properties ?? {};
    const scalars: string[] = [];
    for (const field of Object.keys(properties).sort()) {
      const property = properties[field];
      if (property === undefined) continue;
      const type = typeOf(property, `${name}.${field}`);
      if (type !== undefined) fields[field] = type;
      else scalars.push(field);
    }
    const custom = !name.startsWith(BUILT_IN_PREFIX);
    if (custom && schema?.['x-kubernetes-preserve-unknown-fields'] !== true) {
      pruned[name] = scalars;
    }
  };

  for (const [name, schema] of [...schemas].sort(([a], [b]) => (a < b ? -1 : 1))) {
    for (const gvk of schema['x-kubernetes-group-version-kind'] ?? []) {
      if (NOT_A_RESOURCE.test(gvk.kind) || schema.properties?.metadata === undefined) continue;
      // Custom resources are published too; the generated table is for built-in kinds only.
      if (options.customResources !== true && !name.startsWith(BUILT_IN_PREFIX)) continue;
      // Meta types (DeleteOptions, Status) claim every group-version; a resource claims one.
      if ((schema['x-kubernetes-group-version-kind'] ?? []).length > 1) continue;
      kinds[`${gvk.group}/${gvk.version}/${gvk.kind}`] = name;
      define(name);
    }
  }
  const compact = { kinds: sortKeys(kinds), defs: sortKeys(defs) };
  return Object.keys(pruned).length === 0 ? compact : { ...compact, pruned: sortKeys(pruned) };
}

function sortKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1)));
}
