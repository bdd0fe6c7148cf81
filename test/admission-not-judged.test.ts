// A write driftgate cannot compare with Git (Git's manifest in an API version it cannot convert
// to the write's) is allowed, never silently: the decision log, the audit annotation, a warning
// and a metric say so.
import { describe, expect, it } from 'vitest';
import { validate } from '../src/admission/handlers.js';
import { createMetrics } from '../src/admission/metrics.js';
import type { DecisionLogLine } from '../src/audit/record.js';
import type { AdmissionRequest } from '../src/kube/admission.js';
import { captureLogger } from './desired/git-fixture.js';
import { captured131 } from './support/fixtures.js';
import { config, facts, snapshotOf } from './support/policy.js';

// Git declares the HPA with Pods and memory metrics in autoscaling/v2; a webhook registered
// for autoscaling/v1 gets bob's maxReplicas patch (25) as v1, as the API server reads it back.
const git = snapshotOf([{ name: 'hpa', object: captured131.manifest('hpa-quantities-v2') }]);
const v1 = { group: 'autoscaling', version: 'v1', kind: 'HorizontalPodAutoscaler' };
const captured = captured131.review('25-patch-merge-hpa-quantities-v1-by-bob');
const request: AdmissionRequest = {
  ...captured,
  kind: v1,
  resource: { ...captured.resource, version: 'v1' },
  object: captured131.stored('25-patch-merge-hpa-quantities-v1-by-bob.v1'),
  oldObject: captured131.stored('24-apply-create-hpa-v2-quantities-by-argocd.v1'),
};

describe('a write that cannot be judged', () => {
  it('is allowed, warned, logged, annotated and counted', async () => {
    const lines: DecisionLogLine[] = [];
    const provider = { current: () => git, refreshIfOlderThan: async () => {}, status: () => [] };
    const metrics = createMetrics(provider);
    const response = await validate(request, {
      config: config(),
      provider,
      facts: () => facts(),
      now: () => new Date('2026-12-07T02:00:00Z'),
      logger: captureLogger().logger,
      decisionLog: (line) => lines.push(line),
      metrics,
    });
    expect(response.allowed).toBe(true);
    expect(response.warnings).toEqual([expect.stringMatching(/^driftgate: not judged: /)]);
    expect(response.auditAnnotations).toMatchObject({ decision: 'not-judged' });
    expect(lines).toEqual([
      expect.objectContaining({ decision: 'not-judged', reason: 'version', allowed: true }),
    ]);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^driftgate_not_judged_total\{reason="version"\} 1$/m);
    expect(text).toMatch(/driftgate_decisions_total\{decision="not-judged",[^}]*\} 1/);
  });
});
