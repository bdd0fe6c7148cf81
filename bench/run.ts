// `npm run bench`: every benchmark, each beside its baseline in the same run.
import os from 'node:os';
import { benchDiff } from './diff.js';
import { formatResults } from './measure.js';

console.log(
  `driftgate benchmarks — node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown cpu'} × ${os.cpus().length}, ${new Date().toISOString()}`,
);
console.log('\nDrift engine (ratio to the baseline)');
console.log(formatResults(benchDiff(), 'baseline: structuredClone(live Deployment)'));
