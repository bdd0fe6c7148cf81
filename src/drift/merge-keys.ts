// Which lists of the built-in Kubernetes types are associative (matched by a merge key,
// order-insensitive) and which are atomic. Taken from the API types' patchMergeKey and
// listMapKeys; every list not named here is atomic.

/**
 * A list's merge keys. `defaults` fill a key the manifest leaves out, as the API server's
 * defaulting would (a container port without `protocol` is TCP).
 */
export interface MergeKeys {
  readonly fields: readonly string[];
  readonly defaults?: Readonly<Record<string, string>>;
}

const byName: MergeKeys = { fields: ['name'] };
const portKeys = (field: string): MergeKeys => ({
  fields: [field, 'protocol'],
  defaults: { protocol: 'TCP' },
});

// Relative to a PodSpec. A schema path spells list elements as `[]`.
const CONTAINER_LISTS = ['containers', 'initContainers', 'ephemeralContainers'];
const POD_SPEC_LISTS: ReadonlyArray<readonly [string, MergeKeys]> = [
  ...CONTAINER_LISTS.map((list) => [list, byName] as const),
  ...CONTAINER_LISTS.flatMap((list) => [
    [`${list}[].ports`, portKeys('containerPort')] as const,
    [`${list}[].env`, byName] as const,
    [`${list}[].volumeMounts`, { fields: ['mountPath'] }] as const,
    [`${list}[].volumeDevices`, { fields: ['devicePath'] }] as const,
  ]),
  ['volumes', byName],
  ['imagePullSecrets', byName],
  ['hostAliases', { fields: ['ip'] }],
  ['topologySpreadConstraints', { fields: ['topologyKey', 'whenUnsatisfiable'] }],
  ['resourceClaims', byName],
  ['schedulingGates', byName],
];

// Where each workload kind keeps its PodSpec.
const POD_SPEC_AT: Readonly<Record<string, string>> = {
  '/Pod': 'spec',
  '/PodTemplate': 'template.spec',
  '/ReplicationController': 'spec.template.spec',
  'apps/Deployment': 'spec.template.spec',
  'apps/ReplicaSet': 'spec.template.spec',
  'apps/StatefulSet': 'spec.template.spec',
  'apps/DaemonSet': 'spec.template.spec',
  'batch/Job': 'spec.template.spec',
  'batch/CronJob': 'spec.jobTemplate.spec.template.spec',
};

const OTHER_LISTS: Readonly<Record<string, ReadonlyArray<readonly [string, MergeKeys]>>> = {
  '/Service': [['spec.ports', portKeys('port')]],
  // Endpoint addresses are a set of IPs; their order carries no meaning.
  '/Endpoints': [
    ['subsets[].addresses', { fields: ['ip'] }],
    ['subsets[].notReadyAddresses', { fields: ['ip'] }],
  ],
  'admissionregistration.k8s.io/MutatingWebhookConfiguration': [['webhooks', byName]],
  'admissionregistration.k8s.io/ValidatingWebhookConfiguration': [['webhooks', byName]],
};

const METADATA_LISTS: ReadonlyArray<readonly [string, MergeKeys]> = [
  ['metadata.ownerReferences', { fields: ['uid'] }],
];

/** The associative lists of one kind, by schema path (`spec.template.spec.containers[].env`). */
function listsOf(id: string): Array<readonly [string, MergeKeys]> {
  const entries: Array<readonly [string, MergeKeys]> = [...METADATA_LISTS];
  const podSpec = POD_SPEC_AT[id];
  if (podSpec !== undefined) {
    for (const [path, keys] of POD_SPEC_LISTS) entries.push([`${podSpec}.${path}`, keys]);
  }
  entries.push(...(OTHER_LISTS[id] ?? []));
  return entries;
}

/**
 * Those lists as a tree, one node per step into the object (a field, or `[]` for the
 * elements of a list), so that a walk carries its position instead of spelling a path string for
 * every field it visits. Only steps that lead to an associative list exist: a walk that leaves the
 * tree has no associative list below it.
 */
export interface SchemaNode {
  /** Present when the value here is an associative list. */
  readonly keys?: MergeKeys;
  readonly fields: ReadonlyMap<string, SchemaNode>;
  readonly items?: SchemaNode;
}

interface MutableSchemaNode {
  keys?: MergeKeys;
  fields: Map<string, MutableSchemaNode>;
  items?: MutableSchemaNode;
}

// By group, then kind: found on every request without spelling a `group/kind` string.
const trees = new Map<string, Map<string, SchemaNode>>();

/** The associative lists of one kind as a tree; walk it with `fieldOf` and `itemsOf`. */
export function schemaFor(group: string, kind: string): SchemaNode {
  let kinds = trees.get(group);
  if (kinds === undefined) {
    kinds = new Map();
    trees.set(group, kinds);
  }
  let root = kinds.get(kind);
  if (root === undefined) {
    const id = `${group}/${kind}`;
    const top: MutableSchemaNode = { fields: new Map() };
    for (const [path, keys] of listsOf(id)) {
      let node = top;
      for (const part of path.split('.')) {
        const list = part.endsWith('[]');
        const name = list ? part.slice(0, -2) : part;
        let child = node.fields.get(name);
        if (child === undefined) {
          child = { fields: new Map() };
          node.fields.set(name, child);
        }
        node = child;
        if (list) node = node.items ??= { fields: new Map() };
      }
      node.keys = keys;
    }
    root = top;
    kinds.set(kind, root);
  }
  return root;
}

export function fieldOf(node: SchemaNode | undefined, name: string): SchemaNode | undefined {
  return node?.fields.get(name);
}

export function itemsOf(node: SchemaNode | undefined): SchemaNode | undefined {
  return node?.items;
}

/** What identifies a list element: compared with `===` and used as a Map key. */
export type ElementIdentity = string | number | boolean;

/**
 * The identity of a list element under its merge keys, with defaults applied: the key's own value
 * when the list has one key (`web`, `8080`: a number and a string never match), otherwise a
 * string (`number:8080|s:TCP`); undefined when the element lacks its first key field or is not an
 * object. Built by hand rather than with JSON.stringify: it runs for every list element, and most
 * lists, keyed by one field, need no new string at all.
 */
export function elementIdentity(element: unknown, keys: MergeKeys): ElementIdentity | undefined {
  if (typeof element !== 'object' || element === null || Array.isArray(element)) return undefined;
  const record = element as Record<string, unknown>;
  const fields = keys.fields;
  if (fields.length === 1) {
    const field = fields[0] as string;
    const value = record[field] ?? keys.defaults?.[field];
    return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
      ? value
      : undefined;
  }
  let identity = '';
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i] as string;
    const value = record[field] ?? keys.defaults?.[field];
    if (i > 0) identity += '|';
    if (typeof value === 'string') identity += `s:${value}`;
    else if (typeof value === 'number' || typeof value === 'boolean')
      identity += `${typeof value}:${String(value)}`;
    // Only the first key is required; a missing secondary key without a default stays empty.
    else if (i === 0) return undefined;
  }
  return identity;
}

/** The merge-key fields an element spells out itself, for the readable path. */
export function declaredKeyFields(
  element: Readonly<Record<string, unknown>>,
  keys: MergeKeys,
): Record<string, string | number | boolean> {
  const fields: Record<string, string | number | boolean> = {};
  for (const field of keys.fields) {
    const value = element[field];
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      fields[field] = value;
    }
  }
  return fields;
}
