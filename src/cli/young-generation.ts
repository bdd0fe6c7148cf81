// Keeps a long-running `driftgate serve` from growing its young generation without bound. V8
// doubles the young generation each time enough has survived collection since it last grew,
// which under steady review load happens in the end whatever the live set: resident memory
// then grows by tens of MB, and each scavenge of a larger young generation pauses longer.
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * The young generation's size past which it stops growing (V8's new space). Twice its initial
 * 1 MB: with 10,000 objects under review load, 16 MB held 26 to 46 MB more at its peak than 2 MB
 * (BENCHMARKS.md, "Memory and readiness"); the CPU a review took was the same in one run and 40%
 * more at 2 MB in another, which this shared machine's noise does not settle.
 */
export const SERVE_YOUNG_GENERATION_LIMIT_BYTES = 2 * 1024 * 1024;

export interface YoungGenerationHooks {
  /** The young generation's current size in bytes. */
  readonly youngSize: () => number;
  /** Sets a V8 flag for the whole process. */
  readonly setFlags: (flags: string) => void;
  /**
   * One full collection that also shrinks the young generation to its initial size (V8's
   * last-resort flavour, which compacts the heap).
   */
  readonly collect: () => void;
}

// V8's own --semi-space-growth-factor: the young generation doubles when it grows.
const V8_GROWTH_FACTOR = 2;

const v8Hooks: YoungGenerationHooks = {
  youngSize: () =>
    getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0,
  setFlags: setFlagsFromString,
  collect: () => {
    // Left set, as the parse worker leaves it: flags are the process's, and the worker reads
    // this one when it starts, possibly at the same time.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    if (typeof gc === 'function') {
      (gc as (options: object) => void)({
        type: 'major',
        execution: 'sync',
        flavor: 'last-resort',
      });
    }
  },
};

export interface YoungGenerationCap {
  /** Stops looking; the young generation keeps the size it has. */
  stop(): void;
  /**
   * One full collection that gives back what starting up left behind: loading the modules, the
   * first render and the development certificate grow the young generation to its limit (some
   * 11 MB resident with the bundled example, nearly all of it garbage), and V8 never shrinks it
   * by itself. It may then grow again up to the limit, as review load needs: capped before the
   * collection, it would stay at the size the collection leaves. Call it once, before serving: it pauses the event
   * loop for as long as a full collection takes.
   */
  releaseStartupMemory(): void;
}

/**
 * Looks at the young generation every `everyMs` and, once it has reached `limit`, stops it
 * growing any further (`--semi-space-growth-factor=1`, which V8 reads each time it would grow
 * it; `--max-semi-space-size` works only on the command line). The timer never keeps the
 * process alive.
 */
export function capYoungGeneration(
  limit = SERVE_YOUNG_GENERATION_LIMIT_BYTES,
  everyMs = 1_000,
  hooks: YoungGenerationHooks = v8Hooks,
): YoungGenerationCap {
  let timer: NodeJS.Timeout | undefined;
  const capped = (): boolean => {
    if (hooks.youngSize() < limit) return false;
    hooks.setFlags('--semi-space-growth-factor=1');
    return true;
  };
  const stop = (): void => {
    clearInterval(timer);
    timer = undefined;
  };
  const watch = (): void => {
    if (capped()) return;
    timer = setInterval(() => {
      if (capped()) stop();
    }, everyMs);
    timer.unref();
  };
  watch();
  return {
    stop,
    releaseStartupMemory() {
      stop();
      hooks.setFlags(`--semi-space-growth-factor=${String(V8_GROWTH_FACTOR)}`);
      hooks.collect();
      watch();
    },
  };
}
