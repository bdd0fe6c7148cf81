// Runs bench/heap.ts alone, a process per snapshot size, and prints its table.
// npx tsx bench/heap-run.ts
import { benchHeap, formatHeap } from './memory.js';

const results = [await benchHeap(10_000, 1), await benchHeap(100_000, 5)];
console.log(JSON.stringify(results));
console.log(formatHeap(results));
