// How an object is compared with Git, shared by the validating webhook (decide) and the scan:
// which source it belongs to, its mode, whether its kind is managed, its schema, and the diff
// options. Pure: the same inputs give the same comparison, whoever asks.
import type { Config, IgnoreDifference, SourceConfig } from '../config/config.js';
import type { DiffOptions, FieldPolicy } from '../drift/diff.js';
import { pointsIntoAny, type IgnoreRule } from '../drift/ignore.js';
import { builtinSchemaFor, type KindSchema } from '../drift/schema.js';
import type { UserInfo } from '../kube/admission.js';
import { isJsonObject, type KubeObject, type ResourceKey } from '../kube/object.js';
import { labels as labelKeys } from '../kube/well-known.js';
import type { EffectiveMode } from './decision.js';
import { hpaMaySet, type ClusterFacts, type HpaScaling } from './facts.js';
import { isOneOf } from './identity.js';
import { customResourceSchemaOf, keyString, type SnapshotIndex } from './snapshot-index.js';

const sourceIndexCache = new WeakMap<readonly SourceConfig[], Map<string, SourceConfig>>();

/** The source named so; discovery can make thousands, so they are indexed once per list. */
export function sourceNamed(
  sources: readonly SourceConfig[],
  name: string,
): SourceConfig | undefined {
  let byName = sourceIndexCache.get(sources);
  if (byName === undefined) {
    byName = new Map(sources.map((source) => [source.name, source]));
    sourceIndexCache.set(sources, byName);
  }
  return byName.get(name);
}

/** The override ConfigMap > namespace label > per-namespace config > global config. */
export function resolveMode(namespace: string, facts: ClusterFacts, config: Config): EffectiveMode {
  if (facts.override === 'audit' || facts.override === 'warn') return facts.override;
  const label = namespace === '' ? undefined : facts.namespace(namespace)?.labels[labelKeys.mode];
  if (label === 'enforce' || label === 'warn' || label === 'audit') return label;
  return config.namespaces.overrides[namespace]?.mode ?? config.mode;
}

/** Left out by `kinds.exclude`, or not in a `kinds.include` the config names. */
export function isExcludedKind(key: ResourceKey, config: Config): boolean {
  const names = [key.kind, `${key.group}/${key.kind}`];
  const { include, exclude } = config.kinds;
  if (exclude.some((k) => names.includes(k))) return true;
  return include.length > 0 && !include.some((k) => names.includes(k));
}

/** `kinds.include`/`exclude` of the config; without `include`, every kind the snapshot holds. */
export function isManagedKind(key: ResourceKey, index: SnapshotIndex, config: Config): boolean {
  if (isExcludedKind(key, config)) return false;
  if (config.kinds.include.length > 0) return true;
  return index.kinds.has(`${key.group}/${key.kind}`);
}

/** The HPA, declared in Git or found in the cluster, that scales this object. */
export function hpaOf(
  key: ResourceKey,
  index: SnapshotIndex,
  facts: ClusterFacts,
): HpaScaling | undefined {
  return index.hpaTargets.get(keyString(key)) ?? facts.hpaOf(key);
}

export function replicasOf(object: KubeObject): unknown {
  return isJsonObject(object.spec) ? object.spec.replicas : undefined;
}

/**
 * The kind's schema: a CRD in Git names every field (so pruning is known); else the cluster's
 * published schema; else the generated table of built-in kinds.
 */
export function schemaOf(
  key: ResourceKey,
  apiVersion: string | undefined,
  index: SnapshotIndex,
  facts: ClusterFacts,
): KindSchema | undefined {
  return (
    customResourceSchemaOf(index, key, apiVersion) ??
    facts.schemaOf?.(apiVersion, key.kind) ??
    builtinSchemaFor(apiVersion, key.kind)
  );
}

const ignoreRulesCache = new WeakMap<Config, IgnoreRule[]>();
const sourceIgnoreRulesCache = new WeakMap<SourceConfig, IgnoreRule[]>();

function toIgnoreRule(rule: IgnoreDifference): IgnoreRule {
  return {
    group: rule.group,
    kind: rule.kind,
    ...(rule.name === null ? {} : { name: rule.name }),
    ...(rule.namespace === null ? {} : { namespace: rule.namespace }),
    jsonPointers: rule.jsonPointers,
    managedFieldsManagers: rule.managedFieldsManagers,
  };
}

function configuredIgnoreRules(config: Config): IgnoreRule[] {
  let rules = ignoreRulesCache.get(config);
  if (rules === undefined) {
    rules = config.ignoreDifferences.map(toIgnoreRule);
    ignoreRulesCache.set(config, rules);
  }
  return rules;
}

/** The source's own rules (an Argo CD Application's ignoreDifferences): for its objects only. */
function sourceIgnoreRules(source: SourceConfig | undefined): readonly IgnoreRule[] {
  if (source?.ignoreDifferences === undefined) return [];
  let rules = sourceIgnoreRulesCache.get(source);
  if (rules === undefined) {
    rules = source.ignoreDifferences.map(toIgnoreRule);
    sourceIgnoreRulesCache.set(source, rules);
  }
  return rules;
}

const RESTARTED_AT = 'kubectl.kubernetes.io~1restartedAt';
// Where `kubectl rollout restart` stamps it: a pod template, or a CronJob's job template.
const RESTART_POINTERS = [
  `/spec/template/metadata/annotations/${RESTARTED_AT}`,
  `/spec/jobTemplate/spec/template/metadata/annotations/${RESTARTED_AT}`,
] as const;

export interface ComparisonInput {
  readonly key: ResourceKey;
  /** Git's manifest (or the sync tool's record of it). */
  readonly desired: KubeObject;
  /** The objects compared with it: the write's new and old object, or the live object. */
  readonly objects: readonly (KubeObject | null | undefined)[];
  /**
   * Whose allowances apply: the writer's, or `every` when no one writes (the scan: a field a
   * named controller may change is that controller's, whoever looks at it).
   */
  readonly allowancesOf: UserInfo | 'every';
  /** Whether the object's `spec.replicas` is one its HPA could itself have set. */
  readonly replicasLeftToHpa: boolean;
  /** The apiVersion the objects are in (a CRD's schema depends on it). */
  readonly apiVersion: string | undefined;
  readonly index: SnapshotIndex;
  readonly facts: ClusterFacts;
  readonly config: Config;
  readonly source: SourceConfig | undefined;
}

/** Paths removed before judging: ignore rules, allowances, HPAs, built-ins (DESIGN.md §3.8). */
export function ignoreRulesFor(input: ComparisonInput): IgnoreRule[] {
  const { key, desired, objects, allowancesOf, config, source } = input;
  const rules = [...configuredIgnoreRules(config), ...sourceIgnoreRules(source)];
  const only = (jsonPointers: string[]): IgnoreRule => ({
    group: key.group,
    kind: key.kind,
    jsonPointers,
  });
  for (const allowance of config.allowances) {
    if (allowancesOf === 'every' || isOneOf(allowancesOf, allowance)) {
      rules.push({
        group: allowance.group,
        kind: allowance.kind,
        jsonPointers: allowance.jsonPointers,
      });
    }
  }
  if (input.replicasLeftToHpa) rules.push(only(['/spec/replicas']));
  const all = [desired, ...objects];
  if (config.builtins.rolloutRestart) {
    // Only where an object carries the stamp: a rule that removes nothing would still send every
    // write of a workload through applyIgnoreRules, 8 µs of the server's CPU per denial.
    const stamped = RESTART_POINTERS.filter((pointer) => pointsIntoAny(pointer, all));
    if (stamped.length > 0) rules.push(only(stamped));
  }
  if (config.builtins.caBundles) {
    if (key.group === 'apiregistration.k8s.io' && key.kind === 'APIService')
      rules.push(only(['/spec/caBundle']));
    if (key.group === 'apiextensions.k8s.io' && key.kind === 'CustomResourceDefinition') {
      rules.push(only(['/spec/conversion/webhook/clientConfig/caBundle']));
    }
    if (key.group === 'admissionregistration.k8s.io' && key.kind.endsWith('WebhookConfiguration')) {
      // cert-manager's cainjector fills every webhook's caBundle.
      const count = Math.max(
        ...all.map((o) => (Array.isArray(o?.webhooks) ? o.webhooks.length : 0)),
      );
      rules.push(
        only(Array.from({ length: count }, (_, i) => `/webhooks/${i}/clientConfig/caBundle`)),
      );
    }
  }
  if (config.builtins.aggregatedClusterRoles && isAggregatedClusterRole(key, desired)) {
    rules.push(only(['/rules']));
  }
  return rules;
}

/**
 * A ClusterRole that Git declares with an `aggregationRule`: the clusterrole-aggregation
 * controller fills its `rules` (by server-side apply) with those of the roles it selects, and
 * Git's `rules: []` (the Kubernetes documentation's pattern) is stored as null. Whoever writes
 * them, the controller puts them back within a second. Read from Git's manifest only: an
 * aggregationRule added in the cluster must not free the rules of a role Git spells out.
 */
function isAggregatedClusterRole(key: ResourceKey, desired: KubeObject): boolean {
  return (
    key.group === 'rbac.authorization.k8s.io' &&
    key.kind === 'ClusterRole' &&
    isJsonObject(desired.aggregationRule)
  );
}

/** The options of `diff`/`diffWrite` for this object: as the webhook compares a write. */
export function comparisonOptions(
  input: ComparisonInput,
): DiffOptions & { readonly fieldPolicy: FieldPolicy } {
  const { key, index, facts, config, source, apiVersion } = input;
  const fieldPolicy = config.namespaces.overrides[key.namespace]?.fieldPolicy ?? config.fieldPolicy;
  const trackingLabel = source?.trackingLabel ?? undefined;
  const schema = schemaOf(key, apiVersion, index, facts);
  return {
    ignore: ignoreRulesFor(input),
    fieldPolicy,
    ...(schema === undefined ? {} : { schema }),
    ...(source === undefined ? {} : { defaultNamespace: source.namespace }),
    ...(trackingLabel === undefined ? {} : { trackingLabel }),
  };
}

/** Whether the HPA that scales the object could itself have set the replicas it holds. */
export function replicasLeftToHpa(
  key: ResourceKey,
  live: KubeObject,
  index: SnapshotIndex,
  facts: ClusterFacts,
): boolean {
  const hpa = hpaOf(key, index, facts);
  return hpa !== undefined && hpaMaySet(hpa, replicasOf(live));
}
