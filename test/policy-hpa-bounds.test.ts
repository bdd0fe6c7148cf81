// What an HPA's allowance covers, on the 1.31 capture: `kubectl scale` of an HPA's target below
// its minReplicas (84) and to zero (85, a Scale with `spec: {}`), and the HPA's own answer.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { AdmissionRequest } from '../src/kube/admission.js';
import { indexHpaTargets } from '../src/cluster/cluster-facts.js';
import { decide } from '../src/policy/decide.js';
import type { ClusterFacts } from '../src/policy/facts.js';
import { keyString } from '../src/policy/snapshot-index.js';
import { edited, fixturePath, review131 } from './support/fixtures.js';
import { config, facts, snapshot131 } from './support/policy.js';

const NOW = new Date('2026-12-07T01:00:00Z');
// Git: Deployment web with 2 replicas, HPA web (autoscaling/v1) with minReplicas 2, maxReplicas 5.
const withHpa = snapshot131(['deploy-web', 'hpa-web-v1']);
const withoutHpa = snapshot131(['deploy-web']);
const judge = (
  request: AdmissionRequest,
  desired = withHpa,
  cluster = facts(),
  cfg = config({ mode: 'enforce' }),
) => decide(request, desired, cluster, cfg, NOW);

const belowMin = review131('84-scale-deployment-web-below-hpa-min-by-alice');
const toZero = review131('85-scale-deployment-web-to-zero-by-alice');

describe('the HPA allowance is what the HPA could set itself: [minReplicas, maxReplicas]', () => {
  it('kubectl scale below minReplicas is judged against Git', () => {
    const decision = judge(belowMin);
    expect(decision.kind).toBe('denied');
    expect(decision.drift).toEqual([
      { path: 'spec.replicas', pointer: '/spec/replicas', desired: 2, live: 1 },
    ]);
    expect(decision.message).toContain(
      'HorizontalPodAutoscaler shop/web allows spec.replicas in [2, 5] only',
    );
  });

  it('kubectl scale --replicas=0 sends a Scale without replicas, which means 0', () => {
    expect(toZero.object?.spec).toEqual({});
    const decision = judge(toZero);
    expect(decision.kind).toBe('denied');
    expect(decision.drift).toEqual([
      { path: 'spec.replicas', pointer: '/spec/replicas', desired: 2, live: 0 },
    ]);
  });

  it('without an HPA, scaling to zero is drift all the same', () => {
    expect(judge(toZero, withoutHpa).drift.map((d) => d.live)).toEqual([0]);
  });

  it('within the bounds the count is the HPA’s, and the decision says so', () => {
    const toFour = { ...belowMin, object: edited(belowMin.object!, (o) => (o.spec.replicas = 4)) };
    expect(judge(toFour)).toMatchObject({
      kind: 'allowed',
      reason: 'no-drift',
      message: expect.stringContaining('spec.replicas is left to HorizontalPodAutoscaler shop/web'),
    });
    const toSix = { ...belowMin, object: edited(belowMin.object!, (o) => (o.spec.replicas = 6)) };
    expect(judge(toSix).kind).toBe('denied');
  });

  it('an HPA found only in the cluster carries its bounds too', () => {
    const cluster = facts({ hpaTargets: ['Deployment/web'], hpaBounds: [1, 5] });
    expect(judge(belowMin, withoutHpa, cluster).kind).toBe('allowed');
    expect(judge(toZero, withoutHpa, cluster)).toMatchObject({
      kind: 'denied',
      message: expect.stringContaining('allows spec.replicas in [1, 5] only'),
    });
  });

  it('an HPA that may scale to zero (minReplicas 0) lets nobody else do it', () => {
    // An HPA web as a real API server listed it (namespace cap, min 2, max 6), moved to shop
    // and made to allow 0.
    const listed = JSON.parse(
      readFileSync(fixturePath('apiserver/01a-hpa-list-all.json'), 'utf8'),
    ) as { items: { metadata: Record<string, unknown>; spec: Record<string, unknown> }[] };
    const hpa = listed.items[1]!;
    hpa.metadata.namespace = 'shop';
    Object.assign(hpa.spec, { minReplicas: 0, maxReplicas: 5 });
    const targets = indexHpaTargets([hpa]);
    const cluster: ClusterFacts = { ...facts(), hpaOf: (key) => targets.get(keyString(key)) };
    expect(judge(belowMin, withoutHpa, cluster).kind).toBe('allowed');
    expect(judge(toZero, withoutHpa, cluster).message).toContain(
      'allows spec.replicas in [1, 5] only',
    );
  });

  it('warn mode allows it, with a warning that names the HPA’s bounds', () => {
    const decision = judge(belowMin, withHpa, facts(), config({ mode: 'warn' }));
    expect(decision.kind).toBe('warned');
    expect(decision.warnings).toContain(
      "driftgate: HorizontalPodAutoscaler shop/web allows spec.replicas in [2, 5] only; beyond that Git's count holds.",
    );
  });

  it('the HPA raising its target back to its minimum passes, exempt or not', () => {
    const raise = review131('controller-84-horizontal-pod-autoscaler-deployments-scale-update');
    expect(judge(raise).kind).toBe('exempt');
    const notExempt = config({ mode: 'enforce', exemptIdentities: { users: [] } });
    expect(judge(raise, withHpa, facts(), notExempt)).toMatchObject({ allowed: true });
  });
});
