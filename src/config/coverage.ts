// Configs that would let every write through without saying so: driftgate that denies nothing
// looks exactly like driftgate that works. Each finding names the key to look at; the server
// logs them at start, with the snapshot it starts with.
import type { ResourceKey } from '../kube/object.js';
import type { Config, FieldError } from './config.js';

/** Findings from the config alone. */
export function configCoverageWarnings(config: Config): FieldError[] {
  const warnings: FieldError[] = [];
  const overrides = Object.entries(config.namespaces.overrides);
  const enforcing = overrides.filter(([, o]) => o.mode === 'enforce' || o.mode === 'warn');
  if (config.mode === 'audit' && enforcing.length === 0) {
    warnings.push({
      path: 'mode',
      message:
        'audit, and no namespaces.overrides sets enforce or warn: drift is recorded, no write is denied or warned (namespace labels driftgate.io/mode can still raise it)',
    });
  }
  const sourceNamespaces = [...new Set(config.sources.map((source) => source.namespace))];
  const discovery = config.discovery.argocd !== null || config.discovery.flux !== null;
  if (
    !discovery &&
    sourceNamespaces.length > 0 &&
    sourceNamespaces.every((namespace) => config.namespaces.exclude.includes(namespace))
  ) {
    warnings.push({
      path: 'namespaces.exclude',
      message: `excludes the namespace of every source (${sourceNamespaces.join(', ')}): objects there are never reviewed`,
    });
  }
  return warnings;
}

/** Findings that need the snapshot: does any object Git declares get reviewed at all? */
export function snapshotCoverageWarnings(
  config: Config,
  keys: Iterable<ResourceKey>,
): FieldError[] {
  let total = 0;
  let namespaceExcluded = 0;
  let kindExcluded = 0;
  for (const key of keys) {
    total += 1;
    const names = [key.kind, `${key.group}/${key.kind}`];
    const { include, exclude } = config.kinds;
    const namespace = key.group === '' && key.kind === 'Namespace' ? key.name : key.namespace;
    if (namespace !== '' && config.namespaces.exclude.includes(namespace)) namespaceExcluded += 1;
    else if (
      exclude.some((kind) => names.includes(kind)) ||
      (include.length > 0 && !include.some((kind) => names.includes(kind)))
    )
      kindExcluded += 1;
  }
  if (total === 0 || namespaceExcluded + kindExcluded < total) return [];
  if (kindExcluded === 0) {
    return [
      {
        path: 'namespaces.exclude',
        message: `excludes the namespace of every one of the ${total} objects Git declares: no write is reviewed`,
      },
    ];
  }
  return [
    {
      path: namespaceExcluded === 0 ? 'kinds' : 'kinds, namespaces.exclude',
      message: `leave none of the ${total} objects Git declares to review: no write is reviewed`,
    },
  ];
}
