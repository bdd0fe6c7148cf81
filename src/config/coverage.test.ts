import { describe, expect, it } from 'vitest';
import type { ResourceKey } from '../kube/object.js';
import { validateConfig, type Config } from './config.js';
import { configCoverageWarnings, snapshotCoverageWarnings } from './coverage.js';

const source = { name: 'shop', repoURL: 'https://git.example.com/ops.git', namespace: 'shop' };

function config(value: Record<string, unknown>): Config {
  const result = validateConfig({ sources: [source], ...value });
  if ('errors' in result) throw new Error(JSON.stringify(result.errors));
  return result.config;
}

const key = (kind: string, namespace: string, name = 'web', group = ''): ResourceKey => ({
  group,
  kind,
  namespace,
  name,
});
const shop = [
  key('Deployment', 'shop', 'web', 'apps'),
  key('ConfigMap', 'shop'),
  key('Namespace', '', 'shop'),
];
const text = (warnings: { path: string; message: string }[]) =>
  warnings.map((w) => `${w.path}: ${w.message}`);

describe('configs that would review nothing, named by key', () => {
  it.each([
    { name: 'the default config', value: {}, expected: [] },
    {
      name: 'audit everywhere',
      value: { mode: 'audit' },
      expected: [
        'mode: audit, and no namespaces.overrides sets enforce or warn: drift is recorded, no write is denied or warned (namespace labels driftgate.io/mode can still raise it)',
      ],
    },
    {
      name: 'audit, but one namespace enforcing',
      value: { mode: 'audit', namespaces: { overrides: { shop: { mode: 'enforce' } } } },
      expected: [],
    },
    {
      name: 'the only source namespace excluded',
      value: { namespaces: { exclude: ['shop'] } },
      expected: [
        'namespaces.exclude: excludes the namespace of every source (shop): objects there are never reviewed',
      ],
    },
  ])('$name', ({ value, expected }) => {
    expect(text(configCoverageWarnings(config(value)))).toEqual(expected);
  });

  it.each([
    { name: 'every object reviewed', value: {}, keys: shop, expected: [] },
    { name: 'an empty snapshot says nothing', value: {}, keys: [], expected: [] },
    {
      name: 'kinds.include that matches nothing in Git',
      value: { kinds: { include: ['StatefulSet'] } },
      keys: shop.slice(0, 2),
      expected: ['kinds: leave none of the 2 objects Git declares to review: no write is reviewed'],
    },
    {
      name: 'every namespace of the snapshot excluded',
      value: { namespaces: { exclude: ['shop'] } },
      keys: shop,
      expected: [
        'namespaces.exclude: excludes the namespace of every one of the 3 objects Git declares: no write is reviewed',
      ],
    },
    {
      name: 'some by kind, the rest by namespace',
      value: { kinds: { exclude: ['apps/Deployment'] }, namespaces: { exclude: ['other'] } },
      keys: [key('Deployment', 'shop', 'web', 'apps'), key('ConfigMap', 'other')],
      expected: [
        'kinds, namespaces.exclude: leave none of the 2 objects Git declares to review: no write is reviewed',
      ],
    },
  ])('$name', ({ value, keys, expected }) => {
    expect(text(snapshotCoverageWarnings(config(value), keys))).toEqual(expected);
  });
});
