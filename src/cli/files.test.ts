import { describe, expect, it } from 'vitest';
import { ManifestParseError, parseDocuments } from './files.js';

describe('parseDocuments', () => {
  it('reads scalars as Kubernetes tooling does (YAML 1.1)', () => {
    const [document] = parseDocuments('defaultMode: 0644\nenabled: yes\nstarted: 2024-01-01\n');
    expect(document).toEqual({ defaultMode: 420, enabled: true, started: '2024-01-01' });
  });

  it('resolves merge keys', () => {
    const [, document] = parseDocuments('base: &b {x: 1}\n---\nm:\n  <<: {x: 1}\n  z: 2\n');
    expect(document).toEqual({ m: { x: 1, z: 2 } });
  });

  it('skips empty documents and reads JSON', () => {
    expect(parseDocuments('---\n---\n{"kind": "ConfigMap"}\n---\n')).toEqual([
      { kind: 'ConfigMap' },
    ]);
  });

  it('names the line of a syntax error', () => {
    let caught: unknown;
    try {
      parseDocuments('a: 1\nb: [\n  c: d\n---\n');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ManifestParseError);
    expect(caught).toMatchObject({ line: 4 });
  });
});
