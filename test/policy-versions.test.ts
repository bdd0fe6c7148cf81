// Git's manifest and the write in different API versions, judged on the reviews a real
// kube-apiserver v1.31 sent through a webhook registered for autoscaling/v2 only with
// matchPolicy Equivalent: every HPA write arrives as v2 (`kind`), whatever version the client
// used (`requestKind`), so Git's autoscaling/v1 manifest is converted to v2 before comparing.
import { describe, expect, it } from 'vitest';
import type { AdmissionRequest } from '../src/kube/admission.js';
import type { KubeObject } from '../src/kube/object.js';
import { decide } from '../src/policy/decide.js';
import { captured131, edited } from './support/fixtures.js';
import { asUser, config, facts, snapshotOf } from './support/policy.js';

const NOW = new Date('2026-12-07T02:00:00Z');
const hpaV1 = captured131.manifest('hpa-web-v1');
const hpaV2 = captured131.manifest('hpa-quantities-v2');
const judge = (request: AdmissionRequest, git: readonly KubeObject[], mode = 'enforce') =>
  decide(
    request,
    snapshotOf(git.map((object, i) => ({ name: `doc-${i}`, object }))),
    facts(),
    config({ mode }),
    NOW,
  );
const review = (label: string) => captured131.review(label);
const paths = (decision: ReturnType<typeof judge>) =>
  decision.drift.map((d) => [d.path, d.desired, d.live]);

describe('Git declares autoscaling/v1, writes arrive as v2', () => {
  it('sees the requests as the capture recorded them', () => {
    const bob = review('23-patch-merge-hpa-v1-by-bob');
    expect(bob.requestKind?.version).toBe('v1');
    expect(bob.kind.version).toBe('v2');
    expect(bob.object?.apiVersion).toBe('autoscaling/v2');
  });

  it('finds no drift in the object Git’s own v1 manifest created (21, by anyone)', () => {
    const create = review('21-apply-create-hpa-v1-by-argocd');
    expect(judge(create, [hpaV1])).toMatchObject({ kind: 'sync' });
    expect(judge(asUser(create, 'alice@example.com', ['developers']), [hpaV1])).toMatchObject({
      kind: 'allowed',
      reason: 'no-drift',
    });
  });

  it('denies a v2 edit of the cpu target and maxReplicas (22, what kubectl edit sends)', () => {
    const decision = judge(review('22-patch-merge-hpa-v2-by-alice'), [hpaV1]);
    expect(decision).toMatchObject({ kind: 'denied', reason: 'drift' });
    expect(paths(decision)).toEqual([
      ['spec.maxReplicas', 5, 6],
      ['spec.metrics[0].resource.target.averageUtilization', 70, 80],
    ]);
  });

  it('denies a v1 patch of targetCPUUtilizationPercentage (23), converted to v2 by the API server', () => {
    const decision = judge(review('23-patch-merge-hpa-v1-by-bob'), [hpaV1]);
    expect(decision).toMatchObject({ kind: 'denied', reason: 'drift' });
    expect(paths(decision)).toEqual([
      ['spec.metrics[0].resource.target.averageUtilization', 70, 90],
    ]);
    // maxReplicas 6 was there before bob's write: not his doing.
    expect(decision.preexisting.map((d) => d.path)).toEqual(['spec.maxReplicas']);
  });

  it('denies a metric added at v2, which v1 could not even express', () => {
    const request = review('22-patch-merge-hpa-v2-by-alice');
    const added = {
      ...request,
      object: edited(request.object!, (hpa) => {
        hpa.spec.maxReplicas = 5;
        hpa.spec.metrics[0].resource.target.averageUtilization = 70;
        hpa.spec.metrics.push({
          type: 'Resource',
          resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '1Gi' } },
        });
      }),
    };
    const decision = judge(added, [hpaV1]);
    expect(decision).toMatchObject({ kind: 'denied', reason: 'drift' });
    expect(decision.drift.map((d) => d.path)).toEqual(['spec.metrics']);
  });

  it('lets the sync identity restore Git (27)', () => {
    expect(judge(review('27-apply-reapply-hpa-v1-by-argocd'), [hpaV1])).toMatchObject({
      kind: 'sync',
    });
  });
});

describe('Git declares autoscaling/v2', () => {
  it('denies a v1 patch of maxReplicas (25)', () => {
    const decision = judge(review('25-patch-merge-hpa-quantities-v1-by-bob'), [hpaV2]);
    expect(decision).toMatchObject({ kind: 'denied', reason: 'drift' });
    expect(paths(decision)).toEqual([['spec.maxReplicas', 5, 7]]);
  });

  it('allows a write that puts Git back, with Git’s quantities in other forms (26, by anyone)', () => {
    const back = asUser(
      review('26-apply-unchanged-hpa-v2-quantities-by-argocd'),
      'bob@example.com',
      ['oncall'],
    );
    expect(judge(back, [hpaV2])).toMatchObject({ kind: 'allowed', reason: 'no-drift' });
  });

  it('denies a v1 delete (28)', () => {
    expect(judge(review('28-delete-hpa-quantities-v1-by-alice'), [hpaV2])).toMatchObject({
      kind: 'denied',
      reason: 'delete',
    });
  });
});

// A webhook registered for autoscaling/v1 (or for every version, matchPolicy Exact) gets v1
// objects. These requests are 22 and 23 with object and oldObject as the API server reads the
// same HPAs back through autoscaling/v1 (stored/*.v1.json).
function atV1(label: string, object: string, old: string): AdmissionRequest {
  const request = review(label);
  const v1 = { group: 'autoscaling', version: 'v1', kind: 'HorizontalPodAutoscaler' };
  return {
    ...request,
    kind: v1,
    resource: { ...request.resource, version: 'v1' },
    object: captured131.stored(object),
    oldObject: captured131.stored(old),
  };
}

describe('the reverse: Git declares autoscaling/v2, writes arrive as v1', () => {
  const webV2 = edited(hpaV1, (hpa) => {
    hpa.apiVersion = 'autoscaling/v2';
    delete hpa.spec.targetCPUUtilizationPercentage;
    hpa.spec.metrics = [
      {
        type: 'Resource',
        resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
      },
    ];
  });

  it('converts a cpu-only manifest to targetCPUUtilizationPercentage and denies the change', () => {
    const request = atV1(
      '23-patch-merge-hpa-v1-by-bob',
      '23-patch-merge-hpa-v1-by-bob.v1',
      '22-patch-merge-hpa-v2-by-alice.v1',
    );
    const decision = judge(request, [webV2]);
    expect(decision).toMatchObject({ kind: 'denied', reason: 'drift' });
    expect(paths(decision)).toEqual([['spec.targetCPUUtilizationPercentage', 70, 90]]);
  });

  it('does not judge metrics v1 carries only in annotations: not-judged, recorded, allowed', () => {
    const request = atV1(
      '25-patch-merge-hpa-quantities-v1-by-bob',
      '25-patch-merge-hpa-quantities-v1-by-bob.v1',
      '24-apply-create-hpa-v2-quantities-by-argocd.v1',
    );
    const decision = judge(request, [hpaV2]);
    expect(decision).toMatchObject({
      kind: 'not-judged',
      reason: 'version',
      allowed: true,
      silent: false,
      key: { group: 'autoscaling', kind: 'HorizontalPodAutoscaler', namespace: 'shop' },
    });
    expect(decision.warnings).toEqual([expect.stringContaining('driftgate: not judged:')]);
    expect(decision.message).toContain('autoscaling/v2 only');
  });
});

describe('custom resources in another version than Git’s', () => {
  const crd = captured131.manifest('crd-clusterwidgets');
  const widgetAt = (apiVersion: string) =>
    edited(captured131.manifest('clusterwidget-global'), (w) => {
      w.apiVersion = apiVersion;
    });
  const withVersions = (conversion: Record<string, unknown> | undefined) =>
    edited(crd, (c) => {
      const v1 = c.spec.versions[0];
      c.spec.versions = [{ ...v1, name: 'v1beta1', storage: false }, v1];
      if (conversion !== undefined) c.spec.conversion = conversion;
    });
  const edit = review('73b-edit-clusterwidget-by-alice');

  it('is not judged when its CRD converts with a webhook', () => {
    const git = [
      withVersions({
        strategy: 'Webhook',
        webhook: {
          conversionReviewVersions: ['v1'],
          clientConfig: { service: { namespace: 'widgets', name: 'convert' } },
        },
      }),
      widgetAt('capture.example.com/v1beta1'),
    ];
    for (const mode of ['enforce', 'warn', 'audit']) {
      expect(judge(edit, git, mode)).toMatchObject({ kind: 'not-judged', reason: 'version' });
    }
  });

  it('is not judged when Git’s version is one the CRD does not serve', () => {
    expect(judge(edit, [crd, widgetAt('capture.example.com/v1alpha1')])).toMatchObject({
      kind: 'not-judged',
      reason: 'version',
    });
  });

  it('is judged when the CRD’s versions differ in apiVersion only (strategy None)', () => {
    expect(
      judge(edit, [withVersions({ strategy: 'None' }), widgetAt('capture.example.com/v1beta1')]),
    ).toMatchObject({ kind: 'denied', reason: 'drift' });
  });

  it('still denies a delete, which compares no fields', () => {
    expect(
      judge(review('73c-delete-clusterwidget-by-alice'), [
        crd,
        widgetAt('capture.example.com/v1alpha1'),
      ]),
    ).toMatchObject({ kind: 'denied', reason: 'delete' });
  });
});
