import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './duration.js';

describe('parseDuration', () => {
  it.each([
    { name: 'seconds', text: '30s', expected: 30_000 },
    { name: 'hours', text: '4h', expected: 14_400_000 },
    { name: 'minutes and seconds', text: '1m30s', expected: 90_000 },
    { name: 'milliseconds', text: '500ms', expected: 500 },
    { name: 'every unit', text: '1h2m3s4ms', expected: 3_723_004 },
    { name: 'zero', text: '0s', expected: 0 },
  ])('$name: $text', ({ text, expected }) => {
    expect(parseDuration(text)).toBe(expected);
  });

  it.each([
    { name: 'empty', text: '' },
    { name: 'bare number', text: '30' },
    { name: 'units out of order', text: '30s4h' },
    { name: 'unit twice', text: '1m1m' },
    { name: 'days are not a unit', text: '1d' },
    { name: 'negative', text: '-5s' },
    { name: 'fraction', text: '1.5h' },
    { name: 'spaces', text: '1m 30s' },
  ])('rejects $name: "$text"', ({ text }) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it.each([30_000, 90_000, 14_400_000, 500, 3_723_004])('formats %i ms back to itself', (ms) => {
    expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
});
