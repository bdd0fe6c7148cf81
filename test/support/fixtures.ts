// Loads the real Kubernetes data in test/fixtures (see its README for where it comes from).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';
import type { AdmissionRequest } from '../../src/kube/admission.js';
import type { KubeObject } from '../../src/kube/object.js';

const root = fileURLToPath(new URL('../fixtures/', import.meta.url));

export function fixturePath(relative: string): string {
  return root + relative;
}

function readObject(relative: string): KubeObject {
  const text = readFileSync(root + relative, 'utf8');
  return (relative.endsWith('.json') ? JSON.parse(text) : load(text)) as KubeObject;
}

/** A manifest that was applied in the captured run: the Git side. */
export function manifest(name: string): KubeObject {
  return readObject(`captured/manifests/${name}.yaml`);
}

export type { AdmissionRequest };

/**
 * The request of a captured AdmissionReview, e.g. `review('20-set-image-deployment-by-alice')`.
 * `stage` is `validating` or `mutating`, with a suffix (`validating.2`) for later requests.
 */
export function review(label: string, stage = 'validating'): AdmissionRequest {
  const body = JSON.parse(
    readFileSync(`${root}captured/reviews/${label}.${stage}.json`, 'utf8'),
  ) as { request: AdmissionRequest };
  return body.request;
}

/** An object from Argo CD's test data, by its path under test/fixtures/argo-cd. */
export function argo(path: string): KubeObject {
  return readObject(`argo-cd/${path}`);
}

/** A deep copy with one change made by `edit`, for mutating real objects in tests. */
export function edited(object: KubeObject, edit: (copy: any) => void): KubeObject {
  const copy = structuredClone(object);
  edit(copy);
  return copy;
}

/** From the kube-apiserver v1.31 capture (test/fixtures/captured-1.31). */
export const captured131 = {
  /** The request of a validating-stage review, e.g. `review('73b-edit-clusterwidget-by-alice')`. */
  review(label: string): AdmissionRequest {
    const body = JSON.parse(
      readFileSync(`${root}captured-1.31/reviews/${label}.validating.json`, 'utf8'),
    ) as { request: AdmissionRequest };
    return body.request;
  },
  manifest(name: string): KubeObject {
    return readObject(`captured-1.31/manifests/${name}.yaml`);
  },
  /** An object as stored after a step (`NAME.json`), or read back at v1 (`NAME.v1.json`). */
  stored(name: string): KubeObject {
    return readObject(`captured-1.31/stored/${name}.json`);
  },
};
