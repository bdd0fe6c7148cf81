// Loads the real Kubernetes data in test/fixtures (see its README for where it comes from).
import { readdirSync, readFileSync } from 'node:fs';
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

/** A manifest applied in the kube-apiserver 1.31 capture (`captured-1.31/manifests`). */
export function manifest131(name: string): KubeObject {
  return readObject(`captured-1.31/manifests/${name}.yaml`);
}

/** A review of the kube-apiserver 1.31 capture, as `review` reads those of the first one. */
export function review131(label: string, stage = 'validating'): AdmissionRequest {
  const body = JSON.parse(
    readFileSync(`${root}captured-1.31/reviews/${label}.${stage}.json`, 'utf8'),
  ) as { request: AdmissionRequest };
  return body.request;
}

/** Every review file of the 1.31 capture whose name starts with `prefix`: `[label, stage]`. */
export function reviews131(prefix: string): [label: string, stage: string][] {
  return readdirSync(`${root}captured-1.31/reviews`)
    .filter((file) => file.startsWith(prefix))
    .sort()
    .map((file) => {
      const match = /^(.*)\.((?:mutating|validating)(?:\.[0-9]+)?)\.json$/.exec(file);
      if (match === null) throw new Error(`unexpected review file ${file}`);
      return [match[1] as string, match[2] as string];
    });
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

/** An object as the 1.31 API server stored it after a step (`captured-1.31/stored/`). */
export function stored131(name: string): KubeObject {
  return readObject(`captured-1.31/stored/${name}.json`);
}
/** From the kube-apiserver v1.31 capture (test/fixtures/captured-1.31), as one object. */
export const captured131 = {
  review: (label: string) => review131(label),
  manifest: manifest131,
  stored: stored131,
};
