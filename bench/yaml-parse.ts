// Benchmark: parse one large multi-document manifest (what `kustomize build` or `helm template`
// prints for a big application) as kubectl reads YAML, against plain js-yaml on the same text.
// Run: npx tsx bench/yaml-parse.ts [documents]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadAll } from 'js-yaml';
import { parseManifests } from '../src/desired/manifest-parser.js';

const count = Number(process.argv[2] ?? 5_000);
const fixtures = join(import.meta.dirname, '..', 'test', 'fixtures', 'captured', 'manifests');
const templates = ['deploy-web.yaml', 'svc-web.yaml', 'cm-web-config.yaml', 'sts-db.yaml'].map(
  (name) => readFileSync(join(fixtures, name), 'utf8'),
);
const documents: string[] = [];
for (let index = 0; index < count; index++) {
  const template = templates[index % templates.length] ?? '';
  documents.push(template.replace(/^( {2}name: )(.+)$/m, `$1$2-${index}`));
}
const text = documents.join('---\n');
console.log(`${count} documents, ${(text.length / 1024 / 1024).toFixed(1)} MB`);

// Interleaved rounds, median of each: this machine is shared, so one slow round says little.
const candidates: Record<string, () => number> = {
  'driftgate parseManifests': () => parseManifests(text, 'big.yaml').length,
  'plain js-yaml loadAll': () => loadAll(text).length,
};
const times = new Map<string, number[]>();
for (let round = 0; round < 9; round++) {
  for (const [name, run] of Object.entries(candidates)) {
    const started = performance.now();
    const parsed = run();
    const elapsed = performance.now() - started;
    if (parsed !== count) throw new Error(`${name} found ${parsed} documents`);
    times.set(name, [...(times.get(name) ?? []), elapsed]);
  }
}
const median = (values: readonly number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
const base = median(times.get('plain js-yaml loadAll') ?? []);
for (const [name, values] of times) {
  const ms = median(values);
  console.log(`${name.padEnd(26)} ${ms.toFixed(0).padStart(6)} ms  ${(ms / base).toFixed(2)}x`);
}
