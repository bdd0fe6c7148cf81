// Keeps a long-running `driftgate serve` from growing its young generation without bound. V8
// doubles the young generation each time enough has survived collection since it last grew,
// which under steady review load happens in the end whatever the live set: resident memory
// then grows by tens of MB, and each scavenge of a larger young generation pauses longer.
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/** The young generation's size past which it stops growing (V8's new space, both halves). */
export const SERVE_YOUNG_GENERATION_LIMIT_BYTES = 16 * 1024 * 1024;

export interface YoungGenerationHooks {
  /** The young generation's current size in bytes. */
  readonly youngSize: () => number;
  /** Sets a V8 flag for the whole process. */
  readonly setFlags: (flags: string) => void;
}

const v8Hooks: YoungGenerationHooks = {
  youngSize: () =>
    getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0,
  setFlags: setFlagsFromString,
};

/**
 * Looks at the young generation every `everyMs` and, once it has reached `limit`, stops it
 * growing any further (`--semi-space-growth-factor=1`, which V8 reads each time it would grow
 * it; `--max-semi-space-size` works only on the command line). Returns a function that stops
 * looking. The timer never keeps the process alive.
 */
export function capYoungGeneration(
  limit = SERVE_YOUNG_GENERATION_LIMIT_BYTES,
  everyMs = 1_000,
  hooks: YoungGenerationHooks = v8Hooks,
): () => void {
  const check = (): boolean => {
    if (hooks.youngSize() < limit) return false;
    hooks.setFlags('--semi-space-growth-factor=1');
    return true;
  };
  if (check()) return () => undefined;
  const timer = setInterval(() => {
    if (check()) clearInterval(timer);
  }, everyMs);
  timer.unref();
  return () => {
    clearInterval(timer);
  };
}
