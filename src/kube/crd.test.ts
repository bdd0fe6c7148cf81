import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { customResourceFacts } from './crd.js';
import type { KubeObject } from './object.js';

// The CRD applied on kube-apiserver v1.31 in the capture (test/fixtures/captured-1.31).
const clusterWidgets = load(
  readFileSync(
    fileURLToPath(
      new URL(
        '../../test/fixtures/captured-1.31/manifests/crd-clusterwidgets.yaml',
        import.meta.url,
      ),
    ),
    'utf8',
  ),
) as KubeObject & { spec: Record<string, any> };

describe('customResourceFacts', () => {
  it('reads group, kind, scope and served versions of a CRD', () => {
    expect(customResourceFacts(clusterWidgets)).toEqual({
      group: 'capture.example.com',
      kind: 'ClusterWidget',
      scope: 'Cluster',
      versions: ['v1'],
      conversion: 'None',
    });
  });

  it('leaves out versions that are not served, and reads a conversion webhook', () => {
    const crd = {
      ...clusterWidgets,
      spec: {
        ...clusterWidgets.spec,
        versions: [
          { ...clusterWidgets.spec.versions[0], name: 'v1alpha1', served: false, storage: false },
          ...clusterWidgets.spec.versions,
        ],
        conversion: { strategy: 'Webhook', webhook: { conversionReviewVersions: ['v1'] } },
      },
    };
    expect(customResourceFacts(crd)).toMatchObject({ versions: ['v1'], conversion: 'Webhook' });
  });

  it.each([
    ['another kind', { ...clusterWidgets, kind: 'ConfigMap' }],
    ['no scope', { ...clusterWidgets, spec: { ...clusterWidgets.spec, scope: undefined } }],
    ['no kind', { ...clusterWidgets, spec: { ...clusterWidgets.spec, names: {} } }],
  ])('says nothing of %s', (_, object) => {
    expect(customResourceFacts(object as KubeObject)).toBeUndefined();
  });
});
