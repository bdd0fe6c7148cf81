import { describe, expect, it } from 'vitest';
import {
  DiscoveryDocumentError,
  isKubernetesGroup,
  resourcesFromAggregated,
  resourcesFromPlain,
} from './discovery.js';

// Shaped as kube-apiserver v1.31 answers /apis (aggregated) and /apis/<group>/<version> (plain).
const resource = (name: string, kind: string, scope: string) => ({
  resource: name,
  responseKind: { group: '', version: '', kind },
  scope,
  verbs: ['get'],
  subresources: [{ subresource: 'status', responseKind: { kind }, verbs: ['get'] }],
});
const aggregated = (versions: [string, ReturnType<typeof resource>[]][]) => ({
  kind: 'APIGroupDiscoveryList',
  apiVersion: 'apidiscovery.k8s.io/v2',
  metadata: {},
  items: [
    {
      metadata: { name: 'autoscaling', creationTimestamp: null },
      versions: versions.map(([version, resources]) => ({
        version,
        resources,
        freshness: 'Current',
      })),
    },
  ],
});

describe('resourcesFromAggregated', () => {
  it('collects versions in the order served, the preferred first, and skips subresources', () => {
    const hpa = resource('horizontalpodautoscalers', 'HorizontalPodAutoscaler', 'Namespaced');
    expect(
      resourcesFromAggregated([
        aggregated([
          ['v2', [hpa]],
          ['v1', [hpa]],
        ]),
      ]),
    ).toEqual([
      {
        group: 'autoscaling',
        resource: 'horizontalpodautoscalers',
        kind: 'HorizontalPodAutoscaler',
        scope: 'Namespaced',
        versions: ['v2', 'v1'],
      },
    ]);
  });

  it('refuses a resource whose scope differs between versions', () => {
    const a = resource('things', 'Thing', 'Namespaced');
    const b = resource('things', 'Thing', 'Cluster');
    expect(() =>
      resourcesFromAggregated([
        aggregated([
          ['v2', [a]],
          ['v1', [b]],
        ]),
      ]),
    ).toThrow(DiscoveryDocumentError);
  });

  it('names where a document is wrong', () => {
    const bad = aggregated([['v1', [resource('things', 'Thing', 'Everywhere')]]]);
    expect(() => resourcesFromAggregated([bad])).toThrow(
      'document 0.items[0].versions[0].resources[0].scope: Everywhere, not Cluster or Namespaced',
    );
  });
});

describe('resourcesFromPlain', () => {
  it('reads namespaced from each APIResourceList and puts the preferred version first', () => {
    const groups = {
      kind: 'APIGroupList',
      groups: [
        {
          name: 'autoscaling',
          versions: [{ version: 'v2' }, { version: 'v1' }],
          preferredVersion: { groupVersion: 'autoscaling/v2', version: 'v2' },
        },
      ],
    };
    const list = (version: string) => ({
      kind: 'APIResourceList',
      groupVersion: `autoscaling/${version}`,
      resources: [
        { name: 'horizontalpodautoscalers', namespaced: true, kind: 'HorizontalPodAutoscaler' },
        {
          name: 'horizontalpodautoscalers/status',
          namespaced: true,
          kind: 'HorizontalPodAutoscaler',
        },
      ],
    });
    expect(resourcesFromPlain(groups, [list('v1'), list('v2')])).toEqual([
      {
        group: 'autoscaling',
        resource: 'horizontalpodautoscalers',
        kind: 'HorizontalPodAutoscaler',
        scope: 'Namespaced',
        versions: ['v2', 'v1'],
      },
    ]);
  });
});

describe('isKubernetesGroup', () => {
  it.each([
    ['', true],
    ['apps', true],
    ['rbac.authorization.k8s.io', true],
    ['flowcontrol.apiserver.k8s.io', true],
    ['cert-manager.io', false],
    ['capture.example.com', false],
  ])('%s → %s', (group, expected) => {
    expect(isKubernetesGroup(group)).toBe(expected);
  });
});
