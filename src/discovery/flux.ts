// Flux discovery: each Kustomization of a GitRepository becomes a driftgate source rendered at
// the revision Flux last applied, with its substitutions. Pure: objects in, sources out.
import type { KustomizeOptions, SourceAuth, SourceConfig } from '../config/config.js';
import { checkRepoURL, checkRevision, checkSourcePath } from '../desired/repo-url.js';
import {
  list,
  mapping,
  objectName,
  stringMap,
  text,
  type DiscoveryProblem,
  type DiscoveryResult,
} from './result.js';

export interface FluxMappingOptions {
  /** kustomize-controller's username: a sync identity for every Kustomization's objects. */
  readonly controller: string;
  /** Revisions are commit SHAs; polling only re-confirms them. */
  readonly pollIntervalMs: number;
  /** Credentials for a repository, when the integrator has them. */
  readonly authFor?: (repoURL: string) => SourceAuth | null;
}

export const defaultFluxController = 'system:serviceaccount:flux-system:kustomize-controller';

// Settings of the Kustomization that change what is applied and that driftgate cannot redo.
const UNREPRODUCIBLE = ['patches', 'components', 'commonMetadata'] as const;

// `main@sha1:<sha>`, `sha1:<sha>`, `refs/tags/v1@sha1:<sha>`; `main/<sha>` before Flux 2.0.
const REVISION = /(?:@|^)sha(?:1|256):([0-9a-f]{40}|[0-9a-f]{64})$|\/([0-9a-f]{40})$/;

/** The commit of a Flux revision string, or undefined. */
export function commitOfFluxRevision(revision: string): string | undefined {
  const match = REVISION.exec(revision);
  return match?.[1] ?? match?.[2];
}

/** Maps Kustomizations (with the GitRepositories they read) to sources. */
export function sourcesFromFlux(
  gitRepositories: readonly unknown[],
  kustomizations: readonly unknown[],
  options: FluxMappingOptions,
): DiscoveryResult {
  const repositories = new Map<string, unknown>();
  for (const repository of gitRepositories) {
    const id = objectName(repository);
    if (id !== undefined) repositories.set(`${id.namespace}/${id.name}`, repository);
  }
  const sources: SourceConfig[] = [];
  const problems: DiscoveryProblem[] = [];
  for (const kustomization of kustomizations) {
    const id = objectName(kustomization);
    if (id === undefined) continue;
    const name = `flux:${id.namespace}/${id.name}`;
    const object = `Kustomization ${id.namespace}/${id.name}`;
    const problem = (effect: DiscoveryProblem['effect'], reason: string): void => {
      problems.push({ object, source: name, effect, reason });
    };
    const made = sourceOf(kustomization, id, repositories, options, problem);
    if (made !== undefined) sources.push({ ...made, name });
  }
  return { sources, problems };
}

function sourceOf(
  kustomization: unknown,
  id: { namespace: string; name: string },
  repositories: ReadonlyMap<string, unknown>,
  options: FluxMappingOptions,
  problem: (effect: DiscoveryProblem['effect'], reason: string) => void,
): Omit<SourceConfig, 'name'> | undefined {
  const spec = mapping(kustomization, 'spec');
  const sourceRef = mapping(spec, 'sourceRef');
  const kind = text(sourceRef, 'kind');
  if (kind !== 'GitRepository') {
    problem('skipped', `reads a ${kind ?? 'missing'} source, not a GitRepository`);
    return undefined;
  }
  const repositoryId = `${text(sourceRef, 'namespace') ?? id.namespace}/${text(sourceRef, 'name') ?? ''}`;
  const repository = repositories.get(repositoryId);
  if (repository === undefined) {
    problem('skipped', `its GitRepository ${repositoryId} is not known`);
    return undefined;
  }
  const repositorySpec = mapping(repository, 'spec');
  const repoURL = text(repositorySpec, 'url') ?? '';
  const checkedURL = checkRepoURL(repoURL);
  if (!checkedURL.ok) {
    problem(
      'skipped',
      `GitRepository ${repositoryId} url ${repoURL || '(none)'} ${checkedURL.message}`,
    );
    return undefined;
  }
  if (list(repositorySpec, 'include').length > 0) {
    problem('skipped', `GitRepository ${repositoryId} includes other repositories' artifacts`);
    return undefined;
  }
  const revision = revisionOf(kustomization, repositorySpec, problem);
  if (revision === undefined) return undefined;
  const path = checkSourcePath(text(spec, 'path') ?? '.');
  if (!path.ok) {
    problem('skipped', `path ${path.message}`);
    return undefined;
  }
  const unreproducible = UNREPRODUCIBLE.filter((key) => {
    const value = spec?.[key];
    return Array.isArray(value) ? value.length > 0 : mapping(value) !== undefined;
  });
  if (unreproducible.length > 0) {
    problem('skipped', `spec.${unreproducible.join(', spec.')} cannot be reproduced`);
    return undefined;
  }
  const postBuild = mapping(spec, 'postBuild');
  if (list(postBuild, 'substituteFrom').length > 0) {
    // Values from ConfigMaps and Secrets driftgate does not read: rendering without them would
    // compare Git with values Flux never applied.
    problem('skipped', 'postBuild.substituteFrom (ConfigMaps/Secrets) cannot be reproduced');
    return undefined;
  }
  if (text(repositorySpec, 'ignore') !== undefined) {
    problem(
      'partial',
      `GitRepository ${repositoryId} spec.ignore is not applied: files it leaves out of the artifact are still read`,
    );
  }
  const kustomize = kustomizeOptionsOf(spec, problem);
  if (kustomize === undefined) return undefined;
  const users = [options.controller];
  const serviceAccount = text(spec, 'serviceAccountName');
  if (serviceAccount !== undefined) {
    users.push(`system:serviceaccount:${id.namespace}:${serviceAccount}`);
  }
  const substitute = stringMap(postBuild, 'substitute');
  const targetNamespace = text(spec, 'targetNamespace');
  return {
    repoURL,
    revision,
    path: path.value,
    namespace: targetNamespace ?? id.namespace,
    // Flux builds kustomization.yaml where there is one and generates one over every manifest
    // below the path where there is none: `auto` without Helm options does the same.
    render: 'auto',
    command: [],
    pollIntervalMs: options.pollIntervalMs,
    include: [],
    exclude: [],
    auth: options.authFor?.(repoURL) ?? null,
    syncIdentities: { users, groups: [] },
    ignoreDifferences: [],
    trackingLabel: null,
    ...(kustomize === null ? {} : { kustomize }),
    ...(Object.keys(substitute).length === 0 ? {} : { substitute }),
    fluxAnnotations: true,
    origin: { kind: 'flux', object: `${id.namespace}/${id.name}` },
  };
}

/**
 * The commit Flux applied; before the first apply, the GitRepository's ref (what Flux is about
 * to apply).
 */
function revisionOf(
  kustomization: unknown,
  repositorySpec: Record<string, unknown> | undefined,
  problem: (effect: DiscoveryProblem['effect'], reason: string) => void,
): string | null | undefined {
  const applied = text(mapping(kustomization, 'status'), 'lastAppliedRevision');
  if (applied !== undefined) {
    const commit = commitOfFluxRevision(applied);
    if (commit === undefined) {
      problem('skipped', `status.lastAppliedRevision ${applied} names no commit`);
      return undefined;
    }
    return commit;
  }
  const ref = mapping(repositorySpec, 'ref');
  if (text(ref, 'semver') !== undefined && text(ref, 'commit') === undefined) {
    problem('skipped', 'not applied yet and its GitRepository follows a semver range');
    return undefined;
  }
  // Flux's precedence: commit, name, semver, tag, branch; no ref at all means branch master.
  const wanted =
    text(ref, 'commit') ?? text(ref, 'name') ?? text(ref, 'tag') ?? text(ref, 'branch') ?? 'master';
  if (!checkRevision(wanted).ok) {
    problem('skipped', `GitRepository ref ${wanted} cannot be fetched`);
    return undefined;
  }
  return wanted;
}

/** images, namePrefix, nameSuffix: what Flux sets on the kustomization before building. */
function kustomizeOptionsOf(
  spec: Record<string, unknown> | undefined,
  problem: (effect: DiscoveryProblem['effect'], reason: string) => void,
): KustomizeOptions | null | undefined {
  const images: string[] = [];
  for (const image of list(spec, 'images')) {
    const name = text(image, 'name');
    if (name === undefined) {
      problem('skipped', 'an images entry has no name');
      return undefined;
    }
    const newName = text(image, 'newName');
    const newTag = text(image, 'newTag');
    const digest = text(image, 'digest');
    const target = `${newName ?? name}${newTag === undefined ? '' : `:${newTag}`}${digest === undefined ? '' : `@${digest}`}`;
    images.push(`${name}=${target}`);
  }
  const namePrefix = text(spec, 'namePrefix') ?? null;
  const nameSuffix = text(spec, 'nameSuffix') ?? null;
  const namespace = text(spec, 'targetNamespace') ?? null;
  if (images.length === 0 && namePrefix === null && nameSuffix === null && namespace === null) {
    return null;
  }
  return { images, namePrefix, nameSuffix, namespace, replicas: [] };
}
