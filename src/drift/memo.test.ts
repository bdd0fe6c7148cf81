import { describe, expect, it } from 'vitest';
import { memoized } from './memo.js';

describe('memoized', () => {
  it('works a key out once, and again only after more keys than the limit', () => {
    const computed: string[] = [];
    const upper = memoized((key: string) => {
      computed.push(key);
      return key.toUpperCase();
    }, 2);
    expect([upper('a'), upper('a'), upper('b'), upper('a')]).toEqual(['A', 'A', 'B', 'A']);
    expect(computed).toEqual(['a', 'b']);
    // A third key fills past the limit: everything is forgotten, then `a` is worked out again.
    expect([upper('c'), upper('a')]).toEqual(['C', 'A']);
    expect(computed).toEqual(['a', 'b', 'c', 'a']);
  });

  it('remembers undefined results too', () => {
    let calls = 0;
    const nothing = memoized((_key: number) => {
      calls++;
      return undefined;
    }, 10);
    nothing(1);
    nothing(1);
    expect(calls).toBe(1);
  });
});
