// The table of Kubernetes' own kinds is generated from a real API server's discovery: running
// the checked-in generator again on the captured discovery must give the checked-in file.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readDiscoveryDirectory, renderBuiltinResources } from '../scripts/generate-scopes.js';
import { builtinScope, builtinVersions } from '../src/kube/builtin.js';
import { resourcesFromAggregated, resourcesFromPlain } from '../src/kube/discovery.js';
import { fixturePath } from './support/fixtures.js';

const discovery = fixturePath('captured-1.31/discovery');
const generated = fileURLToPath(
  new URL('../src/kube/generated/builtin-resources.ts', import.meta.url),
);
const present = existsSync(discovery);
if (!present) console.warn(`skipping: no captured discovery at ${discovery}`);

describe.skipIf(!present)('scripts/generate-scopes.ts on kube-apiserver v1.31 discovery', () => {
  it('gives the checked-in table', async () => {
    const text = await renderBuiltinResources(readDiscoveryDirectory(discovery));
    expect(text).toBe(readFileSync(generated, 'utf8'));
  });

  it('reads the same resources from aggregated and from plain discovery', () => {
    const json = (name: string) => JSON.parse(readFileSync(`${discovery}/${name}`, 'utf8'));
    const aggregated = resourcesFromAggregated([
      json('aggregated-api.json'),
      json('aggregated-apis.json'),
    ]);
    const lists = [
      json('api/v1.json'),
      ...readdirSync(`${discovery}/apis`).flatMap((group) =>
        readdirSync(`${discovery}/apis/${group}`).map((file) => json(`apis/${group}/${file}`)),
      ),
    ];
    expect(resourcesFromPlain(json('apis.json'), lists)).toEqual(aggregated);
    const resources = readDiscoveryDirectory(discovery);
    expect(resources.length).toBeGreaterThan(50);
    expect(resources.find((r) => r.resource === 'horizontalpodautoscalers')).toEqual({
      group: 'autoscaling',
      resource: 'horizontalpodautoscalers',
      kind: 'HorizontalPodAutoscaler',
      scope: 'Namespaced',
      versions: ['v2', 'v1'],
    });
  });

  it('leaves out the CRDs installed in the captured cluster', () => {
    const groups = new Set(readDiscoveryDirectory(discovery).map((r) => r.group));
    expect(groups).not.toContain('capture.example.com');
    expect(groups).not.toContain('cert-manager.io');
  });
});

describe('the generated table', () => {
  it.each([
    ['', 'Namespace', 'Cluster'],
    ['', 'ConfigMap', 'Namespaced'],
    ['rbac.authorization.k8s.io', 'ClusterRole', 'Cluster'],
    ['rbac.authorization.k8s.io', 'Role', 'Namespaced'],
    ['apiextensions.k8s.io', 'CustomResourceDefinition', 'Cluster'],
    ['admissionregistration.k8s.io', 'ValidatingAdmissionPolicy', 'Cluster'],
    ['storage.k8s.io', 'StorageClass', 'Cluster'],
    ['apps', 'Deployment', 'Namespaced'],
  ])('says %s/%s is %s', (group, kind, scope) => {
    expect(builtinScope(group, kind)).toBe(scope);
  });

  it('knows no custom kind, whatever its name suggests', () => {
    expect(builtinScope('cert-manager.io', 'ClusterIssuer')).toBeUndefined();
    expect(builtinScope('capture.example.com', 'ClusterWidget')).toBeUndefined();
  });

  it('lists served versions, the preferred first', () => {
    expect(builtinVersions('autoscaling', 'HorizontalPodAutoscaler')).toEqual(['v2', 'v1']);
    expect(builtinVersions('apps', 'Deployment')).toEqual(['v1']);
  });
});
