// Secret data that Git carries as base64 wrapped over lines (a YAML block scalar), against the
// unwrapped base64 a real API server stores: the same bytes are in sync, other bytes are drift.
import { describe, expect, it } from 'vitest';
import { parseManifests } from '../src/desired/manifest-parser.js';
import { diff } from '../src/drift/diff.js';
import type { KubeObject } from '../src/kube/object.js';
import { review } from './support/fixtures.js';

/** The Secret db-creds as the API server created it, and after alice patched its password. */
const created = review('03-apply-create-secret-stringdata-by-argocd').object as KubeObject;
const patched = review('62-patch-secret-data-by-alice').object as KubeObject;
const liveData = created['data'] as Record<string, string>;

/** base64 of `text`, `width` characters a line, as a block scalar under `data.<key>`. */
function wrapped(key: string, base64: string, width: number, indicator = '|'): string {
  const lines = base64.match(new RegExp(`.{1,${width}}`, 'g')) ?? [];
  return `  ${key}: ${indicator}\n${lines.map((line) => `    ${line}\n`).join('')}`;
}

/** Git's manifest for db-creds, its data written by `data` (key → YAML lines). */
function gitSecret(data: string): KubeObject {
  const text = [
    'apiVersion: v1',
    'kind: Secret',
    'metadata:',
    '  name: db-creds',
    '  namespace: shop',
    'type: Opaque',
    'data:',
    data,
  ].join('\n');
  const [document] = parseManifests(text, 'secret.yaml');
  return document?.object as KubeObject;
}

describe('line-wrapped base64 in Git against the Secret the API server stored', () => {
  const password = liveData['password'] ?? '';
  const host = liveData['host'] ?? '';

  it('reads the block scalar as the wrapped text, newlines kept', () => {
    const desired = gitSecret(wrapped('password', password, 8));
    expect((desired['data'] as Record<string, string>)['password']).toBe(
      `${password.slice(0, 8)}\n${password.slice(8, 16)}\n${password.slice(16)}\n`,
    );
  });

  it.each([
    { name: '8 characters a line, |', data: wrapped('password', password, 8) },
    { name: '4 characters a line, |-', data: wrapped('password', password, 4, '|-') },
    {
      name: 'every key wrapped',
      data: wrapped('password', password, 5) + wrapped('host', host, 6),
    },
  ])('is in sync when the bytes are the same ($name)', ({ data }) => {
    expect(diff(gitSecret(data), created)).toEqual([]);
  });

  it('is drift when the wrapped payload differs, and the values stay redacted', () => {
    const drift = diff(gitSecret(wrapped('password', password, 8)), patched);
    expect(drift).toHaveLength(1);
    expect(drift[0]).toMatchObject({
      pointer: '/data/password',
      desired: '<redacted>',
      live: '<redacted>',
    });
  });

  it('is drift when one wrapped byte differs', () => {
    // "s3cr3t-from-gis" instead of "s3cr3t-from-git".
    const other = Buffer.from('s3cr3t-from-gis').toString('base64');
    expect(Buffer.from(other, 'base64')).not.toEqual(Buffer.from(password, 'base64'));
    expect(diff(gitSecret(wrapped('password', other, 8)), created)).toHaveLength(1);
  });

  it.each([
    // A folded block scalar joins its lines with spaces: the API server refuses such a value.
    {
      name: 'spaces (a folded > scalar)',
      key: 'password',
      data: wrapped('password', password, 8, '>'),
    },
    // Node's decoder reads these the same bytes; the API server's does not.
    { name: 'missing padding', key: 'host', data: `  host: ${host.replace(/=+$/, '')}` },
    { name: 'junk after the padding', key: 'host', data: `  host: ${host}!!` },
  ])('is drift where the API server would not decode it the same ($name)', ({ key, data }) => {
    expect(diff(gitSecret(data), created).map((d) => d.path)).toEqual([`data.${key}`]);
  });
});
