// What argocd-cm says about every Application of the instance: how resources are tracked, and
// the differences Argo CD ignores system-wide. Those fields are not Argo CD's to heal, so they are
// not driftgate's to guard either. Pure: the ConfigMap's data in, settings out.
import { load } from 'js-yaml';
import type { ArgoCDTrackingMethod } from '../config/config.js';
import { isRecord, type DiscoveryProblem } from './result.js';

export interface ArgoCDInstanceSettings {
  /** `application.resourceTrackingMethod`, when argocd-cm sets it. */
  readonly trackingMethod?: ArgoCDTrackingMethod;
  /** `application.instanceLabelKey`, when argocd-cm sets it. */
  readonly instanceLabelKey?: string;
  /** System-level ignore rules, shaped as an Application's `spec.ignoreDifferences` entries. */
  readonly ignoreDifferences: readonly Record<string, unknown>[];
  readonly problems: readonly DiscoveryProblem[];
}

const IGNORE_PREFIX = 'resource.customizations.ignoreDifferences.';
const TRACKING_METHODS: readonly string[] = ['annotation', 'label', 'annotation+label'];

export function readArgoCDSettings(
  data: Readonly<Record<string, string>> | undefined,
  object = 'ConfigMap argocd/argocd-cm',
): ArgoCDInstanceSettings {
  const problems: DiscoveryProblem[] = [];
  const problem = (reason: string) =>
    problems.push({ object, source: null, effect: 'partial', reason });
  const ignoreDifferences: Record<string, unknown>[] = [];
  if (data === undefined) return { ignoreDifferences, problems };

  const addRules = (key: string, resource: string, text: string) => {
    let rules: unknown;
    try {
      rules = load(text);
    } catch {
      problem(`${key} is not YAML; Argo CD's system-level ignore rules for it are not honoured`);
      return;
    }
    if (!isRecord(rules)) return;
    // `all`: every kind; `group_Kind` (`apps_Deployment`); a core kind alone (`Service`).
    const [group, kind] =
      resource === 'all'
        ? ['*', '*']
        : resource.includes('_')
          ? [
              resource.slice(0, resource.lastIndexOf('_')),
              resource.slice(resource.lastIndexOf('_') + 1),
            ]
          : ['', resource];
    ignoreDifferences.push({ ...rules, group, kind });
  };

  for (const [key, value] of Object.entries(data)) {
    if (key.startsWith(IGNORE_PREFIX)) addRules(key, key.slice(IGNORE_PREFIX.length), value);
  }
  // The older form: one `resource.customizations` map keyed by `group/Kind`.
  const legacy = data['resource.customizations'];
  if (legacy !== undefined) {
    let parsed: unknown;
    try {
      parsed = load(legacy);
    } catch {
      parsed = undefined;
      problem('resource.customizations is not YAML; its ignore rules are not honoured');
    }
    if (isRecord(parsed)) {
      for (const [resource, customization] of Object.entries(parsed)) {
        const rules = isRecord(customization) ? customization['ignoreDifferences'] : undefined;
        if (typeof rules !== 'string') continue;
        const slash = resource.lastIndexOf('/');
        addRules(
          'resource.customizations',
          slash === -1 ? resource : `${resource.slice(0, slash)}_${resource.slice(slash + 1)}`,
          rules,
        );
      }
    }
  }

  const method = data['application.resourceTrackingMethod'];
  let trackingMethod: ArgoCDTrackingMethod | undefined;
  if (method !== undefined && method !== '') {
    if (TRACKING_METHODS.includes(method)) trackingMethod = method as ArgoCDTrackingMethod;
    else problem(`application.resourceTrackingMethod ${method} is unknown; the config's is used`);
  }
  const labelKey = data['application.instanceLabelKey'];
  return {
    ...(trackingMethod === undefined ? {} : { trackingMethod }),
    ...(labelKey === undefined || labelKey === '' ? {} : { instanceLabelKey: labelKey }),
    ignoreDifferences,
    problems,
  };
}
