// Brings Git's manifest into the API version of the write it is compared with (DESIGN.md §2.2),
// where Kubernetes defines the conversion: autoscaling/v1 ↔ v2 HorizontalPodAutoscaler as
// k8s.io/kubernetes pkg/apis/autoscaling/v1 conversion.go does it, and a CRD without a
// conversion webhook (its versions differ in apiVersion only). Anything else cannot be judged.
import type { CustomResourceFacts } from '../kube/crd.js';
import { groupOf, isJsonObject, type JsonObject, type KubeObject } from '../kube/object.js';

export interface ApiVersionOf {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

export type Conversion = { readonly converted: KubeObject } | { readonly unconvertible: string };

/** `apps/v1` → `v1`; `v1` → `v1`. */
export function versionOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash === -1 ? apiVersion : apiVersion.slice(slash + 1);
}

/**
 * Git's manifest in `target`'s version. `crd` is what a CRD in Git says of a custom kind.
 * A manifest without apiVersion, or already in that version, is returned as it is.
 */
export function convertToVersion(
  manifest: KubeObject,
  target: ApiVersionOf,
  crd?: CustomResourceFacts,
): Conversion {
  const from = manifest.apiVersion;
  if (from === undefined || groupOf(from) !== target.group) return { converted: manifest };
  const fromVersion = versionOf(from);
  if (fromVersion === target.version) return { converted: manifest };
  const to = target.group === '' ? target.version : `${target.group}/${target.version}`;
  if (target.group === 'autoscaling' && target.kind === 'HorizontalPodAutoscaler') {
    if (fromVersion === 'v1' && target.version === 'v2') return hpaV1ToV2(manifest, to);
    if (fromVersion === 'v2' && target.version === 'v1') return hpaV2ToV1(manifest, to);
  }
  if (
    crd !== undefined &&
    crd.conversion === 'None' &&
    crd.versions.includes(fromVersion) &&
    crd.versions.includes(target.version)
  ) {
    return { converted: { ...manifest, apiVersion: to } };
  }
  const why =
    crd?.conversion === 'Webhook'
      ? 'its CustomResourceDefinition converts versions with a webhook'
      : 'driftgate knows no conversion between them';
  return {
    unconvertible: `Git declares ${from}, the write is ${to}: not compared, ${why}`,
  };
}

// Round-trip annotations: how autoscaling/v1 carries what only v2 can say.
const METRICS = 'autoscaling.alpha.kubernetes.io/metrics';
const BEHAVIOR = 'autoscaling.alpha.kubernetes.io/behavior';
const ROUND_TRIP = [
  METRICS,
  BEHAVIOR,
  'autoscaling.alpha.kubernetes.io/current-metrics',
  'autoscaling.alpha.kubernetes.io/conditions',
];
// autoscaling.DefaultCPUUtilization: what v1 without a target has always meant.
const DEFAULT_CPU_UTILIZATION = 80;

function withoutRoundTripAnnotations(manifest: KubeObject): KubeObject {
  const annotations = manifest.metadata?.annotations;
  if (annotations === undefined || !ROUND_TRIP.some((key) => key in annotations)) return manifest;
  const kept = Object.fromEntries(
    Object.entries(annotations).filter(([key]) => !ROUND_TRIP.includes(key)),
  );
  const { annotations: _dropped, ...metadata } = manifest.metadata ?? {};
  return {
    ...manifest,
    metadata: Object.keys(kept).length === 0 ? metadata : { ...metadata, annotations: kept },
  };
}

function present(object: JsonObject, key: string): boolean {
  return object[key] !== undefined && object[key] !== null;
}

/** Copies `from[fromKey]` to `to[toKey]` when it is set. */
function carry(to: JsonObject, toKey: string, from: JsonObject, fromKey: string): void {
  const value = from[fromKey];
  if (value !== undefined && value !== null) to[toKey] = value;
}

function identifier(source: JsonObject, nameKey: string, selectorKey: string): JsonObject {
  const metric: JsonObject = { name: source[nameKey] ?? '' };
  carry(metric, 'selector', source, selectorKey);
  return metric;
}

/** v1 MetricSpec (the metrics annotation's shape) → v2 MetricSpec. */
function metricV1ToV2(metric: JsonObject): JsonObject {
  const out: JsonObject = { type: metric.type ?? '' };
  const { object, pods, resource, containerResource, external } = metric;
  if (isJsonObject(object)) {
    const target: JsonObject = {
      type: present(object, 'averageValue') ? 'AverageValue' : 'Value',
      // Go's v1 targetValue is a Quantity, not a pointer: unset reads as 0.
      value: object.targetValue ?? '0',
    };
    carry(target, 'averageValue', object, 'averageValue');
    out.object = {
      describedObject: isJsonObject(object.target) ? object.target : {},
      metric: identifier(object, 'metricName', 'selector'),
      target,
    };
  }
  if (isJsonObject(pods)) {
    out.pods = {
      metric: identifier(pods, 'metricName', 'selector'),
      target: { type: 'AverageValue', averageValue: pods.targetAverageValue ?? '0' },
    };
  }
  for (const [key, source] of [
    ['resource', resource],
    ['containerResource', containerResource],
  ] as const) {
    if (!isJsonObject(source)) continue;
    const target: JsonObject = {
      type: present(source, 'targetAverageUtilization') ? 'Utilization' : 'AverageValue',
    };
    carry(target, 'averageValue', source, 'targetAverageValue');
    carry(target, 'averageUtilization', source, 'targetAverageUtilization');
    const converted: JsonObject = { name: source.name ?? '' };
    if (key === 'containerResource') converted.container = source.container ?? '';
    converted.target = target;
    out[key] = converted;
  }
  if (isJsonObject(external)) {
    const target: JsonObject = {
      type: present(external, 'targetValue') ? 'Value' : 'AverageValue',
    };
    carry(target, 'value', external, 'targetValue');
    carry(target, 'averageValue', external, 'targetAverageValue');
    out.external = { metric: identifier(external, 'metricName', 'metricSelector'), target };
  }
  return out;
}

function cpuUtilization(averageUtilization: JsonObject[string]): JsonObject {
  return {
    type: 'Resource',
    resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization } },
  };
}

/**
 * autoscaling/v1 → v2: `targetCPUUtilizationPercentage` becomes a Resource cpu Utilization
 * metric, after the metrics the `autoscaling.alpha.kubernetes.io/metrics` annotation carries;
 * with neither, the metric is cpu at 80% (v1's implicit default, made explicit).
 */
function hpaV1ToV2(manifest: KubeObject, apiVersion: string): Conversion {
  const annotations = manifest.metadata?.annotations ?? {};
  if (annotations[BEHAVIOR] !== undefined) {
    return {
      unconvertible: `Git declares ${String(manifest.apiVersion)} with the ${BEHAVIOR} annotation, the write is ${apiVersion}: not compared, driftgate does not read that annotation`,
    };
  }
  const metrics: JsonObject[] = [];
  const encoded = annotations[METRICS];
  if (encoded !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(encoded);
    } catch {
      parsed = undefined;
    }
    if (!Array.isArray(parsed) || !parsed.every(isJsonObject)) {
      return {
        unconvertible: `Git declares ${String(manifest.apiVersion)} with an unreadable ${METRICS} annotation: not compared`,
      };
    }
    metrics.push(...parsed.map(metricV1ToV2));
  }
  const spec: JsonObject = isJsonObject(manifest.spec) ? { ...manifest.spec } : {};
  const target = spec.targetCPUUtilizationPercentage;
  delete spec.targetCPUUtilizationPercentage;
  if (target !== undefined && target !== null) metrics.push(cpuUtilization(target));
  if (metrics.length === 0) metrics.push(cpuUtilization(DEFAULT_CPU_UTILIZATION));
  spec.metrics = metrics;
  return { converted: { ...withoutRoundTripAnnotations(manifest), apiVersion, spec } };
}

/**
 * autoscaling/v2 → v1: a Resource cpu Utilization metric becomes
 * `targetCPUUtilizationPercentage`. Every other metric, and `behavior`, v1 carries as JSON in
 * annotations written by the API server, with its quantities in canonical form: Git's text
 * cannot be compared with that, so such a manifest is not judged in v1.
 */
function hpaV2ToV1(manifest: KubeObject, apiVersion: string): Conversion {
  const spec: JsonObject = isJsonObject(manifest.spec) ? { ...manifest.spec } : {};
  const metrics = Array.isArray(spec.metrics) ? spec.metrics : [];
  const isCpuUtilization = (metric: unknown) =>
    isJsonObject(metric) &&
    metric.type === 'Resource' &&
    isJsonObject(metric.resource) &&
    metric.resource.name === 'cpu' &&
    isJsonObject(metric.resource.target) &&
    present(metric.resource.target, 'averageUtilization');
  const others = metrics.filter((metric) => !isCpuUtilization(metric));
  if (others.length > 0 || present(spec, 'behavior')) {
    return {
      unconvertible: `Git declares ${String(manifest.apiVersion)} with ${others.length > 0 ? 'metrics' : 'behavior'} that autoscaling/v1 keeps in annotations, the write is ${apiVersion}: not compared; register driftgate for autoscaling/v2 only (matchPolicy: Equivalent)`,
    };
  }
  delete spec.metrics;
  delete spec.behavior;
  const cpu = metrics.find(isCpuUtilization);
  if (isJsonObject(cpu) && isJsonObject(cpu.resource) && isJsonObject(cpu.resource.target)) {
    spec.targetCPUUtilizationPercentage = cpu.resource.target.averageUtilization ?? null;
  }
  return { converted: { ...withoutRoundTripAnnotations(manifest), apiVersion, spec } };
}
