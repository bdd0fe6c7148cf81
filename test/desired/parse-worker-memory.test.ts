// The parse worker gives back what a render left behind once the render is done: the worker
// sits idle between commits, and its isolate is not collected by itself while idle.
import type { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { ParseWorkerPool } from '../../src/desired/parse-task.js';

const configMaps = (count: number): string =>
  Array.from(
    { length: count },
    (_, index) =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${index}\n  namespace: shop\ndata:\n  index: "${index}"\n  settings.yaml: |\n    replicas: 3\n`,
  ).join('---\n');

describe('the parse worker between renders', () => {
  const pool = new ParseWorkerPool();
  afterAll(() => pool.close());

  it('holds little more heap than it uses once a large render is done', async () => {
    let documents = 0;
    const outcome = await pool.run(
      { kind: 'text', text: configMaps(20_000), label: 'output', argocd: false, persist: null },
      (chunk) => (documents += chunk.length),
      60_000,
    );
    expect(outcome.ok).toBe(true);
    expect(documents).toBe(20_000);
    // The pool's own worker, read here to measure it.
    const worker = (pool as unknown as { worker?: Worker }).worker;
    if (worker === undefined) throw new Error('the worker is gone');
    // The worker runs its tasks one after another, a large one followed by its collection at
    // once: once a small task is done, the collection after the large one is over.
    const small = await pool.run(
      { kind: 'text', text: configMaps(1), label: 'output', argocd: false, persist: null },
      () => undefined,
      60_000,
    );
    expect(small.ok).toBe(true);
    const heap = await worker.getHeapStatistics();
    expect(heap.total_heap_size - heap.used_heap_size).toBeLessThan(4 * 1024 * 1024);
  });

  it('collects what a small task left behind once it has been idle a while, not at once', async () => {
    const worker = (pool as unknown as { worker?: Worker }).worker;
    if (worker === undefined) throw new Error('the worker is gone');
    // A few megabytes of garbage: under what is collected at once.
    const outcome = await pool.run(
      { kind: 'text', text: configMaps(1_500), label: 'output', argocd: false, persist: null },
      () => undefined,
      60_000,
    );
    expect(outcome.ok).toBe(true);
    const left = (await worker.getHeapStatistics()).used_heap_size;
    let now = left;
    for (let tries = 0; tries < 50 && now > left - 1024 * 1024; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      now = (await worker.getHeapStatistics()).used_heap_size;
    }
    expect(now).toBeLessThan(left - 1024 * 1024);
  });
});
