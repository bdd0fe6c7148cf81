// A long loop cut into slices: it turns the event loop once a slice has taken its time, and only
// then, so that reviews queued meanwhile are answered and a short loop is not slowed down.
import { describe, expect, it } from 'vitest';
import { Slices } from '../../src/desired/slices.js';

describe('Slices', () => {
  it('is due only every `every` items, and only once the slice has taken its time', async () => {
    const hours = new Slices(3_600_000, 1);
    expect(Array.from({ length: 1_000 }, () => hours.due())).not.toContain(true);

    const none = new Slices(0, 4);
    expect(Array.from({ length: 8 }, () => none.due())).toEqual([
      false,
      false,
      false,
      true,
      false,
      false,
      false,
      true,
    ]);
    await none.pause();
  });

  it('lets work queued meanwhile run at a pause, not before', async () => {
    const slices = new Slices(0, 10);
    const order: string[] = [];
    for (let item = 0; item < 20; item++) {
      if (item === 5) setImmediate(() => order.push('queued'));
      order.push(`item ${String(item)}`);
      if (slices.due()) await slices.pause();
    }
    // The first pause comes after the tenth item.
    expect(order.indexOf('queued')).toBe(10);
  });
});
