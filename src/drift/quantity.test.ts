import { describe, expect, it } from 'vitest';
import { parseQuantity, quantitiesEqual } from './quantity.js';

describe('quantitiesEqual', () => {
  it.each([
    { name: 'one core written as cores and millicores', a: '1', b: '1000m' },
    { name: 'half a core as a decimal and as millicores', a: '0.5', b: '500m' },
    { name: 'a YAML number against the stored string', a: 0.5, b: '500m' },
    { name: 'a YAML integer against the stored string', a: 2, b: '2' },
    { name: 'binary suffixes', a: '1Gi', b: '1024Mi' },
    { name: 'a decimal exponent', a: '1e3', b: '1k' },
    { name: 'a negative exponent', a: '5e-1', b: '500m' },
    { name: 'bytes against a binary suffix', a: '1073741824', b: '1Gi' },
    { name: 'nano units', a: '1n', b: '0.000000001' },
    { name: 'a leading dot', a: '.5', b: '500m' },
    { name: 'exa binary', a: '1Ei', b: '1152921504606846976' },
  ])('$name: $a = $b', ({ a, b }) => {
    expect(quantitiesEqual(a, b)).toBe(true);
    expect(quantitiesEqual(b, a)).toBe(true);
  });

  it.each([
    { name: 'decimal and binary giga differ', a: '1G', b: '1Gi' },
    { name: 'different millicores', a: '100m', b: '200m' },
    { name: 'milli is not mega', a: '1m', b: '1M' },
    { name: 'sign matters', a: '-1', b: '1' },
  ])('$name: $a ≠ $b', ({ a, b }) => {
    expect(quantitiesEqual(a, b)).toBe(false);
  });

  it.each(['', 'abc', '1.2.3', '1Xi', '1 Gi', 'Gi', '0x10', '1e99999'])(
    'rejects %j as a quantity',
    (text) => {
      expect(parseQuantity(text)).toBeUndefined();
      expect(quantitiesEqual(text, text)).toBe(false);
    },
  );
});
