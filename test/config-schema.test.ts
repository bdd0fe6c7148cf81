// The config schema, checked from the outside: every config file the repository ships loads and
// resolves as before, the JSON Schema that `driftgate config schema` prints agrees with the
// reader on what is valid (judged by a JSON Schema check alone, as an editor would), and the
// generated docs/config.md and docs/config.schema.json are those the schema makes today.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import {
  DOCS_FILE,
  documentedKeys,
  renderConfigDocs,
  SCHEMA_FILE,
} from '../scripts/generate-config-docs.js';
import { formatFieldErrors, validateConfig } from '../src/config/config.js';
import { loadConfig, parseConfigText } from '../src/config/load-config.js';
import { configJsonSchema } from '../src/config/schema.js';
import { runDriftgate } from './support/cli.js';
import { schemaErrors, type Schema } from './support/json-schema.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const schema = configJsonSchema();

function filesUnder(dir: string, name: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const full = join(dir, entry);
    if (statSync(full).isDirectory()) return filesUnder(full, name);
    return entry === name ? [full] : [];
  });
}

/** The config files deploy/ puts in the driftgate-config ConfigMap, by its kustomizations. */
function deployConfigFiles(): string[] {
  const files = filesUnder(join(root, 'deploy'), 'kustomization.yaml').flatMap((file) => {
    const kustomization = load(readFileSync(file, 'utf8')) as {
      configMapGenerator?: { name: string; files?: string[] }[];
    };
    return (kustomization.configMapGenerator ?? [])
      .filter((generator) => generator.name === 'driftgate-config')
      .flatMap((generator) => generator.files ?? [])
      .map((entry) => join(dirname(file), entry.split('=').at(-1) ?? entry));
  });
  return files.map((file) => relative(root, file)).sort();
}

const README = readFileSync(join(root, 'README.md'), 'utf8');
const configKeys = new Set(Object.keys(schema.properties as object));

/** README's YAML blocks whose every top-level key is a config key: the configs it shows. */
function readmeConfigs(): { name: string; value: Record<string, unknown> }[] {
  const blocks = [...README.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)];
  return blocks.flatMap((match) => {
    const value = parseConfigText(match[1] ?? '', 'README.md');
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
    const keys = Object.keys(value);
    if (keys.length === 0 || !keys.every((key) => configKeys.has(key))) return [];
    const line = README.slice(0, match.index).split('\n').length;
    return [{ name: `README.md:${line}`, value: value as Record<string, unknown> }];
  });
}

/** A snippet that shows a few keys loads with a source, as it would in a whole file. */
const withSource = (value: Record<string, unknown>) =>
  value.sources !== undefined || value.discovery !== undefined
    ? value
    : { ...value, sources: [{ name: 'shop', repoURL: 'https://git.example.com/ops.git' }] };

function resolved(value: unknown) {
  const result = validateConfig(value);
  if ('errors' in result) throw new Error(formatFieldErrors(result.errors));
  return result.config;
}

const errorPaths = (value: unknown) => {
  const result = validateConfig(value);
  return 'errors' in result ? result.errors.map((error) => error.path) : [];
};
const schemaErrorPaths = (value: unknown) =>
  schemaErrors(schema, value).map((error) => error.slice(0, error.indexOf(': ')));

describe('the config files the repository ships', () => {
  const shipped = ['examples/config.yaml', ...deployConfigFiles()];

  it('include the example and every config deploy/ puts in its ConfigMap', () => {
    expect(shipped).toEqual([
      'examples/config.yaml',
      'deploy/base/config.yaml',
      'deploy/overlays/audit-only/config.yaml',
    ]);
    expect(readmeConfigs().length).toBeGreaterThanOrEqual(2);
  });

  it.each(shipped)('%s loads, and the printed schema accepts it', async (file) => {
    const config = await loadConfig(join(root, file));
    expect(config.sources.length).toBeGreaterThan(0);
    const text = readFileSync(join(root, file), 'utf8');
    expect(schemaErrors(schema, parseConfigText(text, file))).toEqual([]);
  });

  it.each(readmeConfigs())(
    'the config README shows at $name loads, and the schema accepts it',
    ({ value }) => {
      expect(() => resolved(withSource(value))).not.toThrow();
      expect(schemaErrors(schema, value)).toEqual([]);
    },
  );

  it('resolve exactly as the hand-written reader resolved them, defaults included', async () => {
    // Recorded from the reader the schema replaced (test/fixtures/config/README.md).
    const before = JSON.parse(
      readFileSync(
        join(root, 'test/fixtures/config/resolved-by-the-hand-written-reader.json'),
        'utf8',
      ),
    ) as Record<string, unknown>;
    const readmeBlock = /## Running the webhook[\s\S]*?```yaml\n([\s\S]*?)```/.exec(README)?.[1];
    const now: Record<string, unknown> = {
      'deploy/base/config.yaml': await loadConfig(join(root, 'deploy/base/config.yaml')),
      'deploy/overlays/audit-only/config.yaml': await loadConfig(
        join(root, 'deploy/overlays/audit-only/config.yaml'),
      ),
      'README.md#running-the-webhook': resolved(parseConfigText(readmeBlock ?? '', 'README.md')),
    };
    expect(now).toEqual(before);
  });

  it('examples/config.yaml names the schema for editors, and that file is the printed schema', () => {
    const text = readFileSync(join(root, 'examples/config.yaml'), 'utf8');
    const line = /^# yaml-language-server: \$schema=(\S+)$/m.exec(text);
    expect(line?.index).toBe(0);
    const file = join(root, 'examples', line?.[1] ?? '');
    expect(file).toBe(SCHEMA_FILE);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(schema);
  });
});

describe('the printed schema and the reader agree', () => {
  const example = parseConfigText(
    readFileSync(join(root, 'examples/config.yaml'), 'utf8'),
    'examples/config.yaml',
  ) as Record<string, unknown>;

  /** Every mapping and every scalar of `value`, by its path as errors name it. */
  function nodes(
    value: unknown,
    path: (string | number)[] = [],
  ): { path: (string | number)[]; value: unknown }[] {
    const here = [{ path, value }];
    if (Array.isArray(value))
      return [...here, ...value.flatMap((item, i) => nodes(item, [...path, i]))];
    if (typeof value === 'object' && value !== null) {
      return [
        ...here,
        ...Object.entries(value).flatMap(([key, item]) => nodes(item, [...path, key])),
      ];
    }
    return here;
  }
  const format = (path: (string | number)[]) =>
    path
      .map((key, i) => (typeof key === 'number' ? `[${key}]` : i === 0 ? key : `.${key}`))
      .join('');
  function replaced(
    value: unknown,
    path: (string | number)[],
    by: (old: unknown) => unknown,
  ): unknown {
    if (path.length === 0) return by(value);
    const [head, ...rest] = path;
    const copy = (Array.isArray(value) ? [...value] : { ...(value as object) }) as Record<
      string | number,
      unknown
    >;
    copy[head ?? ''] = replaced(copy[head ?? ''], rest, by);
    return copy;
  }
  const all = nodes(example);

  it('an unknown key in any mapping is refused by both, at the same path', () => {
    const mappings = all.filter(
      ({ value }) => typeof value === 'object' && value !== null && !Array.isArray(value),
    );
    expect(mappings.length).toBeGreaterThan(10);
    for (const { path } of mappings) {
      const value = replaced(example, path, (old) => ({ ...(old as object), colour: 'blue' }));
      const expected = format([...path, 'colour']);
      expect(errorPaths(value), expected).toEqual([expected]);
      expect(schemaErrorPaths(value), expected).toEqual([expected]);
    }
  });

  it('a value of the wrong type anywhere is refused by both, at the same path', () => {
    const leaves = all.filter(({ path, value }) => path.length > 0 && typeof value !== 'object');
    expect(leaves.length).toBeGreaterThan(30);
    for (const { path } of leaves) {
      const value = replaced(example, path, () => ({ wrong: true }));
      const expected = format(path);
      expect(errorPaths(value), expected).toEqual([expected]);
      expect(schemaErrorPaths(value), expected).toEqual([expected]);
    }
  });

  it.each([
    {
      name: 'a missing repoURL',
      value: { sources: [{ name: 'shop' }] },
      path: 'sources[0].repoURL',
    },
    { name: 'a mode that is not one', value: { ...example, mode: 'off' }, path: 'mode' },
    {
      name: 'a port out of range',
      value: { ...example, listen: { port: 70000 } },
      path: 'listen.port',
    },
    {
      name: 'a duration without a unit',
      value: { ...example, breakGlass: { ttl: '30' } },
      path: 'breakGlass.ttl',
    },
    {
      name: 'a share above 1',
      value: { ...example, safety: { maxDeletionShare: 2 } },
      path: 'safety.maxDeletionShare',
    },
    {
      name: 'an unknown preset',
      value: { ...example, exemptIdentities: { presets: ['gke'] } },
      path: 'exemptIdentities.presets[0]',
    },
    {
      name: 'a watch that is neither',
      value: { ...example, cluster: { watch: 'sometimes' } },
      path: 'cluster.watch',
    },
    {
      name: 'a namespace override of an unknown key',
      value: { ...example, namespaces: { overrides: { shop: { mood: 'x' } } } },
      path: 'namespaces.overrides.shop.mood',
    },
    {
      name: 'a hub without its kubeconfig',
      value: { ...example, discovery: { argocd: { hub: { name: 'x' } } } },
      path: 'discovery.argocd.hub.kubeconfigFile',
    },
  ])('both refuse $name', ({ value, path }) => {
    expect(errorPaths(value)).toEqual([path]);
    expect(schemaErrorPaths(value)).toEqual([path]);
  });

  it.each([
    {
      name: 'keys written with no value (null)',
      value: {
        sources: [{ name: 'a', repoURL: 'https://h/r.git', revision: null }],
        listen: null,
        breakGlass: { ticketPattern: null },
        hooks: { git: { secretFile: null } },
      },
    },
    { name: 'discovery alone, flux written empty', value: { discovery: { flux: null } } },
    {
      name: 'the auto of cluster.watch and scan.enabled, booleans too',
      value: { ...example, cluster: { watch: false }, scan: { enabled: true, interval: '1h30m' } },
    },
    {
      name: 'a namespace override with no value',
      value: { ...example, namespaces: { overrides: { shop: null } } },
    },
  ])('both accept $name', ({ value }) => {
    expect(errorPaths(value)).toEqual([]);
    expect(schemaErrors(schema, value)).toEqual([]);
  });

  it('describes every key', () => {
    const keys = documentedKeys(schema);
    expect(keys.length).toBeGreaterThan(80);
    expect(keys.filter((key) => key.description === '').map((key) => key.path)).toEqual([]);
  });

  it('is draft-07, which yaml-language-server validates fully', () => {
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
  });

  it('the checker used here refuses a keyword it does not know: it cannot skip one', () => {
    const unknownKeyword: Schema = { type: 'object', dependentRequired: {} };
    expect(() => schemaErrors(unknownKeyword, {})).toThrow(/dependentRequired/);
  });
});

describe('driftgate config schema', () => {
  it('prints the schema, which docs/config.schema.json holds', async () => {
    const result = await runDriftgate(root, 'config', 'schema');
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(result.stdout)).toEqual(schema);
    expect(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8'))).toEqual(schema);
  });

  it.each([[[]], [['schemas']], [['schema', 'docs']]])('refuses %j: exit 2', async (argv) => {
    const result = await runDriftgate(root, 'config', ...argv);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('give what to print: schema');
  });
});

describe('docs/config.md', () => {
  it('is what scripts/generate-config-docs.ts makes of the schema today (npm run docs:config)', async () => {
    expect(readFileSync(DOCS_FILE, 'utf8')).toBe(await renderConfigDocs());
  });

  it('documents every key with its type, default and description', () => {
    const docs = readFileSync(DOCS_FILE, 'utf8');
    for (const key of documentedKeys(schema)) {
      const section = docs.split(`### \`${key.path}\`\n`)[1]?.split('\n### ')[0] ?? '';
      expect(section, key.path).toContain(key.description);
      expect(section, key.path).toContain(`- Type: ${key.type}`);
    }
    expect(docs).toContain('### `breakGlass.ttl`');
    expect(docs).toMatch(/### `breakGlass.ttl`\n\n.*\n\n- Type: duration .*\n- Default: `4h`/);
  });
});
