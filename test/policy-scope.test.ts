// Cluster-scoped custom resources, judged on the reviews a real kube-apiserver v1.31 sent for
// the cluster-scoped ClusterWidget (CRD clusterwidgets.capture.example.com): its reviews carry
// no namespace, and Git's manifest must be found under no namespace either.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { AdmissionRequest } from '../src/kube/admission.js';
import { resourcesFromAggregated } from '../src/kube/discovery.js';
import type { KubeObject } from '../src/kube/object.js';
import { decide } from '../src/policy/decide.js';
import { captured131, edited, fixturePath } from './support/fixtures.js';
import { asUser, config, facts, snapshotOf } from './support/policy.js';

const NOW = new Date('2026-12-07T02:00:00Z');
const crd = captured131.manifest('crd-clusterwidgets');
const widget = captured131.manifest('clusterwidget-global');
const create = captured131.review('73a-apply-create-clusterwidget-by-argocd');
const edit = captured131.review('73b-edit-clusterwidget-by-alice');
const remove = captured131.review('73c-delete-clusterwidget-by-alice');

const judge = (
  request: AdmissionRequest,
  git: readonly KubeObject[],
  cluster: ReturnType<typeof facts> = facts(),
) =>
  decide(
    request,
    snapshotOf(git.map((object, i) => ({ name: `doc-${i}`, object }))),
    cluster,
    config(),
    NOW,
  );

const CLUSTER_KEY = {
  group: 'capture.example.com',
  kind: 'ClusterWidget',
  namespace: '',
  name: 'global',
};

describe('a cluster-scoped custom resource declared in Git with its CRD', () => {
  it('reaches driftgate as the API server sends it: no namespace', () => {
    expect(edit.namespace).toBeUndefined();
    expect(remove.namespace).toBeUndefined();
  });

  it('is keyed with no namespace, although its source has a default namespace', () => {
    const git = snapshotOf([
      { name: 'crd', object: crd },
      { name: 'widget', object: widget },
    ]);
    expect(git.scopeOf('capture.example.com', 'ClusterWidget')).toBe('Cluster');
    expect(git.get(CLUSTER_KEY)?.key).toEqual(CLUSTER_KEY);
  });

  it('denies an edit under enforce (73b: kubectl edit of spec.size)', () => {
    const decision = judge(edit, [crd, widget]);
    expect(decision).toMatchObject({ kind: 'denied', reason: 'drift', key: CLUSTER_KEY });
    expect(decision.drift.map((d) => [d.path, d.desired, d.live])).toEqual([
      ['spec.size', 'large', 'small'],
    ]);
    expect(decision.message).toContain('capture.example.com/ClusterWidget global');
  });

  it('denies a delete under enforce (73c)', () => {
    expect(judge(remove, [crd, widget])).toMatchObject({
      kind: 'denied',
      reason: 'delete',
      key: CLUSTER_KEY,
    });
  });

  it('lets the sync identity create it (73a) and finds no drift in that object for anyone', () => {
    expect(judge(create, [crd, widget])).toMatchObject({ kind: 'sync' });
    expect(judge(asUser(create, 'alice@example.com', ['developers']), [crd, widget])).toMatchObject(
      { kind: 'allowed', reason: 'no-drift' },
    );
  });

  it('is judged in warn and audit mode too, not passed as unmanaged', () => {
    const git = snapshotOf([
      { name: 'crd', object: crd },
      { name: 'widget', object: widget },
    ]);
    for (const mode of ['warn', 'audit'] as const) {
      const decision = decide(edit, git, facts(), config({ mode }), NOW);
      expect(decision.kind).toBe(mode === 'warn' ? 'warned' : 'audited');
      expect(decision.drift.map((d) => d.path)).toEqual(['spec.size']);
    }
  });
});

describe('a custom resource whose CRD is not in Git', () => {
  it('is matched by the review itself: no namespace means cluster-scoped', () => {
    expect(judge(edit, [widget])).toMatchObject({
      kind: 'denied',
      reason: 'drift',
      key: CLUSTER_KEY,
    });
    expect(judge(remove, [widget])).toMatchObject({ kind: 'denied', reason: 'delete' });
  });

  it('is matched whatever namespace its manifest was given (the API server ignores it)', () => {
    // kustomize's `namespace:` sets metadata.namespace on kinds it does not know.
    const namespaced = edited(widget, (w) => {
      w.metadata.namespace = 'platform';
    });
    expect(judge(edit, [namespaced])).toMatchObject({ kind: 'denied', reason: 'drift' });
    expect(judge(remove, [namespaced])).toMatchObject({ kind: 'denied', reason: 'delete' });
  });

  it('takes the scope from the cluster’s discovery where it has been read', () => {
    expect(judge(edit, [widget], capturedClusterFacts())).toMatchObject({
      kind: 'denied',
      key: CLUSTER_KEY,
    });
  });

  it('does not match a namespaced object of the same name in another kind', () => {
    const other = edited(widget, (w) => {
      w.kind = 'Widget';
    });
    expect(judge(edit, [other])).toMatchObject({ kind: 'allowed', silent: true });
  });
});

// cert-manager's ClusterIssuer: cluster-scoped by its CRD. No ClusterIssuer write was captured:
// these reviews are 73b and 73c with the kind, resource and object of a ClusterIssuer, which
// the API server sends in the same form (no namespace).
const issuer: KubeObject = {
  apiVersion: 'cert-manager.io/v1',
  kind: 'ClusterIssuer',
  metadata: { name: 'root-ca' },
  spec: { ca: { secretName: 'root-ca' } },
};
const issuerCrd: KubeObject = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'clusterissuers.cert-manager.io' },
  spec: {
    group: 'cert-manager.io',
    names: { kind: 'ClusterIssuer', listKind: 'ClusterIssuerList', plural: 'clusterissuers' },
    scope: 'Cluster',
    versions: [{ name: 'v1', served: true, storage: true }],
  },
};
function asIssuer(request: AdmissionRequest, spec: Record<string, unknown> | undefined) {
  const kind = { group: 'cert-manager.io', version: 'v1', kind: 'ClusterIssuer' };
  const resource = { group: 'cert-manager.io', version: 'v1', resource: 'clusterissuers' };
  const object = (o: KubeObject | null | undefined, s: unknown) =>
    o == null
      ? o
      : { ...issuer, metadata: { ...o.metadata, name: 'root-ca', annotations: {} }, spec: s };
  return {
    ...request,
    kind,
    resource,
    requestKind: kind,
    requestResource: resource,
    name: 'root-ca',
    object: object(request.object, spec),
    oldObject: object(request.oldObject, issuer.spec),
  } as AdmissionRequest;
}

describe('a cert-manager ClusterIssuer declared in Git', () => {
  const changed = asIssuer(edit, { ca: { secretName: 'attacker-ca' } });
  const deleted = asIssuer(remove, undefined);

  it.each([
    ['with its CRD in Git', [issuerCrd, issuer], facts()],
    [
      'with its CRD installed by Helm, scope read from the cluster',
      [issuer],
      facts({ scopes: { 'cert-manager.io/ClusterIssuer': 'Cluster' } }),
    ],
    ['with nothing but the review to go on', [issuer], facts()],
  ])('%s: edits and deletes are denied under enforce', (_, git, cluster) => {
    const edit = judge(changed, git, cluster);
    expect(edit).toMatchObject({ kind: 'denied', reason: 'drift' });
    expect(edit.key).toEqual({
      group: 'cert-manager.io',
      kind: 'ClusterIssuer',
      namespace: '',
      name: 'root-ca',
    });
    expect(judge(deleted, git, cluster)).toMatchObject({ kind: 'denied', reason: 'delete' });
  });
});

/** Cluster facts whose scopes come from the captured cluster's aggregated discovery. */
function capturedClusterFacts(): ReturnType<typeof facts> {
  const read = (name: string) =>
    JSON.parse(readFileSync(fixturePath(`captured-1.31/discovery/${name}`), 'utf8'));
  const scopes = Object.fromEntries(
    resourcesFromAggregated([read('aggregated-api.json'), read('aggregated-apis.json')]).map(
      (r) => [`${r.group}/${r.kind}`, r.scope],
    ),
  );
  expect(scopes['capture.example.com/ClusterWidget']).toBe('Cluster');
  return facts({ scopes });
}
