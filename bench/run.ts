// `npm run bench`: every benchmark, each beside its baseline in the same run.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { benchAudit, formatAudit } from './audit.js';
import { benchDiff } from './diff.js';
import { benchHttp, formatHttp } from './http.js';
import { formatResults } from './measure.js';

console.log(
  `driftgate benchmarks — node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown cpu'} × ${os.cpus().length}, ${new Date().toISOString()}`,
);
console.log('\nDrift engine (ratio to the baseline)');
console.log(formatResults(benchDiff(), 'baseline: structuredClone(live Deployment)'));

console.log(
  '\nHTTP: /validate, 16 connections, keep-alive TLS; median of 3 alternating 5 s rounds',
);
console.log('A Deployment UPDATE that is denied (kubectl set image by a person):');
console.log(formatHttp(await benchHttp(10_000, 5, '20-set-image-deployment-by-alice')));
console.log('A Deployment UPDATE that is allowed (the sync identity re-applying Git):');
console.log(formatHttp(await benchHttp(10_000, 5, '11-apply-unchanged-deployment-by-argocd')));

console.log(
  '\ndriftgate audit --output json on a 1 GB kube-apiserver audit log (its own process each)',
);
console.log(formatAudit(await benchAudit()));

console.log('\nRendering 10,000 manifests from Git (its own process, for a clean RSS)');
// It prints its own figures and which targets it missed; a missed target is reported, not fatal.
spawnSync(
  process.execPath,
  ['--import', import.meta.resolve('tsx'), new URL('render.ts', import.meta.url).pathname],
  { stdio: 'inherit' },
);
