// Argo CD discovery: each Application's Git sources become driftgate sources rendered at the
// revision Argo CD synced, with its overrides and ignore rules. Pure: objects in, sources out.
import { posix } from 'node:path';
import type {
  ArgoCDDiscovery,
  ArgoCDRendering,
  HelmOptions,
  HelmParameter,
  IdentitySet,
  KustomizeOptions,
  SourceAuth,
  SourceConfig,
} from '../config/config.js';
import { checkRepoURL, checkRevision, checkSourcePath } from '../desired/repo-url.js';
import {
  list,
  mapping,
  objectName,
  readIgnoreDifferences,
  strings,
  text,
  type DiscoveryProblem,
  type DiscoveryResult,
} from './result.js';

export interface ArgoCDMappingOptions extends Pick<
  ArgoCDDiscovery,
  'controller' | 'trackingMethod' | 'instanceLabelKey'
> {
  /**
   * Revisions are commit SHAs that never move: polling only re-confirms them. A new revision
   * arrives as a changed Application, not through the poll.
   */
  readonly pollIntervalMs: number;
  /** Credentials for a repository, when the integrator has them (repoCredentials). */
  readonly authFor?: (repoURL: string) => SourceAuth | null;
  /**
   * AppProjects, for sync impersonation (argocd-cm `application.sync.impersonation.enabled`):
   * when enabled, the project's matching destinationServiceAccounts entry syncs the objects.
   */
  readonly impersonation?: { readonly enabled: boolean; readonly projects: readonly unknown[] };
  /**
   * This cluster as a hub's Argo CD names it (hub and spoke). Absent: Argo CD runs here, and this
   * cluster is its `in-cluster` destination.
   */
  readonly thisCluster?: { readonly server: string | null; readonly name: string | null };
  /** argocd-cm's system-level ignore rules, for every Application's objects. */
  readonly instanceIgnoreDifferences?: SourceConfig['ignoreDifferences'];
}

/** Destinations that are this cluster; an Application deploying elsewhere has no objects here. */
const IN_CLUSTER_SERVER = 'https://kubernetes.default.svc';
const IN_CLUSTER_NAME = 'in-cluster';

const KUSTOMIZE_SUPPORTED = new Set([
  'images',
  'namePrefix',
  'nameSuffix',
  'namespace',
  'replicas',
]);
const HELM_SUPPORTED = new Set([
  'releaseName',
  'namespace',
  'valueFiles',
  'ignoreMissingValueFiles',
  'values',
  'valuesObject',
  'parameters',
  'skipCrds',
  'skipSchemaValidation',
  'kubeVersion',
  'apiVersions',
  // Settings of how charts are fetched, not of what they render.
  'passCredentials',
  'version',
]);
const DIRECTORY_SUPPORTED = new Set(['recurse', 'include', 'exclude']);

/** Whether an Application's destination is this cluster. */
function deploysHere(
  server: string | undefined,
  name: string | undefined,
  thisCluster: ArgoCDMappingOptions['thisCluster'],
): boolean {
  // A destination names its cluster by server or by name; Argo CD refuses both at once.
  if (thisCluster === undefined) {
    return server === undefined ? name === IN_CLUSTER_NAME : server === IN_CLUSTER_SERVER;
  }
  const withoutSlash = (url: string) => url.replace(/\/+$/, '');
  if (server !== undefined) {
    return thisCluster.server !== null && withoutSlash(server) === withoutSlash(thisCluster.server);
  }
  return thisCluster.name !== null && name === thisCluster.name;
}

/** Maps Applications to sources; see DiscoveryProblem for what is left out and why. */
export function sourcesFromApplications(
  applications: readonly unknown[],
  options: ArgoCDMappingOptions,
): DiscoveryResult {
  const sources: SourceConfig[] = [];
  const problems: DiscoveryProblem[] = [];
  for (const application of applications) {
    const mapped = mapApplication(application, options);
    sources.push(...mapped.sources);
    problems.push(...mapped.problems);
  }
  return { sources, problems };
}

interface AppContext {
  readonly namespace: string;
  readonly name: string;
  readonly project: string;
  readonly object: string;
  readonly destinationNamespace: string;
  readonly syncIdentities: IdentitySet;
  readonly trackingLabel: string | null;
  readonly ignoreDifferences: SourceConfig['ignoreDifferences'];
  readonly options: ArgoCDMappingOptions;
}

interface GitSource {
  readonly index: number;
  readonly spec: Record<string, unknown>;
  readonly repoURL: string;
  readonly revision: string | null;
}

function mapApplication(application: unknown, options: ArgoCDMappingOptions): DiscoveryResult {
  const problems: DiscoveryProblem[] = [];
  const id = objectName(application);
  if (id === undefined) return { sources: [], problems };
  const object = `Application ${id.namespace}/${id.name}`;
  const skip = (reason: string, source: string | null = null): DiscoveryResult => ({
    sources: [],
    problems: [...problems, { object, source, effect: 'skipped', reason }],
  });
  const spec = mapping(application, 'spec');
  const status = mapping(application, 'status');
  const destination = mapping(spec, 'destination');
  const server = text(destination, 'server');
  const destinationName = text(destination, 'name');
  if (!deploysHere(server, destinationName, options.thisCluster)) {
    return skip(`deploys to ${server ?? destinationName ?? 'no destination'}, not this cluster`);
  }
  const multi = list(spec, 'sources');
  const specs = (multi.length > 0 ? multi : [mapping(spec, 'source')]).map(
    (item) => mapping(item) ?? {},
  );
  if (multi.length === 0 && mapping(spec, 'source') === undefined) return skip('has no source');
  const sync = mapping(status, 'sync');
  // status.sync.revision(s) is what Argo CD last compared the cluster with: what is deployed
  // while Synced, but the new target while OutOfSync (auto-sync off, a sync window, a failed
  // sync). Then the last entry of status.history, the last successful sync, is what is
  // deployed. Before the first sync there is neither and the target revision is all there is.
  const history = list(status, 'history');
  const lastDeployed = mapping(history[history.length - 1]);
  const deployedFrom =
    text(sync, 'status') !== 'Synced' && lastDeployed !== undefined ? lastDeployed : sync;
  const synced =
    multi.length > 0 ? strings(deployedFrom, 'revisions') : [text(deployedFrom, 'revision') ?? ''];
  const report = (reason: string): void => {
    problems.push({ object, source: null, effect: 'partial', reason });
  };
  const destinationNamespace = text(destination, 'namespace') ?? 'default';
  const context: AppContext = {
    namespace: id.namespace,
    name: id.name,
    project: text(spec, 'project') ?? 'default',
    object,
    destinationNamespace,
    syncIdentities: syncIdentitiesOf(spec, destinationNamespace, options),
    trackingLabel: options.trackingMethod === 'annotation' ? null : options.instanceLabelKey,
    ignoreDifferences: [
      ...readIgnoreDifferences(list(spec, 'ignoreDifferences'), report),
      ...(options.instanceIgnoreDifferences ?? []),
    ],
    options,
  };

  // Git sources by index, and `ref` sources that lend their files to Helm value files.
  const git: GitSource[] = [];
  const refs = new Map<string, GitSource>();
  const sources: SourceConfig[] = [];
  specs.forEach((source, index) => {
    const name =
      multi.length > 0
        ? `argocd:${id.namespace}/${id.name}#${index}`
        : `argocd:${id.namespace}/${id.name}`;
    const repoURL = text(source, 'repoURL') ?? '';
    if (text(source, 'chart') !== undefined || repoURL.startsWith('oci://')) {
      problems.push({
        object,
        source: name,
        effect: 'skipped',
        reason: `source ${index} is a Helm chart repository or OCI artifact, not Git: its objects are not judged`,
      });
      return;
    }
    const checked = checkRepoURL(repoURL);
    if (!checked.ok) {
      problems.push({
        object,
        source: name,
        effect: 'skipped',
        reason: `source ${index} repoURL ${repoURL || '(none)'} ${checked.message}`,
      });
      return;
    }
    const syncedRevision = synced[index] ?? '';
    const target = text(source, 'targetRevision');
    const revision =
      syncedRevision !== '' ? syncedRevision : target === 'HEAD' ? null : (target ?? null);
    if (revision !== null && !checkRevision(revision).ok) {
      problems.push({
        object,
        source: name,
        effect: 'skipped',
        reason: `source ${index} revision ${revision} cannot be fetched`,
      });
      return;
    }
    const entry = { index, spec: source, repoURL, revision };
    const ref = text(source, 'ref');
    if (ref !== undefined) refs.set(ref, entry);
    // A `ref` source without a path only lends files to value files of other sources.
    if (ref === undefined || text(source, 'path') !== undefined) git.push(entry);
  });
  for (const source of git) {
    const name =
      multi.length > 0
        ? `argocd:${id.namespace}/${id.name}#${source.index}`
        : `argocd:${id.namespace}/${id.name}`;
    const made = sourceOf(name, source, refs, context);
    if ('reason' in made) {
      problems.push({ object, source: name, effect: 'skipped', reason: made.reason });
    } else {
      sources.push(made);
    }
  }
  return { sources, problems };
}

/** The controller, and the service account a project makes Argo CD sync as (impersonation). */
function syncIdentitiesOf(
  spec: Record<string, unknown> | undefined,
  destinationNamespace: string,
  options: ArgoCDMappingOptions,
): IdentitySet {
  const users = [options.controller];
  const impersonation = options.impersonation;
  if (impersonation?.enabled === true) {
    const projectName = text(spec, 'project') ?? 'default';
    const project = impersonation.projects.find(
      (candidate) => text(mapping(candidate, 'metadata'), 'name') === projectName,
    );
    // Argo CD uses the first entry whose server and namespace globs match the destination.
    const entry = list(mapping(project, 'spec'), 'destinationServiceAccounts').find(
      (candidate) =>
        globMatch(text(candidate, 'server') ?? '', IN_CLUSTER_SERVER) &&
        globMatch(text(candidate, 'namespace') ?? '', destinationNamespace),
    );
    const account = text(entry, 'defaultServiceAccount');
    if (account !== undefined) {
      const [namespace, serviceAccount] = account.includes(':')
        ? account.split(':', 2)
        : [destinationNamespace, account];
      users.push(`system:serviceaccount:${namespace ?? ''}:${serviceAccount ?? ''}`);
    }
  }
  return { users, groups: [] };
}

function globMatch(pattern: string, value: string): boolean {
  if (pattern === '') return false;
  const regex = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${regex}$`).test(value);
}

type Made = SourceConfig | { reason: string };

function sourceOf(
  name: string,
  source: GitSource,
  refs: ReadonlyMap<string, GitSource>,
  context: AppContext,
): Made {
  const { spec } = source;
  const path = checkSourcePath(text(spec, 'path') ?? '.');
  if (!path.ok) return { reason: `source ${source.index} path ${path.message}` };
  if (mapping(spec, 'plugin') !== undefined) {
    return {
      reason: `source ${source.index} uses a config management plugin, which driftgate cannot run`,
    };
  }
  const helm = mapping(spec, 'helm');
  const kustomize = mapping(spec, 'kustomize');
  const directory = mapping(spec, 'directory');
  const explicit = [helm, kustomize, directory].filter((item) => item !== undefined).length;
  if (explicit > 1) {
    return {
      reason: `source ${source.index} names more than one of helm, kustomize and directory`,
    };
  }
  const base: SourceConfig = {
    name,
    repoURL: source.repoURL,
    revision: source.revision,
    path: path.value,
    namespace: context.destinationNamespace,
    render: 'auto',
    command: [],
    pollIntervalMs: context.options.pollIntervalMs,
    include: [],
    exclude: [],
    auth: context.options.authFor?.(source.repoURL) ?? null,
    syncIdentities: context.syncIdentities,
    ignoreDifferences: context.ignoreDifferences ?? [],
    trackingLabel: context.trackingLabel,
    origin: { kind: 'argocd', object: `${context.namespace}/${context.name}` },
  };
  const env = buildEnvironment(context, source, path.value);
  // Without an explicit type Argo CD decides by the files at the path (Chart.yaml, then
  // kustomization.yaml, else plain manifests): so does the renderer, with these defaults.
  const helmOptions = helmOptionsOf(helm ?? {}, source, refs, path.value, context, env);
  if ('reason' in helmOptions) return helmOptions;
  // Hooks are left out of every source's output, as Argo CD's controller leaves them out.
  const hooksOnly: ArgoCDRendering = { recurse: false, include: null, exclude: null };
  if (helm !== undefined) return { ...base, render: 'helm', helm: helmOptions, argocd: hooksOnly };
  const kustomizeOptions = kustomizeOptionsOf(kustomize ?? {}, source.index, env);
  if ('reason' in kustomizeOptions) return kustomizeOptions;
  if (kustomize !== undefined) {
    return { ...base, render: 'kustomize', kustomize: kustomizeOptions, argocd: hooksOnly };
  }
  const argocd = directoryOptionsOf(directory ?? {}, source.index);
  if ('reason' in argocd) return argocd;
  if (directory !== undefined) return { ...base, render: 'plain', argocd };
  return { ...base, argocd, helm: helmOptions, kustomize: kustomizeOptions };
}

function unsupported(settings: Record<string, unknown>, supported: ReadonlySet<string>): string[] {
  return Object.entries(settings)
    .filter(([key, value]) => !supported.has(key) && !isEmpty(value))
    .map(([key]) => key);
}

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null || value === '' || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === 'object' && Object.keys(value).length === 0;
}

function directoryOptionsOf(
  directory: Record<string, unknown>,
  index: number,
): ArgoCDRendering | { reason: string } {
  // `jsonnet` holds the options of .jsonnet files; those files are reported when rendered.
  const extra = unsupported(directory, DIRECTORY_SUPPORTED).filter((key) => key !== 'jsonnet');
  if (extra.length > 0) {
    return { reason: `source ${index} directory ${extra.join(', ')} cannot be reproduced` };
  }
  // One gobwas glob each (braces for several), matched as Argo CD matches them; no recursion
  // by default.
  return {
    recurse: directory['recurse'] === true,
    include: text(directory, 'include') ?? null,
    exclude: text(directory, 'exclude') ?? null,
  };
}

function kustomizeOptionsOf(
  kustomize: Record<string, unknown>,
  index: number,
  env: (value: string) => string,
): KustomizeOptions | { reason: string } {
  const extra = unsupported(kustomize, KUSTOMIZE_SUPPORTED);
  if (extra.length > 0) {
    return { reason: `source ${index} kustomize ${extra.join(', ')} cannot be reproduced` };
  }
  const replicas: string[] = [];
  for (const item of list(kustomize, 'replicas')) {
    const name = text(item, 'name');
    const count = mapping(item)?.['count'];
    if (name === undefined || (typeof count !== 'number' && typeof count !== 'string')) {
      return { reason: `source ${index} kustomize replicas entry without name or count` };
    }
    replicas.push(`${name}=${String(count)}`);
  }
  const optional = (key: string): string | null => text(kustomize, key) ?? null;
  return {
    images: strings(kustomize, 'images').map(env),
    namePrefix: optional('namePrefix'),
    nameSuffix: optional('nameSuffix'),
    namespace: optional('namespace'),
    replicas,
  };
}

function helmOptionsOf(
  helm: Record<string, unknown>,
  source: GitSource,
  refs: ReadonlyMap<string, GitSource>,
  chartPath: string,
  context: AppContext,
  env: (value: string) => string,
): HelmOptions | { reason: string } {
  const index = source.index;
  const extra = unsupported(helm, HELM_SUPPORTED);
  if (extra.length > 0) {
    return { reason: `source ${index} helm ${extra.join(', ')} cannot be reproduced` };
  }
  const valueFiles: string[] = [];
  for (const file of strings(helm, 'valueFiles')) {
    const resolved = valueFile(file, source, refs, chartPath, env);
    if (typeof resolved !== 'string') {
      return { reason: `source ${index} helm value file ${file} ${resolved.reason}` };
    }
    valueFiles.push(resolved);
  }
  const parameters: HelmParameter[] = [];
  for (const item of list(helm, 'parameters')) {
    const name = text(item, 'name');
    const value = mapping(item)?.['value'];
    if (name === undefined) return { reason: `source ${index} helm parameter without name` };
    parameters.push({
      name,
      value: env(typeof value === 'string' ? value : ''),
      forceString: mapping(item)?.['forceString'] === true,
    });
  }
  // valuesObject wins over values, as in Argo CD; both become one values file after the others.
  const valuesObject = mapping(helm, 'valuesObject');
  const values =
    valuesObject !== undefined && Object.keys(valuesObject).length > 0
      ? JSON.stringify(valuesObject)
      : (text(helm, 'values') ?? null);
  return {
    releaseName: text(helm, 'releaseName') ?? context.name,
    namespace: text(helm, 'namespace') ?? context.destinationNamespace,
    valueFiles,
    ignoreMissingValueFiles: helm['ignoreMissingValueFiles'] === true,
    values,
    parameters,
    skipCrds: helm['skipCrds'] === true,
    skipSchemaValidation: helm['skipSchemaValidation'] === true,
    kubeVersion: text(helm, 'kubeVersion') ?? null,
    apiVersions: strings(helm, 'apiVersions'),
  };
}

/**
 * A value file as a path relative to the chart. `$ref/file` names a file of a `ref` source: it
 * can be read only when that is the same repository at the same revision (one checkout).
 */
function valueFile(
  file: string,
  source: GitSource,
  refs: ReadonlyMap<string, GitSource>,
  chartPath: string,
  env: (value: string) => string,
): string | { reason: string } {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(file)) return { reason: 'is a URL, which is not fetched' };
  const slash = file.indexOf('/');
  const refName = file.slice(1, slash === -1 ? undefined : slash);
  const ref = file.startsWith('$') ? refs.get(refName) : undefined;
  // Not a ref: a path in the chart's repository, after Argo CD's build variables.
  if (ref === undefined) return env(file);
  if (ref.repoURL !== source.repoURL || ref.revision !== source.revision) {
    return {
      reason: `comes from ref ${refName} (${ref.repoURL} at ${ref.revision ?? 'HEAD'}), another repository or revision than the chart's`,
    };
  }
  const inRepo = slash === -1 ? '.' : file.slice(slash + 1);
  return posix.relative(chartPath === '.' ? '' : chartPath, posix.normalize(inRepo)) || '.';
}

/**
 * Argo CD's build environment, substituted in Helm parameters, value file paths and kustomize
 * images (`$ARGOCD_APP_NAME`, `${ARGOCD_APP_REVISION}`, ...), not in inline values. Unknown
 * variables become empty, as in Argo CD.
 */
function buildEnvironment(
  context: AppContext,
  source: GitSource,
  path: string,
): (value: string) => string {
  const revision = source.revision ?? '';
  const variables: Record<string, string> = {
    ARGOCD_APP_NAME: context.name,
    ARGOCD_APP_NAMESPACE: context.destinationNamespace,
    ARGOCD_APP_PROJECT_NAME: context.project,
    ARGOCD_APP_REVISION: revision,
    ARGOCD_APP_REVISION_SHORT: revision.slice(0, 7),
    ARGOCD_APP_REVISION_SHORT_8: revision.slice(0, 8),
    ARGOCD_APP_SOURCE_PATH: path,
    ARGOCD_APP_SOURCE_REPO_URL: source.repoURL,
    ARGOCD_APP_SOURCE_TARGET_REVISION: text(source.spec, 'targetRevision') ?? '',
    KUBE_VERSION: '',
    KUBE_API_VERSIONS: '',
  };
  return (value) =>
    value.includes('$')
      ? value.replace(
          /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
          (_whole, braced: string | undefined, bare: string | undefined) =>
            variables[braced ?? bare ?? ''] ?? '',
        )
      : value;
}
