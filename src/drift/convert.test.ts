import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { CustomResourceFacts } from '../kube/crd.js';
import type { KubeObject } from '../kube/object.js';
import { convertToVersion } from './convert.js';

// HPAs as a real kube-apiserver v1.31 stored them, and read back through autoscaling/v1.
const stored = (name: string): KubeObject =>
  JSON.parse(
    readFileSync(
      fileURLToPath(
        new URL(`../../test/fixtures/captured-1.31/stored/${name}.json`, import.meta.url),
      ),
      'utf8',
    ),
  ) as KubeObject;

const V2 = { group: 'autoscaling', version: 'v2', kind: 'HorizontalPodAutoscaler' };
const V1 = { group: 'autoscaling', version: 'v1', kind: 'HorizontalPodAutoscaler' };

const hpaV1 = (
  spec: Record<string, unknown>,
  annotations?: Record<string, string>,
): KubeObject => ({
  apiVersion: 'autoscaling/v1',
  kind: 'HorizontalPodAutoscaler',
  metadata: { name: 'web', ...(annotations === undefined ? {} : { annotations }) },
  spec: {
    scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
    maxReplicas: 5,
    ...spec,
  },
});
const cpu = (averageUtilization: number) => ({
  type: 'Resource',
  resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization } },
});

function converted(result: ReturnType<typeof convertToVersion>): KubeObject {
  if (!('converted' in result)) throw new Error(result.unconvertible);
  return result.converted;
}

describe('autoscaling/v1 → v2, as the API server converts', () => {
  it('gives the spec the API server stored for a v1 write (21: targetCPUUtilizationPercentage 70)', () => {
    const v2 = stored('21-apply-create-hpa-v1-by-argocd');
    const result = converted(convertToVersion(stored('21-apply-create-hpa-v1-by-argocd.v1'), V2));
    expect(result.apiVersion).toBe('autoscaling/v2');
    expect(result.spec).toEqual(v2.spec);
  });

  it('reads the other metrics from the autoscaling.alpha.kubernetes.io/metrics annotation (24)', () => {
    // Reading a v2-only HPA through v1 puts its metrics in the annotation; converting back
    // gives the stored v2 metrics, in order, and drops the annotation.
    const v1 = stored('24-apply-create-hpa-v2-quantities-by-argocd.v1');
    expect(v1.metadata?.annotations?.['autoscaling.alpha.kubernetes.io/metrics']).toBeDefined();
    const result = converted(convertToVersion(v1, V2));
    expect(result.spec).toEqual(stored('24-apply-create-hpa-v2-quantities-by-argocd').spec);
    expect(result.metadata?.annotations).not.toHaveProperty(
      'autoscaling.alpha.kubernetes.io/metrics',
    );
  });

  it('puts the annotation’s metrics before the cpu target', () => {
    const annotation = JSON.stringify([
      { type: 'Pods', pods: { metricName: 'rps', targetAverageValue: '1k' } },
    ]);
    const result = converted(
      convertToVersion(
        hpaV1(
          { targetCPUUtilizationPercentage: 60 },
          { 'autoscaling.alpha.kubernetes.io/metrics': annotation },
        ),
        V2,
      ),
    );
    expect((result.spec as { metrics: unknown }).metrics).toEqual([
      {
        type: 'Pods',
        pods: { metric: { name: 'rps' }, target: { type: 'AverageValue', averageValue: '1k' } },
      },
      cpu(60),
    ]);
  });

  it('makes v1’s implicit default explicit: no target is cpu at 80%', () => {
    const result = converted(convertToVersion(hpaV1({}), V2));
    expect((result.spec as { metrics: unknown }).metrics).toEqual([cpu(80)]);
  });

  it.each([
    [
      'an external metric with a value',
      {
        type: 'External',
        external: {
          metricName: 'queue',
          metricSelector: { matchLabels: { q: 'a' } },
          targetValue: '30',
        },
      },
      {
        type: 'External',
        external: {
          metric: { name: 'queue', selector: { matchLabels: { q: 'a' } } },
          target: { type: 'Value', value: '30' },
        },
      },
    ],
    [
      'an object metric',
      {
        type: 'Object',
        object: { target: { kind: 'Service', name: 'web' }, metricName: 'hits', targetValue: '10' },
      },
      {
        type: 'Object',
        object: {
          describedObject: { kind: 'Service', name: 'web' },
          metric: { name: 'hits' },
          target: { type: 'Value', value: '10' },
        },
      },
    ],
    [
      'a container resource at an average value',
      {
        type: 'ContainerResource',
        containerResource: { name: 'memory', container: 'app', targetAverageValue: '1Gi' },
      },
      {
        type: 'ContainerResource',
        containerResource: {
          name: 'memory',
          container: 'app',
          target: { type: 'AverageValue', averageValue: '1Gi' },
        },
      },
    ],
  ])('converts %s', (_, v1Metric, v2Metric) => {
    const annotations = { 'autoscaling.alpha.kubernetes.io/metrics': JSON.stringify([v1Metric]) };
    const result = converted(convertToVersion(hpaV1({}, annotations), V2));
    expect((result.spec as { metrics: unknown }).metrics).toEqual([v2Metric]);
  });

  it('does not judge a manifest with the behavior annotation, which it cannot read', () => {
    const result = convertToVersion(
      hpaV1({}, { 'autoscaling.alpha.kubernetes.io/behavior': '{"ScaleUp":{}}' }),
      V2,
    );
    expect(result).toHaveProperty('unconvertible');
  });
});

describe('autoscaling/v2 → v1', () => {
  it.each([
    '21-apply-create-hpa-v1-by-argocd',
    '22-patch-merge-hpa-v2-by-alice',
    '23-patch-merge-hpa-v1-by-bob',
  ])('gives the v1 spec the API server reads back (%s)', (step) => {
    const result = converted(convertToVersion(stored(step), V1));
    expect(result.apiVersion).toBe('autoscaling/v1');
    expect(result.spec).toEqual(stored(`${step}.v1`).spec);
  });

  it('does not judge metrics that v1 keeps in annotations written by the API server (24)', () => {
    const result = convertToVersion(stored('24-apply-create-hpa-v2-quantities-by-argocd'), V1);
    expect(result).toHaveProperty('unconvertible');
    expect((result as { unconvertible: string }).unconvertible).toContain('autoscaling/v2 only');
  });
});

describe('other kinds', () => {
  const widget = (apiVersion: string): KubeObject => ({
    apiVersion,
    kind: 'Widget',
    metadata: { name: 'blue' },
    spec: { size: 'large' },
  });
  const target = { group: 'capture.example.com', version: 'v1', kind: 'Widget' };
  const crd = (conversion: 'None' | 'Webhook'): CustomResourceFacts => ({
    group: 'capture.example.com',
    kind: 'Widget',
    scope: 'Namespaced',
    versions: ['v1beta1', 'v1'],
    conversion,
  });

  it('leaves a manifest in the write’s version as it is', () => {
    const manifest = widget('capture.example.com/v1');
    expect(convertToVersion(manifest, target)).toEqual({ converted: manifest });
  });

  it('changes only apiVersion for a CRD that converts with strategy None', () => {
    expect(convertToVersion(widget('capture.example.com/v1beta1'), target, crd('None'))).toEqual({
      converted: widget('capture.example.com/v1'),
    });
  });

  it.each([
    ['a conversion webhook', crd('Webhook'), 'webhook'],
    ['no CRD known', undefined, 'knows no conversion'],
  ])('does not judge a version pair with %s', (_, facts, says) => {
    const result = convertToVersion(widget('capture.example.com/v1beta1'), target, facts);
    expect(result).toHaveProperty('unconvertible');
    expect((result as { unconvertible: string }).unconvertible).toContain(says);
  });

  it('does not judge a built-in kind between versions it has no conversion for', () => {
    const result = convertToVersion(
      { apiVersion: 'flowcontrol.apiserver.k8s.io/v1beta3', kind: 'FlowSchema' },
      { group: 'flowcontrol.apiserver.k8s.io', version: 'v1', kind: 'FlowSchema' },
    );
    expect(result).toHaveProperty('unconvertible');
  });
});
