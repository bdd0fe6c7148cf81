// Generates docs/config.md (every key of the config file: path, type, default, description,
// example) and docs/config.schema.json (what `driftgate config schema` prints) from the one
// declared config schema, so neither can say something the schema does not.
//
//   npm run docs:config
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dump } from 'js-yaml';
import { format, resolveConfig } from 'prettier';
import { configJsonSchema, type JsonSchema } from '../src/config/schema.js';

export const DOCS_FILE = fileURLToPath(new URL('../docs/config.md', import.meta.url));
export const SCHEMA_FILE = fileURLToPath(new URL('../docs/config.schema.json', import.meta.url));

/** One key of the file, as the docs list it. */
export interface DocumentedKey {
  /** `sources[].repoURL`, `namespaces.overrides.<namespace>.mode`. */
  readonly path: string;
  readonly type: string;
  readonly required: boolean;
  readonly default: unknown;
  readonly description: string;
  readonly example: unknown;
}

const DURATION_PATTERN = /^\^\(\?=\.\)/;

/** A scalar of the schema as text (enum values, bounds, descriptions). */
const str = (value: unknown): string =>
  typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value);

/** The type of a value as a user writes it. */
function typeOf(schema: JsonSchema): string {
  if (Array.isArray(schema.anyOf)) {
    return (schema.anyOf as JsonSchema[])
      .filter((option) => option.type !== 'null')
      .map(typeOf)
      .join(' | ');
  }
  if (Array.isArray(schema.enum)) {
    return (schema.enum as unknown[])
      .filter((value) => value !== null)
      .map(str)
      .join(' | ');
  }
  if (schema.const !== undefined) return str(schema.const);
  const types = (Array.isArray(schema.type) ? (schema.type as unknown[]) : [schema.type]).filter(
    (type) => type !== 'null',
  );
  const type = types[0];
  if (type === 'boolean') return 'true | false';
  if (type === 'string') {
    return typeof schema.pattern === 'string' && DURATION_PATTERN.test(schema.pattern)
      ? 'duration (30s, 4h, 1m30s)'
      : 'string';
  }
  if (type === 'integer' || type === 'number') {
    const low =
      schema.exclusiveMinimum !== undefined
        ? `above ${str(schema.exclusiveMinimum)}`
        : schema.minimum !== undefined
          ? `from ${str(schema.minimum)}`
          : undefined;
    const high = schema.maximum === undefined ? undefined : `to ${str(schema.maximum)}`;
    const range = [low, high].filter((part) => part !== undefined).join(' ');
    return range === '' ? type : `${type}, ${range}`;
  }
  if (type === 'array') {
    const items = (schema.items ?? {}) as JsonSchema;
    const item = typeOf(items);
    return item === 'string'
      ? 'list of strings'
      : item === 'mapping'
        ? 'list of mappings'
        : `list of ${item}`;
  }
  if (type === 'object') {
    return typeof schema.additionalProperties === 'object' ? 'mapping of names' : 'mapping';
  }
  return 'any';
}

/** Every key under `schema`, depth first, in the order the schema declares them. */
export function documentedKeys(schema: JsonSchema, prefix = ''): DocumentedKey[] {
  const keys: DocumentedKey[] = [];
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  for (const [name, property] of Object.entries(properties)) {
    const path = prefix === '' ? name : `${prefix}.${name}`;
    const examples = property.examples as unknown[] | undefined;
    const enumValues = (property.enum as unknown[] | undefined)?.filter((v) => v !== null);
    keys.push({
      path,
      type: typeOf(property),
      required: required.has(name),
      default: property.default,
      description: str(property.description),
      // A mapping is shown by its keys' examples, unless it has one of its own.
      example:
        examples?.[0] ??
        (typeOf(property).startsWith('mapping')
          ? undefined
          : (property.default ?? enumValues?.[0])),
    });
    keys.push(...nestedKeys(property, path));
  }
  return keys;
}

function nestedKeys(property: JsonSchema, path: string): DocumentedKey[] {
  if (property.properties !== undefined) return documentedKeys(property, path);
  const items = property.items as JsonSchema | undefined;
  if (items?.properties !== undefined) return documentedKeys(items, `${path}[]`);
  const values = property.additionalProperties;
  if (typeof values === 'object' && values !== null) {
    return documentedKeys(values as JsonSchema, `${path}.<name>`);
  }
  return [];
}

/** A value as it is written in the file: YAML flow style on one line. */
function yaml(value: unknown): string {
  return dump(value, { flowLevel: 0, lineWidth: -1 }).trim();
}

function row(key: DocumentedKey): string {
  const mapping = key.type.startsWith('mapping');
  const facts = [
    `- Type: ${key.type}`,
    key.required
      ? '- Required'
      : mapping
        ? undefined
        : `- Default: ${key.default === undefined ? 'none' : `\`${yaml(key.default)}\``}`,
    key.example === undefined
      ? undefined
      : `- Example: \`${key.path.split('.').at(-1)?.replace(/\[\]$/, '') ?? ''}: ${yaml(key.example)}\``,
  ].filter((line) => line !== undefined);
  return [`### \`${key.path}\``, '', key.description, '', ...facts, ''].join('\n');
}

export async function renderConfigDocs(schema: JsonSchema = configJsonSchema()): Promise<string> {
  const keys = documentedKeys(schema);
  const sections = Object.keys(schema.properties ?? {});
  const text = [
    '<!-- Generated by scripts/generate-config-docs.ts from the config schema (src/config/schema.ts): do not edit, run `npm run docs:config`. -->',
    '',
    '# driftgate config file',
    '',
    `${str(schema.description)} Every key is optional unless it says Required; a key written with no value (\`key:\`) takes its default. Unknown keys are errors, and every error names its key path (\`sources[2].repoURL: required\`).`,
    '',
    'An annotated example: [examples/config.yaml](../examples/config.yaml). For completion and checks in an editor that uses yaml-language-server, put this line first in the file, naming [config.schema.json](config.schema.json) or the output of `driftgate config schema`:',
    '',
    '```yaml',
    '# yaml-language-server: $schema=config.schema.json',
    '```',
    '',
    `Sections: ${sections.map((name) => `[\`${name}\`](#${name.toLowerCase()})`).join(', ')}.`,
    '',
    ...keys.map(row),
  ].join('\n');
  const options = await resolveConfig(DOCS_FILE);
  return format(text, { ...options, parser: 'markdown' });
}

export async function renderConfigSchemaFile(
  schema: JsonSchema = configJsonSchema(),
): Promise<string> {
  const options = await resolveConfig(SCHEMA_FILE);
  return format(JSON.stringify(schema), { ...options, parser: 'json' });
}

if (process.argv[1] !== undefined && import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(DOCS_FILE, await renderConfigDocs());
  writeFileSync(SCHEMA_FILE, await renderConfigSchemaFile());
  process.stdout.write(`wrote ${DOCS_FILE} and ${SCHEMA_FILE}\n`);
}
