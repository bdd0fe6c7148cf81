// Keeps `driftgate audit` in constant memory however long the log: V8 doubles the young
// generation each time enough has survived collection since it last grew, and in a stream of
// millions of lines that always happens in the end, whatever the live set.
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/** Large enough that collections stay rare (measured: no slower than unbounded on 1 GB). */
export const YOUNG_GENERATION_LIMIT_BYTES = 16 * 1024 * 1024;
const CHECK_EVERY = 512;

/**
 * Returns a function to call once per line read: every few thousand calls it looks at the
 * young generation, and once it has reached `limit` stops it growing any further. Growth is read
 * from `--semi-space-growth-factor` each time V8 grows the space, so setting it to 1 at run time
 * takes effect (Node's `--max-semi-space-size` would too, but only on the command line). It sets
 * a flag of the whole process: for a command that runs once and exits.
 */
export function boundYoungGeneration(limit = YOUNG_GENERATION_LIMIT_BYTES): () => void {
  let calls = 0;
  let bounded = false;
  return () => {
    if (bounded || ++calls % CHECK_EVERY !== 0) return;
    const young = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
    if (young !== undefined && young.space_size >= limit) {
      setFlagsFromString('--semi-space-growth-factor=1');
      bounded = true;
    }
  };
}
