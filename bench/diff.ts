// Benchmark: the drift engine on a real Deployment pair (the captured manifest against the
// object a real API server stored), median microseconds per call.
import { readFileSync } from 'node:fs';
import { diff, diffWrite } from '../src/drift/diff.js';
import type { KubeObject } from '../src/kube/object.js';
import { parseDocuments } from '../src/cli/files.js';
import { measure, type BenchResult } from './measure.js';

const fixtures = new URL('../test/fixtures/captured/', import.meta.url);
const readReview = (label: string) =>
  (
    JSON.parse(readFileSync(new URL(`reviews/${label}.validating.json`, fixtures), 'utf8')) as {
      request: { object: KubeObject; oldObject: KubeObject };
    }
  ).request;

export function benchDiff(): BenchResult[] {
  const desired = parseDocuments(
    readFileSync(new URL('manifests/deploy-web.yaml', fixtures), 'utf8'),
  )[0] as KubeObject;
  const created = readReview('10-apply-create-deployment-by-argocd').object;
  const update = readReview('20-set-image-deployment-by-alice');
  const ignore = [{ group: 'apps', kind: 'Deployment', jsonPointers: ['/spec/replicas'] }];

  return [
    // What it costs just to walk the live object once: a floor for any comparison.
    measure('baseline: structuredClone(live Deployment)', () => structuredClone(created)),
    measure('diff(desired, live): Deployment in sync', () => diff(desired, created)),
    measure('diff with an ignore rule', () => diff(desired, created, { ignore })),
    measure('diffWrite declared: kubectl set image', () =>
      diffWrite(desired, update.oldObject, update.object),
    ),
    measure('diffWrite strict: kubectl set image', () =>
      diffWrite(desired, update.oldObject, update.object, { fieldPolicy: 'strict' }),
    ),
  ];
}
