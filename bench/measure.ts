// A small, honest timing loop: warm up, then time batches and report the median and p99 of
// the per-call time. Benchmarks are run by `npm run bench`, never by the test suite.

export interface BenchResult {
  readonly name: string;
  readonly medianMicros: number;
  readonly p99Micros: number;
  readonly calls: number;
}

export function measure(
  name: string,
  fn: () => unknown,
  { batches = 200, batchSize = 50, warmup = 2000 } = {},
): BenchResult {
  let sink: unknown;
  for (let i = 0; i < warmup; i++) sink = fn();
  const perCall: number[] = [];
  for (let b = 0; b < batches; b++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < batchSize; i++) sink = fn();
    perCall.push(Number(process.hrtime.bigint() - start) / 1000 / batchSize);
  }
  if (sink === Symbol.for('never')) console.log('');
  perCall.sort((a, b) => a - b);
  const at = (q: number) =>
    perCall[Math.min(perCall.length - 1, Math.floor(q * perCall.length))] ?? NaN;
  return { name, medianMicros: at(0.5), p99Micros: at(0.99), calls: batches * batchSize };
}

export function formatResults(results: readonly BenchResult[], baseline?: string): string {
  const base = results.find((r) => r.name === baseline);
  const rows = results.map((r) => {
    const ratio = base === undefined ? '' : ` ${(r.medianMicros / base.medianMicros).toFixed(2)}×`;
    return `  ${r.name.padEnd(48)} median ${r.medianMicros.toFixed(2).padStart(8)} µs  p99 ${r.p99Micros.toFixed(2).padStart(8)} µs${ratio}`;
  });
  return rows.join('\n');
}
