import { getHeapSpaceStatistics } from 'node:v8';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { capYoungGeneration } from './young-generation.js';

const youngSize = (): number =>
  getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0;

describe('capYoungGeneration', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('stops the young generation growing once it reaches the limit, and looks no more', () => {
    vi.useFakeTimers();
    let size = 4 * 1024 * 1024;
    const flags: string[] = [];
    const hooks = {
      youngSize: () => size,
      setFlags: (flag: string) => flags.push(flag),
      collect: () => undefined,
    };
    const cap = capYoungGeneration(16 * 1024 * 1024, 1_000, hooks);
    vi.advanceTimersByTime(5_000);
    expect(flags).toEqual([]);
    size = 16 * 1024 * 1024;
    vi.advanceTimersByTime(1_000);
    expect(flags).toEqual(['--semi-space-growth-factor=1']);
    size = 32 * 1024 * 1024;
    vi.advanceTimersByTime(10_000);
    expect(flags).toEqual(['--semi-space-growth-factor=1']);
    cap.stop();
  });

  it('caps at once when the young generation is already at the limit', () => {
    const flags: string[] = [];
    capYoungGeneration(8, 1_000, {
      youngSize: () => 8,
      setFlags: (flag) => flags.push(flag),
      collect: () => undefined,
    });
    expect(flags).toEqual(['--semi-space-growth-factor=1']);
  });

  it('stops looking when asked, before the limit is reached', () => {
    vi.useFakeTimers();
    let size = 0;
    const flags: string[] = [];
    const cap = capYoungGeneration(8, 1_000, {
      youngSize: () => size,
      setFlags: (flag) => flags.push(flag),
      collect: () => undefined,
    });
    cap.stop();
    size = 8;
    vi.advanceTimersByTime(5_000);
    expect(flags).toEqual([]);
  });
});

describe('releaseStartupMemory', () => {
  it('gives back the young generation that busy allocation grew', () => {
    // Objects that survive scavenges make V8 grow the young generation, as a start does.
    const kept: { at: number }[][] = [];
    for (let round = 0; round < 400 && youngSize() < 8 * 1024 * 1024; round++) {
      kept.push(Array.from({ length: 10_000 }, (_, at) => ({ at })));
    }
    const grown = youngSize();
    expect(grown).toBeGreaterThanOrEqual(8 * 1024 * 1024);
    kept.length = 0;
    const cap = capYoungGeneration(Number.POSITIVE_INFINITY);
    cap.releaseStartupMemory();
    cap.stop();
    expect(youngSize()).toBeLessThan(grown / 2);
  });

  it('lets the young generation grow again after it, up to the limit', () => {
    vi.useFakeTimers();
    let size = 16;
    const flags: string[] = [];
    const cap = capYoungGeneration(16, 1_000, {
      youngSize: () => size,
      setFlags: (flag) => flags.push(flag),
      collect: () => {
        size = 1;
      },
    });
    expect(flags).toEqual(['--semi-space-growth-factor=1']);
    cap.releaseStartupMemory();
    // Capped at its initial size it could never grow back: the growth V8 starts with is back.
    expect(flags).toEqual(['--semi-space-growth-factor=1', '--semi-space-growth-factor=2']);
    expect(size).toBe(1);
    size = 8;
    vi.advanceTimersByTime(5_000);
    expect(flags).toHaveLength(2);
    size = 16;
    vi.advanceTimersByTime(1_000);
    expect(flags).toEqual([
      '--semi-space-growth-factor=1',
      '--semi-space-growth-factor=2',
      '--semi-space-growth-factor=1',
    ]);
    cap.stop();
  });
});
