import { performance } from 'node:perf_hooks';

/**
 * A long loop on the event loop's thread, cut into slices of about `sliceMs` with a turn of the
 * event loop between: under review load each turn also answers the reviews queued meanwhile, so
 * a slice must be short enough that they do not wait long, and long enough that 100,000 items
 * are not thousands of turns. The clock is read every `every` items.
 *
 *     const slices = new Slices();
 *     for (const item of items) {
 *       work(item);
 *       if (slices.due()) await slices.pause();
 *     }
 */
export class Slices {
  private begun = performance.now();
  private count = 0;

  constructor(
    private readonly sliceMs = 5,
    private readonly every = 128,
  ) {}

  /** Has this slice taken its time? Called once per item. */
  due(): boolean {
    return ++this.count % this.every === 0 && performance.now() - this.begun >= this.sliceMs;
  }

  /** A turn of the event loop; the next slice begins after it. */
  async pause(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    this.resume();
  }

  /** The next slice begins now: after a turn taken elsewhere (a generator that yields to it). */
  resume(): void {
    this.begun = performance.now();
  }
}
