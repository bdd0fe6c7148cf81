// driftgate's configuration: the typed struct every module reads, its defaults (DESIGN.md §3, §6)
// and one pure validation that names each bad key path, so a typo fails at start, not at 3 a.m.
import { checkRepoURL, checkRevision, checkSourcePath } from '../desired/repo-url.js';
import type { FieldPolicy } from '../drift/diff.js';
import { parseDuration } from './duration.js';

export type { FieldPolicy };
export type Mode = 'enforce' | 'warn' | 'audit';
export type UnmanagedPolicy = 'allow' | 'warn' | 'deny';
export type FailureMode = 'open' | 'closed';
/**
 * `helm` and `auto` (decide by the files at the path, as Argo CD does: Chart.yaml → helm,
 * kustomization.yaml → kustomize, else plain) are made by discovery only.
 */
export type RenderKind = 'plain' | 'kustomize' | 'command' | 'helm' | 'auto';

export interface FieldError {
  /** Key path as a user would write it: `sources[1].revision`. */
  readonly path: string;
  readonly message: string;
}

export interface IdentitySet {
  readonly users: readonly string[];
  readonly groups: readonly string[];
}

export type SourceAuth =
  | { readonly kind: 'https'; readonly usernameFile: string | null; readonly passwordFile: string }
  | { readonly kind: 'ssh'; readonly sshKeyFile: string; readonly knownHostsFile: string };

export interface SourceConfig {
  readonly name: string;
  readonly repoURL: string;
  /** Branch, tag or commit SHA; null follows the remote's default branch (its HEAD). */
  readonly revision: string | null;
  /** Directory inside the repository, normalised (`.` for the root). */
  readonly path: string;
  /** Namespace of namespaced objects whose manifest names none. */
  readonly namespace: string;
  readonly render: RenderKind;
  /** argv of the renderer when `render: command`, run in `path`. */
  readonly command: readonly string[];
  readonly pollIntervalMs: number;
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  readonly auth: SourceAuth | null;
  readonly syncIdentities: IdentitySet;
  /** Ignore rules for this source's objects only, added to the global ones. */
  readonly ignoreDifferences?: readonly IgnoreDifference[];
  /** A label the sync tool overwrites on every object (Argo CD label tracking): not compared. */
  readonly trackingLabel?: string | null;
  /** Options of `render: helm`. */
  readonly helm?: HelmOptions;
  /** Changes the sync tool makes to the kustomization before `kustomize build`. */
  readonly kustomize?: KustomizeOptions;
  /** `${name}` variables replaced in the rendered manifests (Flux `postBuild.substitute`). */
  readonly substitute?: Readonly<Record<string, string>>;
  /**
   * Honour Flux's per-object annotations in Git: `kustomize.toolkit.fluxcd.io/ssa: Ignore` or
   * `IfNotPresent` and `kustomize.toolkit.fluxcd.io/reconcile: disabled` leave the object unmanaged.
   */
  readonly fluxAnnotations?: boolean;
  /**
   * Read the source as Argo CD's repo server and controller do (discovered Applications): its
   * directory walk and globs, files that are not objects skipped, resource hooks left out.
   */
  readonly argocd?: ArgoCDRendering;
  /** Where the source came from: the config file or a sync tool's object. */
  readonly origin?: SourceOrigin;
}

/** An Application source's `directory` settings, as Argo CD applies them to plain manifests. */
export interface ArgoCDRendering {
  /** `directory.recurse`: subdirectories are read too. */
  readonly recurse: boolean;
  /** `directory.include` / `exclude`: one gobwas glob each, against the path under `path`. */
  readonly include: string | null;
  readonly exclude: string | null;
}

export type SourceOrigin =
  | { readonly kind: 'config' }
  | {
      readonly kind: 'argocd' | 'flux';
      /** The Application or Kustomization: `namespace/name`. */
      readonly object: string;
    };

export interface HelmParameter {
  readonly name: string;
  readonly value: string;
  /** `--set-string` instead of `--set`. */
  readonly forceString: boolean;
}

/** `helm template` as Argo CD runs it for a Git-hosted chart. */
export interface HelmOptions {
  readonly releaseName: string;
  /** `--namespace`: the release namespace templates see. */
  readonly namespace: string;
  /** Relative to the chart directory (`path`); a value file of another repository is refused. */
  readonly valueFiles: readonly string[];
  readonly ignoreMissingValueFiles: boolean;
  /** Inline values (YAML), passed after the value files. */
  readonly values: string | null;
  readonly parameters: readonly HelmParameter[];
  readonly skipCrds: boolean;
  readonly skipSchemaValidation: boolean;
  readonly kubeVersion: string | null;
  readonly apiVersions: readonly string[];
}

/** Argo CD's `kustomize edit` changes, run in a scratch copy of the checkout. */
export interface KustomizeOptions {
  /** `kustomize edit set image` arguments: `nginx=nginx:1.25`, `nginx:1.25`, `nginx@sha256:...`. */
  readonly images: readonly string[];
  readonly namePrefix: string | null;
  readonly nameSuffix: string | null;
  readonly namespace: string | null;
  /** `name=count` for `kustomize edit set replicas`. */
  readonly replicas: readonly string[];
}

export interface NamespaceOverride {
  readonly mode?: Mode;
  readonly fieldPolicy?: FieldPolicy;
  readonly unmanaged?: UnmanagedPolicy;
}

export interface Allowance {
  readonly users: readonly string[];
  readonly groups: readonly string[];
  readonly group: string;
  readonly kind: string;
  readonly jsonPointers: readonly string[];
}

/** One entry of Argo CD's `ignoreDifferences`, as users paste it. */
export interface IgnoreDifference {
  readonly group: string;
  readonly kind: string;
  readonly name: string | null;
  readonly namespace: string | null;
  readonly jsonPointers: readonly string[];
  readonly jqPathExpressions: readonly string[];
  readonly managedFieldsManagers: readonly string[];
}

/** Argo CD `resourceTrackingMethod` (argocd-cm); `annotation` is the default since Argo CD 3.0. */
export type SyncRecordsPolicy = 'fallback' | 'always' | 'off';

export type ArgoCDTrackingMethod = 'annotation' | 'label' | 'annotation+label';

export interface ArgoCDDiscovery {
  /** Where Applications (and AppProjects) live. */
  readonly namespace: string;
  /**
   * The application controller's username, a sync identity for the objects of discovered
   * Applications; default `system:serviceaccount:<namespace>:argocd-application-controller`.
   */
  readonly controller: string;
  /** Use Argo CD's repository credentials for the clones (off: public or config-auth URLs only). */
  readonly repoCredentials: boolean;
  readonly trackingMethod: ArgoCDTrackingMethod;
  /** argocd-cm `application.instanceLabelKey`. */
  readonly instanceLabelKey: string;
  /** Argo CD runs on another cluster (hub and spoke); null: on this one. */
  readonly hub: ArgoCDHub | null;
}

/**
 * Hub and spoke: Applications live on Argo CD's cluster (the hub), read with its own kubeconfig,
 * and those whose destination is this cluster, as it is registered in Argo CD, are this
 * cluster's sources.
 */
export interface ArgoCDHub {
  readonly kubeconfigFile: string;
  /** This cluster's API server URL as the hub names it (`spec.destination.server`). */
  readonly server: string | null;
  /** This cluster's name in Argo CD (`spec.destination.name`). */
  readonly name: string | null;
}

export interface FluxDiscovery {
  /** Only GitRepositories and Kustomizations in this namespace; null (`*`): every namespace. */
  readonly namespace: string | null;
}

export interface Config {
  readonly listen: {
    readonly port: number;
    readonly certFile: string | null;
    readonly keyFile: string | null;
    /**
     * CA of the API server's client certificate: when set, /validate and /mutate answer only
     * clients whose certificate it signed (probes and metrics need none).
     */
    readonly clientCAFile: string | null;
  };
  /** Guards against a render that would silently stop protecting most objects. */
  readonly safety: {
    /**
     * A new render of a source that drops more than this share of the source's objects is held,
     * not served, until a later commit comes back under it or it is accepted. 1 turns this off.
     */
    readonly maxDeletionShare: number;
    /** A commit whose render is served even though it drops more than `maxDeletionShare`. */
    readonly acceptDeletionsAt: string | null;
  };
  /** Where Git clones and the last good snapshot live. */
  readonly cacheDir: string;
  readonly sources: readonly SourceConfig[];
  readonly discovery: {
    readonly argocd: ArgoCDDiscovery | null;
    readonly flux: FluxDiscovery | null;
  };
  readonly mode: Mode;
  readonly fieldPolicy: FieldPolicy;
  readonly unmanaged: UnmanagedPolicy;
  /**
   * Objects a sync tool deployed but Git cannot render again are protected by the sync tool's
   * record on them: `fallback` where no source declares the object, `always` also beside
   * rendered Git, `off` never.
   */
  readonly syncRecords: SyncRecordsPolicy;
  readonly failureMode: FailureMode;
  readonly kinds: { readonly include: readonly string[]; readonly exclude: readonly string[] };
  readonly namespaces: {
    readonly exclude: readonly string[];
    readonly overrides: Readonly<Record<string, NamespaceOverride>>;
  };
  readonly syncIdentities: IdentitySet;
  readonly exemptIdentities: IdentitySet;
  readonly adminGroups: readonly string[];
  readonly allowances: readonly Allowance[];
  readonly ignoreDifferences: readonly IgnoreDifference[];
  readonly builtins: {
    readonly caBundles: boolean;
    readonly rolloutRestart: boolean;
    /** The `rules` of a ClusterRole that Git declares with an `aggregationRule`. */
    readonly aggregatedClusterRoles: boolean;
  };
  readonly breakGlass: {
    readonly groups: readonly string[];
    readonly users: readonly string[];
    readonly ttlMs: number;
    readonly ticketPattern: string | null;
  };
  readonly hooks: { readonly git: { readonly secretFile: string | null } };
  readonly override: { readonly configMap: string };
  readonly cluster: {
    /**
     * Watch the cluster (HPAs, Namespaces, scale parents, the kill switch): `auto` when
     * in-cluster credentials or a kubeconfig are found.
     */
    readonly watch: 'auto' | boolean;
    /** Post Events for denials and break-glass uses. */
    readonly events: boolean;
    /** driftgate's own namespace, where the override ConfigMap lives. */
    readonly namespace: string;
  };
  /** serve's background scan of every object Git declares (DESIGN.md §9). */
  readonly scan: {
    /** `auto`: whenever the cluster is watched. */
    readonly enabled: 'auto' | boolean;
    /** Between the end of one scan and the start of the next, before jitter. */
    readonly intervalMs: number;
    /** At most this many requests a second to the API server. */
    readonly qps: number;
    /**
     * Write `wgpolicyk8s.io/v1alpha2` PolicyReports of each scan. `auto`: when the API server
     * serves them; `true`: expected, their absence is an error; `false`: never.
     */
    readonly policyReports: 'auto' | boolean;
  };
}

/** What validation needs to know about where driftgate runs. */
export interface ConfigContext {
  /** driftgate's own namespace: always excluded, so the webhook can never lock itself out. */
  readonly ownNamespace: string;
}

export const DEFAULT_CONTEXT: ConfigContext = { ownNamespace: 'driftgate' };

/**
 * The service accounts kube-controller-manager's controllers write with when it runs with
 * `--use-service-account-credentials` (as kubeadm and most distributions run it), Kubernetes
 * 1.28 to 1.34. From kubernetes/kubernetes: the names passed to the client builder in
 * cmd/kube-controller-manager/app, and the bindings of
 * plugin/pkg/auth/authorizer/rbac/bootstrappolicy (controller_policy.go, namespace_policy.go),
 * which say what each may write. A controller behind a feature gate is listed too: a name that
 * never writes costs nothing, a missing one denies the control plane.
 */
const KUBE_CONTROLLER_MANAGER_ACCOUNTS = [
  // Workloads: their own objects' scale, finalizers and annotations, and what they own.
  'deployment-controller', // Deployments (rollback, finalizers), ReplicaSets, Pods
  'replicaset-controller', // ReplicaSets, Pods
  'replication-controller', // ReplicationControllers, Pods
  'statefulset-controller', // Pods, ControllerRevisions, PersistentVolumeClaims (retention)
  'daemon-set-controller', // Pods, ControllerRevisions
  'job-controller', // Jobs, Pods
  'cronjob-controller', // CronJobs, Jobs, Pods
  'ttl-after-finished-controller', // deletes finished Jobs
  'horizontal-pod-autoscaler', // the scale subresource of any kind
  'disruption-controller', // PodDisruptionBudget status, Pod conditions
  // Garbage, namespaces, quota.
  'generic-garbage-collector', // any object: ownerReferences, finalizers, deletes
  'namespace-controller', // deletes everything in a terminating namespace
  'pod-garbage-collector', // deletes orphaned and terminated Pods
  'resourcequota-controller', // ResourceQuota status
  // Service accounts, certificates, tokens.
  'service-account-controller', // creates each namespace's `default` ServiceAccount
  'root-ca-cert-publisher', // creates and updates each namespace's kube-root-ca.crt ConfigMap
  'legacy-service-account-token-cleaner', // labels and deletes unused token Secrets (1.28+)
  'certificate-controller', // CertificateSigningRequests
  'bootstrap-signer', // kube-public's cluster-info ConfigMap
  'token-cleaner', // expired bootstrap token Secrets
  'kube-apiserver-serving-clustertrustbundle-publisher', // ClusterTrustBundles (gated)
  'podcertificaterequestcleaner', // PodCertificateRequests (gated)
  // Networking.
  'endpoint-controller', // Endpoints of Services with a selector
  'endpointslice-controller', // EndpointSlices, Service finalizers
  'endpointslicemirroring-controller', // EndpointSlices, Endpoints finalizers
  'service-cidrs-controller', // ServiceCIDRs (gated)
  // Nodes and cloud: node-controller is also the taint-eviction and node-lifecycle identity.
  'node-controller', // Nodes, Pod deletion and conditions
  'ttl-controller', // Node annotations
  'route-controller', // Node status (cloud routes)
  'service-controller', // Service status and finalizers (cloud load balancers)
  // Storage.
  'persistent-volume-binder', // PersistentVolumes, PersistentVolumeClaims (binding)
  'attachdetach-controller', // VolumeAttachments, Node status
  'expand-controller', // PersistentVolumes (capacity), PersistentVolumeClaim status
  'ephemeral-volume-controller', // creates Pods' ephemeral PersistentVolumeClaims
  'pvc-protection-controller', // PersistentVolumeClaim finalizers
  'pv-protection-controller', // PersistentVolume finalizers
  'volumeattributesclass-protection-controller', // VolumeAttributesClass finalizers (gated)
  'selinux-warning-controller', // events only (gated)
  // Dynamic resource allocation (gated).
  'resource-claim-controller', // ResourceClaims, Pod status
  'device-taint-eviction-controller', // deletes Pods
  // The API itself.
  'clusterrole-aggregation-controller', // the rules of aggregated ClusterRoles
  'validatingadmissionpolicy-status-controller', // ValidatingAdmissionPolicy status
  'storage-version-garbage-collector', // StorageVersions (gated)
  'storage-version-migrator-controller', // rewrites objects unchanged to migrate them (gated)
] as const;

/**
 * Platform controllers that write to objects Git may declare, exempt only when the config names
 * their preset (`exemptIdentities.presets`): each runs only where its platform is installed.
 */
export const EXEMPT_PRESETS = {
  openshift: [
    // openshift-controller-manager: adds the image pull Secrets (and their dockercfg Secrets)
    // to every ServiceAccount.
    'system:serviceaccount:openshift-infra:serviceaccount-pull-secrets-controller',
    // service-ca-operator's controller: serving certificate Secrets, and the service CA
    // injected into annotated ConfigMaps, APIServices, CRDs and webhook configurations.
    'system:serviceaccount:openshift-service-ca:service-ca',
    // OpenShift's kube-controller-manager: openshift-service-ca.crt in every namespace.
    'system:serviceaccount:kube-system:service-ca-cert-publisher',
  ],
  'cert-manager': [
    // The controller: the Secrets of Certificates, which carry no controller ownerReference
    // unless it runs with --enable-certificate-owner-ref.
    'system:serviceaccount:cert-manager:cert-manager',
    // cainjector: caBundle fields (also covered by builtins.caBundles for every writer).
    'system:serviceaccount:cert-manager:cert-manager-cainjector',
  ],
} as const satisfies Record<string, readonly string[]>;

export type ExemptPreset = keyof typeof EXEMPT_PRESETS;

export const defaults = {
  listenPort: 8443,
  maxDeletionShare: 0.5,
  cacheDir: '.driftgate-cache',
  pollIntervalMs: 30_000,
  sourceNamespace: 'default',
  breakGlassTtlMs: 4 * 3_600_000,
  overrideConfigMap: 'driftgate-override',
  excludedNamespaces: [
    'kube-system',
    'kube-public',
    'kube-node-lease',
    'argocd',
    'flux-system',
    'cert-manager',
  ],
  // Never argocd-server: it carries out UI users' edits and deletes (DESIGN.md §3).
  syncUsers: [
    'system:serviceaccount:argocd:argocd-application-controller',
    'system:serviceaccount:kube-system:argocd-manager',
    'system:serviceaccount:flux-system:kustomize-controller',
    'system:serviceaccount:flux-system:helm-controller',
  ],
  // Named, never "anything in kube-system" (DESIGN.md §3).
  exemptUsers: [
    'system:kube-controller-manager',
    'system:kube-scheduler',
    'system:node:*',
    ...KUBE_CONTROLLER_MANAGER_ACCOUNTS.map((name) => `system:serviceaccount:kube-system:${name}`),
  ],
  adminGroups: ['system:masters'],
  scanIntervalMs: 10 * 60_000,
  scanQps: 20,
} as const;

export type ValidationResult =
  { readonly config: Config } | { readonly errors: readonly FieldError[] };

const SOURCE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const K8S_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Reads one mapping of the file, recording an error for every key that is missing, mistyped or
 * unknown. Readers of nested mappings share the error list and extend the path.
 */
class Fields {
  private readonly seen = new Set<string>();

  constructor(
    readonly path: string,
    private readonly value: Record<string, unknown>,
    readonly errors: FieldError[],
  ) {}

  static of(path: string, value: unknown, errors: FieldError[]): Fields | undefined {
    if (value === undefined || value === null) return new Fields(path, {}, errors);
    if (typeof value !== 'object' || Array.isArray(value)) {
      errors.push({ path: path === '' ? '(root)' : path, message: 'must be a mapping' });
      return undefined;
    }
    return new Fields(path, value as Record<string, unknown>, errors);
  }

  at(key: string): string {
    return this.path === '' ? key : `${this.path}.${key}`;
  }

  has(key: string): boolean {
    this.seen.add(key);
    return Object.hasOwn(this.value, key) && this.value[key] !== null;
  }

  raw(key: string): unknown {
    this.seen.add(key);
    return Object.hasOwn(this.value, key) ? this.value[key] : undefined;
  }

  fail(key: string, message: string): void {
    this.errors.push({ path: this.at(key), message });
  }

  string(key: string, fallback: string, check?: (value: string) => string | undefined): string {
    const value = this.raw(key);
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'string') {
      this.fail(key, 'must be a string');
      return fallback;
    }
    const problem = check?.(value);
    if (problem !== undefined) this.fail(key, problem);
    return value;
  }

  requiredString(key: string, check?: (value: string) => string | undefined): string {
    if (!this.has(key)) {
      this.fail(key, 'required');
      return '';
    }
    return this.string(key, '', check);
  }

  nullableString(key: string): string | null {
    if (!this.has(key)) return null;
    const value = this.string(key, '');
    return value === '' ? null : value;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.raw(key);
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'boolean') {
      this.fail(key, 'must be true or false');
      return fallback;
    }
    return value;
  }

  port(key: string, fallback: number): number {
    const value = this.raw(key);
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65_535) {
      this.fail(key, 'must be a port number between 1 and 65535');
      return fallback;
    }
    return value;
  }

  oneOf<T extends string>(key: string, choices: readonly T[], fallback: T): T {
    const value = this.raw(key);
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
      this.fail(key, `must be one of ${choices.join(', ')}`);
      return fallback;
    }
    return value as T;
  }

  optionalOneOf<T extends string>(key: string, choices: readonly T[]): T | undefined {
    if (!this.has(key)) return undefined;
    return this.oneOf(key, choices, choices[0] as T);
  }

  duration(key: string, fallbackMs: number, minimumMs: number): number {
    const value = this.raw(key);
    if (value === undefined || value === null) return fallbackMs;
    const ms = typeof value === 'string' ? parseDuration(value) : undefined;
    if (ms === undefined) {
      this.fail(key, 'must be a duration such as 30s, 4h or 1m30s');
      return fallbackMs;
    }
    if (ms < minimumMs) {
      this.fail(key, `must be at least ${minimumMs / 1000}s`);
      return fallbackMs;
    }
    return ms;
  }

  strings(
    key: string,
    fallback: readonly string[],
    check?: (value: string) => string | undefined,
  ): readonly string[] {
    const value = this.raw(key);
    if (value === undefined || value === null) return fallback;
    if (!Array.isArray(value)) {
      this.fail(key, 'must be a list of strings');
      return fallback;
    }
    const result: string[] = [];
    value.forEach((item: unknown, index) => {
      if (typeof item !== 'string') {
        this.errors.push({ path: `${this.at(key)}[${index}]`, message: 'must be a string' });
        return;
      }
      const problem = check?.(item);
      if (problem !== undefined) {
        this.errors.push({ path: `${this.at(key)}[${index}]`, message: problem });
      }
      result.push(item);
    });
    return result;
  }

  list(key: string): { path: string; item: unknown }[] {
    const value = this.raw(key);
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) {
      this.fail(key, 'must be a list');
      return [];
    }
    return value.map((item: unknown, index) => ({ path: `${this.at(key)}[${index}]`, item }));
  }

  keys(): string[] {
    const keys = Object.keys(this.value);
    for (const key of keys) this.seen.add(key);
    return keys;
  }

  nested(key: string): Fields | undefined {
    return Fields.of(this.at(key), this.raw(key), this.errors);
  }

  /** Records every key of the mapping that no reader asked for. */
  rejectUnknown(): void {
    for (const key of Object.keys(this.value)) {
      if (!this.seen.has(key)) this.fail(key, 'unknown key');
    }
  }
}

function identities(fields: Fields | undefined, fallback: IdentitySet): IdentitySet {
  if (fields === undefined) return fallback;
  const result = {
    users: fields.strings('users', fallback.users, nonEmpty),
    groups: fields.strings('groups', fallback.groups, nonEmpty),
  };
  fields.rejectUnknown();
  return result;
}

/** The exempt users and groups, with the users of every preset named. */
function readExemptIdentities(fields: Fields | undefined): IdentitySet {
  const known = Object.keys(EXEMPT_PRESETS);
  const presets =
    fields?.strings('presets', [], (name) =>
      Object.hasOwn(EXEMPT_PRESETS, name)
        ? undefined
        : `unknown preset "${name}"; known presets: ${known.join(', ')}`,
    ) ?? [];
  const named = identities(fields, { users: defaults.exemptUsers, groups: [] });
  const presetUsers = presets.flatMap((name) =>
    Object.hasOwn(EXEMPT_PRESETS, name) ? EXEMPT_PRESETS[name as ExemptPreset] : [],
  );
  if (presetUsers.length === 0) return named;
  return { users: [...new Set([...named.users, ...presetUsers])], groups: named.groups };
}

function nonEmpty(value: string): string | undefined {
  return value === '' ? 'must not be empty' : undefined;
}

function jsonPointer(value: string): string | undefined {
  return value.startsWith('/') ? undefined : 'must be a JSON pointer starting with "/"';
}

function fromChecked(check: { ok: true } | { ok: false; message: string }): string | undefined {
  return check.ok ? undefined : check.message;
}

function readSource(path: string, item: unknown, errors: FieldError[]): SourceConfig | undefined {
  const fields = Fields.of(path, item, errors);
  if (fields === undefined) return undefined;
  const name = fields.requiredString('name', (value) =>
    SOURCE_NAME.test(value) && value.length <= 63
      ? undefined
      : 'must be lowercase letters, digits and "-" (at most 63), like a Kubernetes name',
  );
  const repoURL = fields.requiredString('repoURL', (value) => fromChecked(checkRepoURL(value)));
  const revision = fields.has('revision')
    ? fields.string('revision', '', (value) => fromChecked(checkRevision(value)))
    : null;
  const rawPath = fields.string('path', '.', (value) => fromChecked(checkSourcePath(value)));
  const normalisedPath = checkSourcePath(rawPath);
  const namespace = fields.string('namespace', defaults.sourceNamespace, (value) =>
    K8S_NAME.test(value) ? undefined : 'must be a valid namespace name',
  );
  const render = fields.oneOf('render', ['plain', 'kustomize', 'command'] as const, 'plain');
  const command = fields.strings('command', []);
  if (render === 'command' && command.length === 0) {
    fields.fail(
      'command',
      'required when render is command (an argv list such as [helm, template, .])',
    );
  }
  if (render !== 'command' && fields.has('command')) {
    fields.fail('command', 'only used when render is command');
  }
  const pollIntervalMs = fields.duration('pollInterval', defaults.pollIntervalMs, 1_000);
  const include = fields.strings('include', [], nonEmpty);
  const exclude = fields.strings('exclude', [], nonEmpty);
  const auth = readAuth(fields, repoURL);
  const syncIdentities = identities(fields.nested('syncIdentities'), { users: [], groups: [] });
  const ignoreDifferences: IgnoreDifference[] = [];
  for (const rule of fields.list('ignoreDifferences')) {
    const read = readIgnoreDifference(rule.path, rule.item, errors);
    if (read !== undefined) ignoreDifferences.push(read);
  }
  fields.rejectUnknown();
  return {
    ...(ignoreDifferences.length === 0 ? {} : { ignoreDifferences }),
    name,
    repoURL,
    revision,
    path: normalisedPath.ok ? normalisedPath.value : '.',
    namespace,
    render,
    command,
    pollIntervalMs,
    include,
    exclude,
    auth,
    syncIdentities,
  };
}

function namespaceName(value: string): string | undefined {
  return K8S_NAME.test(value) && value.length <= 63 ? undefined : 'must be a valid namespace name';
}

function readArgoCDDiscovery(discovery: Fields): ArgoCDDiscovery | null {
  if (discovery.raw('argocd') === undefined) return null;
  const fields = discovery.nested('argocd');
  if (fields === undefined) return null;
  const namespace = fields.string('namespace', 'argocd', namespaceName);
  const hub = readArgoCDHub(fields);
  const result = {
    namespace,
    // From a hub, Argo CD writes with the credentials it was given for this cluster: those of
    // the service account `argocd cluster add` makes here.
    controller: fields.string(
      'controller',
      hub === null
        ? `system:serviceaccount:${namespace}:argocd-application-controller`
        : 'system:serviceaccount:kube-system:argocd-manager',
      nonEmpty,
    ),
    repoCredentials: fields.boolean('repoCredentials', false),
    trackingMethod: fields.oneOf(
      'trackingMethod',
      ['annotation', 'label', 'annotation+label'] as const,
      'annotation',
    ),
    instanceLabelKey: fields.string('instanceLabelKey', 'app.kubernetes.io/instance', nonEmpty),
    hub,
  };
  fields.rejectUnknown();
  return result;
}

function readArgoCDHub(argocd: Fields): ArgoCDHub | null {
  if (!argocd.has('hub')) return null;
  const fields = argocd.nested('hub');
  if (fields === undefined) return null;
  const hub = {
    kubeconfigFile: fields.requiredString('kubeconfigFile', nonEmpty),
    server: fields.nullableString('server'),
    name: fields.nullableString('name'),
  };
  if (hub.server === null && hub.name === null) {
    fields.fail('server', 'name this cluster as Argo CD knows it: server, name or both');
  }
  fields.rejectUnknown();
  return hub;
}

function readFluxDiscovery(discovery: Fields): FluxDiscovery | null {
  if (discovery.raw('flux') === undefined) return null;
  const fields = discovery.nested('flux');
  if (fields === undefined) return null;
  const namespace = fields.string('namespace', 'flux-system', (value) =>
    value === '*' ? undefined : namespaceName(value),
  );
  fields.rejectUnknown();
  return { namespace: namespace === '*' ? null : namespace };
}

// Discovered sources are named after their object, with a `:` no configured name can hold, so
// the two never collide: `argocd:argocd/shop`, `argocd:argocd/shop#1`, `flux:flux-system/apps`.
const DISCOVERED_SOURCE_NAME =
  /^(argocd|flux):[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-.a-z0-9]*[a-z0-9])?(#[0-9]+)?$/;

/** Why `name` cannot name a source, or undefined; discovered names have their own shape. */
export function sourceNameProblem(name: string): string | undefined {
  if (name.includes(':')) {
    return DISCOVERED_SOURCE_NAME.test(name) && name.length <= 330
      ? undefined
      : 'a discovered source is named <argocd|flux>:<namespace>/<name>[#index]';
  }
  return SOURCE_NAME.test(name) && name.length <= 63
    ? undefined
    : 'must be lowercase letters, digits and "-" (at most 63), like a Kubernetes name';
}

function readAuth(source: Fields, repoURL: string): SourceAuth | null {
  if (!source.has('auth')) return null;
  const fields = source.nested('auth');
  if (fields === undefined) return null;
  const protocol = checkRepoURL(repoURL);
  let auth: SourceAuth | null = null;
  if (fields.has('sshKeyFile') || fields.has('knownHostsFile')) {
    const sshKeyFile = fields.requiredString('sshKeyFile', nonEmpty);
    // Host keys are always checked: a token or key must never be offered to an impostor.
    const knownHostsFile = fields.requiredString('knownHostsFile', nonEmpty);
    if (protocol.ok && protocol.value !== 'ssh') {
      source.fail('auth', 'sshKeyFile needs an ssh:// or user@host:path repoURL');
    }
    auth = { kind: 'ssh', sshKeyFile, knownHostsFile };
  } else if (fields.has('usernameFile') || fields.has('passwordFile')) {
    const usernameFile = fields.nullableString('usernameFile');
    const passwordFile = fields.requiredString('passwordFile', nonEmpty);
    if (protocol.ok && protocol.value !== 'https') {
      source.fail('auth', 'usernameFile/passwordFile need an https:// repoURL');
    }
    auth = { kind: 'https', usernameFile, passwordFile };
  } else {
    source.fail('auth', 'needs {usernameFile, passwordFile} or {sshKeyFile, knownHostsFile}');
  }
  fields.rejectUnknown();
  return auth;
}

function readAllowance(path: string, item: unknown, errors: FieldError[]): Allowance | undefined {
  const fields = Fields.of(path, item, errors);
  if (fields === undefined) return undefined;
  const allowance = {
    users: fields.strings('users', [], nonEmpty),
    groups: fields.strings('groups', [], nonEmpty),
    group: fields.string('group', ''),
    kind: fields.requiredString('kind', nonEmpty),
    jsonPointers: fields.strings('jsonPointers', [], jsonPointer),
  };
  if (allowance.users.length === 0 && allowance.groups.length === 0) {
    errors.push({ path, message: 'needs users or groups (whose writes it allows)' });
  }
  if (allowance.jsonPointers.length === 0) fields.fail('jsonPointers', 'required');
  fields.rejectUnknown();
  return allowance;
}

function readIgnoreDifference(
  path: string,
  item: unknown,
  errors: FieldError[],
): IgnoreDifference | undefined {
  const fields = Fields.of(path, item, errors);
  if (fields === undefined) return undefined;
  const rule = {
    group: fields.string('group', ''),
    kind: fields.requiredString('kind', nonEmpty),
    name: fields.nullableString('name'),
    namespace: fields.nullableString('namespace'),
    jsonPointers: fields.strings('jsonPointers', [], jsonPointer),
    jqPathExpressions: fields.strings('jqPathExpressions', [], nonEmpty),
    managedFieldsManagers: fields.strings('managedFieldsManagers', [], nonEmpty),
  };
  if (
    rule.jsonPointers.length === 0 &&
    rule.jqPathExpressions.length === 0 &&
    rule.managedFieldsManagers.length === 0
  ) {
    errors.push({
      path,
      message: 'needs jsonPointers, jqPathExpressions or managedFieldsManagers',
    });
  }
  fields.rejectUnknown();
  return rule;
}

function readOverrides(fields: Fields | undefined): Record<string, NamespaceOverride> {
  const overrides: Record<string, NamespaceOverride> = {};
  if (fields === undefined) return overrides;
  for (const namespace of fields.keys()) {
    const entry = fields.nested(namespace);
    if (entry === undefined) continue;
    if (!K8S_NAME.test(namespace)) fields.fail(namespace, 'is not a valid namespace name');
    const mode = entry.optionalOneOf('mode', ['enforce', 'warn', 'audit'] as const);
    const fieldPolicy = entry.optionalOneOf('fieldPolicy', ['declared', 'strict'] as const);
    const unmanaged = entry.optionalOneOf('unmanaged', ['allow', 'warn', 'deny'] as const);
    entry.rejectUnknown();
    overrides[namespace] = {
      ...(mode === undefined ? {} : { mode }),
      ...(fieldPolicy === undefined ? {} : { fieldPolicy }),
      ...(unmanaged === undefined ? {} : { unmanaged }),
    };
  }
  return overrides;
}

/**
 * Checks a parsed config file and fills in defaults. Every problem is reported, not only the
 * first, each naming its key path.
 */
export function validateConfig(
  value: unknown,
  context: ConfigContext = DEFAULT_CONTEXT,
): ValidationResult {
  const errors: FieldError[] = [];
  const root = Fields.of('', value, errors);
  if (root === undefined) return { errors };

  const listenFields = root.nested('listen');
  const listen = {
    port: listenFields?.port('port', defaults.listenPort) ?? defaults.listenPort,
    certFile: listenFields?.nullableString('certFile') ?? null,
    keyFile: listenFields?.nullableString('keyFile') ?? null,
    clientCAFile: listenFields?.nullableString('clientCAFile') ?? null,
  };
  listenFields?.rejectUnknown();
  if ((listen.certFile === null) !== (listen.keyFile === null)) {
    errors.push({ path: 'listen', message: 'certFile and keyFile go together' });
  }

  const cacheDir = root.string('cacheDir', defaults.cacheDir, nonEmpty);

  const safetyFields = root.nested('safety');
  const share = safetyFields?.raw('maxDeletionShare');
  const safety = {
    maxDeletionShare: typeof share === 'number' ? share : defaults.maxDeletionShare,
    acceptDeletionsAt: safetyFields?.nullableString('acceptDeletionsAt') ?? null,
  };
  if (
    share !== undefined &&
    share !== null &&
    !(typeof share === 'number' && share > 0 && share <= 1)
  ) {
    safetyFields?.fail(
      'maxDeletionShare',
      'must be a number above 0 and at most 1 (1 turns the guard off)',
    );
  }
  if (safety.acceptDeletionsAt !== null && !/^[0-9a-f]{7,64}$/.test(safety.acceptDeletionsAt)) {
    safetyFields?.fail(
      'acceptDeletionsAt',
      'must be a commit SHA (hexadecimal, at least 7 digits)',
    );
  }
  safetyFields?.rejectUnknown();

  const sources: SourceConfig[] = [];
  for (const { path, item } of root.list('sources')) {
    const source = readSource(path, item, errors);
    if (source !== undefined) sources.push(source);
  }
  const firstByName = new Map<string, number>();
  sources.forEach((source, index) => {
    const first = firstByName.get(source.name);
    if (first === undefined) firstByName.set(source.name, index);
    else if (source.name !== '') {
      errors.push({
        path: `sources[${index}].name`,
        message: `"${source.name}" is already used by sources[${first}]`,
      });
    }
  });

  const discoveryFields = root.nested('discovery');
  const discovery = { argocd: null, flux: null } as {
    argocd: ArgoCDDiscovery | null;
    flux: FluxDiscovery | null;
  };
  if (discoveryFields !== undefined) {
    discovery.argocd = readArgoCDDiscovery(discoveryFields);
    discovery.flux = readFluxDiscovery(discoveryFields);
    discoveryFields.rejectUnknown();
  }
  if (sources.length === 0 && discovery.argocd === null && discovery.flux === null) {
    if (!errors.some((error) => error.path.startsWith('sources'))) {
      errors.push({ path: 'sources', message: 'required (or discovery): nothing to compare with' });
    }
  }

  const mode = root.oneOf('mode', ['enforce', 'warn', 'audit'] as const, 'enforce');
  const fieldPolicy = root.oneOf('fieldPolicy', ['declared', 'strict'] as const, 'declared');
  const unmanaged = root.oneOf('unmanaged', ['allow', 'warn', 'deny'] as const, 'allow');
  const syncRecords = root.oneOf('syncRecords', ['fallback', 'always', 'off'] as const, 'fallback');
  const failureMode = root.oneOf('failureMode', ['open', 'closed'] as const, 'open');

  const kindsFields = root.nested('kinds');
  const kinds = {
    include: kindsFields?.strings('include', [], nonEmpty) ?? [],
    exclude: kindsFields?.strings('exclude', [], nonEmpty) ?? [],
  };
  kindsFields?.rejectUnknown();
  if (kinds.include.length > 0 && kinds.include.every((kind) => kinds.exclude.includes(kind))) {
    errors.push({
      path: 'kinds.exclude',
      message: 'excludes every kind of kinds.include: no write would be reviewed',
    });
  }

  const namespacesFields = root.nested('namespaces');
  const excluded = namespacesFields?.strings('exclude', defaults.excludedNamespaces, nonEmpty) ?? [
    ...defaults.excludedNamespaces,
  ];
  const namespaces = {
    exclude: excluded.includes(context.ownNamespace)
      ? excluded
      : [...excluded, context.ownNamespace],
    overrides: readOverrides(namespacesFields?.nested('overrides')),
  };
  namespacesFields?.rejectUnknown();

  const syncIdentities = identities(root.nested('syncIdentities'), {
    users: defaults.syncUsers,
    groups: [],
  });
  const exemptIdentities = readExemptIdentities(root.nested('exemptIdentities'));
  const adminGroups = root.strings('adminGroups', defaults.adminGroups, nonEmpty);

  const allowances: Allowance[] = [];
  for (const { path, item } of root.list('allowances')) {
    const allowance = readAllowance(path, item, errors);
    if (allowance !== undefined) allowances.push(allowance);
  }
  const ignoreDifferences: IgnoreDifference[] = [];
  for (const { path, item } of root.list('ignoreDifferences')) {
    const rule = readIgnoreDifference(path, item, errors);
    if (rule !== undefined) ignoreDifferences.push(rule);
  }

  const builtinsFields = root.nested('builtins');
  const builtins = {
    caBundles: builtinsFields?.boolean('caBundles', true) ?? true,
    rolloutRestart: builtinsFields?.boolean('rolloutRestart', true) ?? true,
    aggregatedClusterRoles: builtinsFields?.boolean('aggregatedClusterRoles', true) ?? true,
  };
  builtinsFields?.rejectUnknown();

  const breakGlassFields = root.nested('breakGlass');
  const breakGlass = {
    groups: breakGlassFields?.strings('groups', [], nonEmpty) ?? [],
    users: breakGlassFields?.strings('users', [], nonEmpty) ?? [],
    ttlMs:
      breakGlassFields?.duration('ttl', defaults.breakGlassTtlMs, 60_000) ??
      defaults.breakGlassTtlMs,
    ticketPattern: breakGlassFields?.nullableString('ticketPattern') ?? null,
  };
  if (breakGlass.ticketPattern !== null) {
    try {
      new RegExp(breakGlass.ticketPattern, 'u');
    } catch {
      errors.push({
        path: 'breakGlass.ticketPattern',
        message: 'is not a valid regular expression',
      });
    }
  }
  breakGlassFields?.rejectUnknown();

  const hooksFields = root.nested('hooks');
  const gitHookFields = hooksFields?.nested('git');
  const hooks = { git: { secretFile: gitHookFields?.nullableString('secretFile') ?? null } };
  gitHookFields?.rejectUnknown();
  hooksFields?.rejectUnknown();

  const overrideFields = root.nested('override');
  const override = {
    configMap:
      overrideFields?.string('configMap', defaults.overrideConfigMap, (value) =>
        K8S_NAME.test(value) ? undefined : 'must be a valid ConfigMap name',
      ) ?? defaults.overrideConfigMap,
  };
  overrideFields?.rejectUnknown();

  const clusterFields = root.nested('cluster');
  const cluster = {
    watch: readClusterWatch(clusterFields),
    events: clusterFields?.boolean('events', true) ?? true,
    namespace: context.ownNamespace,
  };
  clusterFields?.rejectUnknown();

  const scanFields = root.nested('scan');
  const scan = {
    enabled: readAutoBoolean(scanFields, 'enabled'),
    intervalMs:
      scanFields?.duration('interval', defaults.scanIntervalMs, 60_000) ?? defaults.scanIntervalMs,
    qps: readQps(scanFields),
    policyReports: readAutoBoolean(scanFields, 'policyReports'),
  };
  scanFields?.rejectUnknown();

  root.rejectUnknown();
  if (errors.length > 0) return { errors };
  return {
    config: {
      listen,
      safety,
      cacheDir,
      sources,
      discovery,
      mode,
      fieldPolicy,
      unmanaged,
      syncRecords,
      failureMode,
      kinds,
      namespaces,
      syncIdentities,
      exemptIdentities,
      adminGroups,
      allowances,
      ignoreDifferences,
      builtins,
      breakGlass,
      hooks,
      override,
      cluster,
      scan,
    },
  };
}

/** `true`, `false` or `auto`: a plain boolean, since YAML 1.1 reads `on` and `off` as booleans. */
function readClusterWatch(fields: Fields | undefined): 'auto' | boolean {
  const value = fields?.raw('watch');
  if (value === undefined || value === 'auto' || typeof value === 'boolean') return value ?? 'auto';
  fields?.fail('watch', 'must be true, false or auto');
  return 'auto';
}

function readAutoBoolean(fields: Fields | undefined, key: string): 'auto' | boolean {
  const value = fields?.raw(key);
  if (value === undefined || value === 'auto' || typeof value === 'boolean') return value ?? 'auto';
  fields?.fail(key, 'must be true, false or auto');
  return 'auto';
}

/** Requests a second: a number above 0, at most 1000 (the API server's own limits lie far below). */
function readQps(fields: Fields | undefined): number {
  const value = fields?.raw('qps');
  if (value === undefined || value === null) return defaults.scanQps;
  if (typeof value !== 'number' || !(value > 0 && value <= 1000)) {
    fields?.fail('qps', 'must be a number of requests a second, above 0 and at most 1000');
    return defaults.scanQps;
  }
  return value;
}

/** `sources[1].revision: required`, one per line. */
export function formatFieldErrors(errors: readonly FieldError[]): string {
  return errors.map((error) => `${error.path}: ${error.message}`).join('\n');
}
