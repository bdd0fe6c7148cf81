// A JSON Schema (draft-07) check of the keywords driftgate's config schema uses, so tests can
// judge a config by the printed schema alone, as an editor would. A keyword it does not know
// is an error, never skipped: the check cannot pass by ignoring part of a schema.
export type Schema = { readonly [key: string]: unknown };

/** Keywords that only describe: they constrain nothing. */
const ANNOTATIONS = new Set(['$schema', 'title', 'description', 'default', 'examples']);
const ASSERTIONS = new Set([
  'type',
  'enum',
  'const',
  'properties',
  'required',
  'additionalProperties',
  'propertyNames',
  'items',
  'anyOf',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'pattern',
]);

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function matchesType(value: unknown, type: string): boolean {
  const actual = typeOf(value);
  return actual === type || (type === 'number' && actual === 'integer');
}

const at = (path: string, key: string | number) =>
  typeof key === 'number' ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`;

/** Every place `value` breaks `schema`, as `path: problem`; empty when it is valid. */
export function schemaErrors(schema: Schema, value: unknown, path = ''): string[] {
  for (const keyword of Object.keys(schema)) {
    if (!ANNOTATIONS.has(keyword) && !ASSERTIONS.has(keyword)) {
      throw new Error(`${path || '(root)'}: keyword ${keyword} is not checked here`);
    }
  }
  const where = path === '' ? '(root)' : path;
  const errors: string[] = [];
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    if (!types.some((type) => matchesType(value, type))) {
      return [`${where}: expected ${types.join(' or ')}, found ${typeOf(value)}`];
    }
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) {
    errors.push(`${where}: expected one of ${JSON.stringify(schema.enum)}`);
  }
  if ('const' in schema && schema.const !== value) {
    errors.push(`${where}: expected ${JSON.stringify(schema.const)}`);
  }
  if (Array.isArray(schema.anyOf)) {
    const options = schema.anyOf as Schema[];
    if (!options.some((option) => schemaErrors(option, value, path).length === 0)) {
      errors.push(`${where}: matches none of anyOf`);
    }
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) {
      errors.push(`${where}: below ${schema.minimum}`);
    }
    if (typeof schema.maximum === 'number' && value > schema.maximum) {
      errors.push(`${where}: above ${schema.maximum}`);
    }
    if (typeof schema.exclusiveMinimum === 'number' && value <= schema.exclusiveMinimum) {
      errors.push(`${where}: not above ${schema.exclusiveMinimum}`);
    }
  }
  if (typeof value === 'string' && typeof schema.pattern === 'string') {
    if (!new RegExp(schema.pattern, 'u').test(value)) {
      errors.push(`${where}: does not match ${schema.pattern}`);
    }
  }
  if (Array.isArray(value) && schema.items !== undefined) {
    value.forEach((item, index) => {
      errors.push(...schemaErrors(schema.items as Schema, item, at(path, index)));
    });
  }
  if (typeOf(value) === 'object') {
    const object = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const key of (schema.required ?? []) as string[]) {
      if (!Object.hasOwn(object, key)) errors.push(`${at(path, key)}: required`);
    }
    for (const [key, item] of Object.entries(object)) {
      if (Object.hasOwn(properties, key)) {
        errors.push(...schemaErrors(properties[key] ?? {}, item, at(path, key)));
      } else if (schema.additionalProperties === false) {
        errors.push(`${at(path, key)}: unknown key`);
      } else if (typeof schema.additionalProperties === 'object') {
        errors.push(...schemaErrors(schema.additionalProperties as Schema, item, at(path, key)));
      }
      if (schema.propertyNames !== undefined) {
        errors.push(...schemaErrors(schema.propertyNames as Schema, key, at(path, key)));
      }
    }
  }
  return errors;
}
