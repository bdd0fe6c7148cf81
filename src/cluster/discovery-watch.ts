// Argo CD and Flux discovery from the cluster: watches Applications, GitRepositories and
// Kustomizations and hands the sources they describe to the provider, and HelmReleases, whose
// identities and revisions it hands to the decision. No sources are published before every
// source watch has listed once, so a slow start never reads as "every Application was deleted"
// and never drops the sources served from the persisted snapshot.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { ArgoCDDiscovery, FluxDiscovery } from '../config/config.js';
import { sourcesFromApplications } from '../discovery/argocd.js';
import {
  KNOWN_HOSTS_CONFIGMAP,
  readRepoCredentials,
  REPOSITORY_SECRETS_SELECTOR,
  type RepoCredentials,
} from '../discovery/argocd-credentials.js';
import type { ClusterConnection } from './connection.js';
import { CredentialFiles } from './credential-files.js';
import { defaultFluxController, sourcesFromFlux } from '../discovery/flux.js';
import {
  defaultHelmController,
  releasesFromFlux,
  type HelmReleaseDiscovery,
} from '../discovery/flux-helm.js';
import { readArgoCDSettings } from '../discovery/argocd-settings.js';
import {
  readIgnoreDifferences,
  type DiscoveryProblem,
  type DiscoveryResult,
} from '../discovery/result.js';
import {
  watchCollection,
  type WatchEvents,
  type WatchTiming,
  type WatchedCollection,
} from './watch.js';

export interface DiscoverySettings {
  readonly argocd: ArgoCDDiscovery | null;
  readonly flux: FluxDiscovery | null;
  /** How often discovered sources re-confirm their (fixed) commit with Git. */
  readonly pollIntervalMs: number;
  /** Where Argo CD's repository credentials are written for git (argocd.repoCredentials). */
  readonly credentialsDir?: string;
}

export interface DiscoveryWatch {
  /** Whether every discovery watch (HelmReleases' too) has listed once. */
  isSynced(): boolean;
  stop(): Promise<void>;
}

export function watchDiscovery(
  connection: ClusterConnection,
  settings: DiscoverySettings,
  deps: {
    readonly logger: Logger;
    readonly events: WatchEvents;
    /** Called with every discovered source, after each change (coalesced). */
    readonly publish: (result: DiscoveryResult) => void;
    /** Every problem of the latest mapping, for metrics. */
    readonly problems?: (problems: readonly DiscoveryProblem[]) => void;
    /**
     * Called with every Flux HelmRelease (with `discovery.flux`), after each change (coalesced),
     * once their watch has listed. Apart from the sources: a cluster without helm-controller
     * (no HelmRelease API) still has its Kustomizations discovered.
     */
    readonly releases?: (result: HelmReleaseDiscovery) => void;
    readonly timing?: WatchTiming;
    /** Changes arriving within this window are published once. */
    readonly debounceMs?: number;
    /** Where Argo CD's objects are read: the hub's API server (hub and spoke); else this one. */
    readonly argocdConnection?: ClusterConnection;
  },
): DiscoveryWatch | undefined {
  const { logger } = deps;
  if (settings.argocd === null && settings.flux === null) return undefined;
  const debounceMs = deps.debounceMs ?? 200;
  let pending: NodeJS.Timeout | undefined;
  let pendingReleases: NodeJS.Timeout | undefined;
  let stopped = false;
  const reported = new Set<string>();
  let applicationCache = { key: '', byObject: new Map<KubernetesObject, DiscoveryResult>() };
  let kustomizationCache = new Map<
    KubernetesObject,
    { repository: unknown; result: DiscoveryResult }
  >();

  const events: WatchEvents = {
    ...deps.events,
    synced(name) {
      deps.events.synced(name);
      if (name === HELM_RELEASES_WATCH) scheduleReleases();
      else schedule();
    },
    changed(name) {
      deps.events.changed(name);
      if (name === HELM_RELEASES_WATCH) scheduleReleases();
      else schedule();
    },
  };
  const watchDeps = {
    logger,
    events,
    ...(deps.timing === undefined ? {} : { timing: deps.timing }),
  };
  const collectionPath = (group: string, version: string, resource: string, ns: string | null) =>
    ns === null
      ? `/apis/${group}/${version}/${resource}`
      : `/apis/${group}/${version}/namespaces/${ns}/${resource}`;

  const argocdCluster = deps.argocdConnection ?? connection;
  const applications =
    settings.argocd === null
      ? undefined
      : watchCollection<KubernetesObject>(
          argocdCluster,
          {
            name: 'argocd-applications',
            path: collectionPath(
              'argoproj.io',
              'v1alpha1',
              'applications',
              settings.argocd.namespace,
            ),
          },
          watchDeps,
        );
  // Sync impersonation (Argo CD 2.13+): argocd-cm turns it on, each AppProject's
  // destinationServiceAccounts says as whom Argo CD syncs; that account is a sync identity too.
  const projects =
    settings.argocd === null
      ? undefined
      : watchCollection<KubernetesObject>(
          argocdCluster,
          {
            name: 'argocd-appprojects',
            path: collectionPath(
              'argoproj.io',
              'v1alpha1',
              'appprojects',
              settings.argocd.namespace,
            ),
          },
          watchDeps,
        );
  const argocdSettings =
    settings.argocd === null
      ? undefined
      : watchCollection<KubernetesObject & { data?: Record<string, string> }>(
          argocdCluster,
          {
            name: 'argocd-cm',
            path: `/api/v1/namespaces/${settings.argocd.namespace}/configmaps`,
            fieldSelector: 'metadata.name=argocd-cm',
          },
          watchDeps,
        );
  // Argo CD's repository credentials, only when the config lends them (argocd.repoCredentials):
  // reading them takes a grant to read the Secrets of Argo CD's namespace.
  const lendsCredentials = settings.argocd?.repoCredentials === true;
  const repositorySecrets =
    settings.argocd === null || !lendsCredentials
      ? undefined
      : watchCollection<KubernetesObject>(
          argocdCluster,
          {
            name: 'argocd-repository-secrets',
            path: `/api/v1/namespaces/${settings.argocd.namespace}/secrets`,
            labelSelector: REPOSITORY_SECRETS_SELECTOR,
          },
          watchDeps,
        );
  const knownHosts =
    settings.argocd === null || !lendsCredentials
      ? undefined
      : watchCollection<KubernetesObject & { data?: Record<string, string> }>(
          argocdCluster,
          {
            name: 'argocd-ssh-known-hosts',
            path: `/api/v1/namespaces/${settings.argocd.namespace}/configmaps`,
            fieldSelector: `metadata.name=${KNOWN_HOSTS_CONFIGMAP}`,
          },
          watchDeps,
        );
  const credentialFiles =
    settings.credentialsDir === undefined
      ? undefined
      : new CredentialFiles(settings.credentialsDir);
  const fluxNamespace = settings.flux?.namespace ?? null;
  const gitRepositories =
    settings.flux === null
      ? undefined
      : watchCollection<KubernetesObject>(
          connection,
          {
            name: 'flux-gitrepositories',
            path: collectionPath(
              'source.toolkit.fluxcd.io',
              'v1',
              'gitrepositories',
              fluxNamespace,
            ),
          },
          watchDeps,
        );
  const kustomizations =
    settings.flux === null
      ? undefined
      : watchCollection<KubernetesObject>(
          connection,
          {
            name: 'flux-kustomizations',
            path: collectionPath(
              'kustomize.toolkit.fluxcd.io',
              'v1',
              'kustomizations',
              fluxNamespace,
            ),
          },
          watchDeps,
        );
  const helmReleases =
    settings.flux === null
      ? undefined
      : watchCollection<KubernetesObject>(
          connection,
          {
            name: HELM_RELEASES_WATCH,
            path: collectionPath('helm.toolkit.fluxcd.io', 'v2', 'helmreleases', fluxNamespace),
          },
          watchDeps,
        );
  const all = [
    applications,
    projects,
    argocdSettings,
    repositorySecrets,
    knownHosts,
    gitRepositories,
    kustomizations,
  ].filter(
    (collection): collection is WatchedCollection<KubernetesObject> => collection !== undefined,
  );
  const isSynced = () => all.every((collection) => collection.isSynced());

  function scheduleReleases(): void {
    if (stopped || helmReleases?.isSynced() !== true || pendingReleases !== undefined) return;
    pendingReleases = setTimeout(() => {
      pendingReleases = undefined;
      if (!stopped) publishReleases();
    }, debounceMs);
    pendingReleases.unref();
  }

  function publishReleases(): void {
    if (helmReleases === undefined) return;
    const result = releasesFromFlux(helmReleases.list(), { controller: defaultHelmController });
    for (const problem of result.problems) {
      const id = `${problem.object}|${problem.effect}|${problem.reason}`;
      if (reported.has(id)) continue;
      reported.add(id);
      logger.warn(
        { object: problem.object, effect: problem.effect },
        `discovery: its objects' writers are not known here: ${problem.reason}`,
      );
    }
    logger.info(
      { helmReleases: result.releases.map((release) => release.name) },
      'discovered HelmReleases',
    );
    deps.releases?.(result);
  }

  function schedule(): void {
    if (stopped || !isSynced() || pending !== undefined) return;
    pending = setTimeout(() => {
      pending = undefined;
      if (!stopped) publishNow();
    }, debounceMs);
    pending.unref();
  }

  function publishNow(): void {
    const sources = [];
    const problems: DiscoveryProblem[] = [];
    if (applications !== undefined && settings.argocd !== null) {
      const argocdCm = argocdSettings?.get('argocd-cm', settings.argocd.namespace);
      const impersonation = {
        enabled: argocdCm?.data?.['application.sync.impersonation.enabled'] === 'true',
        projects: projects?.list() ?? [],
      };
      // argocd-cm says how this instance tracks resources and what it never compares; the
      // config's trackingMethod and instanceLabelKey stand where it says nothing.
      const settingsObject = `ConfigMap ${settings.argocd.namespace}/argocd-cm`;
      const instance = readArgoCDSettings(argocdCm?.data, settingsObject);
      problems.push(...instance.problems);
      const instanceIgnoreDifferences = readIgnoreDifferences(
        instance.ignoreDifferences,
        (reason) =>
          problems.push({ object: settingsObject, source: null, effect: 'partial', reason }),
      );
      const credentials =
        repositorySecrets === undefined
          ? undefined
          : readRepoCredentials(
              repositorySecrets.list(),
              knownHosts?.get(KNOWN_HOSTS_CONFIGMAP, settings.argocd.namespace)?.data?.[
                'ssh_known_hosts'
              ],
            );
      if (credentials !== undefined) {
        problems.push(...credentials.problems);
        keepCredentialFiles(credentials);
      }
      const options = {
        controller: settings.argocd.controller,
        trackingMethod: instance.trackingMethod ?? settings.argocd.trackingMethod,
        instanceLabelKey: instance.instanceLabelKey ?? settings.argocd.instanceLabelKey,
        pollIntervalMs: settings.pollIntervalMs,
        impersonation,
        instanceIgnoreDifferences,
        ...(credentials === undefined ? {} : { authFor: credentialsFor(credentials) }),
        ...(settings.argocd.hub === null
          ? {}
          : {
              thisCluster: { server: settings.argocd.hub.server, name: settings.argocd.hub.name },
            }),
      };
      // AppProjects and argocd-cm change every Application's mapping; otherwise an unchanged
      // Application (the same cached object) keeps its result, and the provider sees the same
      // SourceConfig objects and skips them.
      const projectsKey = JSON.stringify([
        credentials?.version,
        argocdCm?.metadata?.resourceVersion,
        impersonation.enabled,
        impersonation.projects.map((project) => project.metadata?.resourceVersion),
      ]);
      if (projectsKey !== applicationCache.key)
        applicationCache = { key: projectsKey, byObject: new Map() };
      const next = new Map<KubernetesObject, DiscoveryResult>();
      for (const application of applications.list()) {
        const result =
          applicationCache.byObject.get(application) ??
          sourcesFromApplications([application], options);
        next.set(application, result);
        sources.push(...result.sources);
        problems.push(...result.problems);
      }
      applicationCache.byObject = next;
    }
    if (gitRepositories !== undefined && kustomizations !== undefined) {
      const options = {
        controller: defaultFluxController,
        pollIntervalMs: settings.pollIntervalMs,
      };
      const repositories = new Map(
        gitRepositories
          .list()
          .map((repository) => [
            `${repository.metadata?.namespace ?? ''}/${repository.metadata?.name ?? ''}`,
            repository,
          ]),
      );
      const next = new Map<KubernetesObject, { repository: unknown; result: DiscoveryResult }>();
      for (const kustomization of kustomizations.list()) {
        const repository = repositories.get(sourceRefOf(kustomization));
        const cached = kustomizationCache.get(kustomization);
        const result =
          cached !== undefined && cached.repository === repository
            ? cached.result
            : sourcesFromFlux(
                repository === undefined ? [] : [repository],
                [kustomization],
                options,
              );
        next.set(kustomization, { repository, result });
        sources.push(...result.sources);
        problems.push(...result.problems);
      }
      kustomizationCache = next;
    }
    deps.problems?.(problems);
    for (const problem of problems) {
      const id = `${problem.object}|${problem.effect}|${problem.reason}`;
      if (reported.has(id)) continue;
      reported.add(id);
      logger.warn(
        { object: problem.object, source: problem.source, effect: problem.effect },
        problem.effect === 'skipped'
          ? `discovery: not judged, cannot be reproduced: ${problem.reason}`
          : `discovery: partly compared: ${problem.reason}`,
      );
    }
    logger.info(
      { sources: sources.map((source) => source.name), problems: problems.length },
      'discovered sources',
    );
    deps.publish({ sources, problems });
  }

  /** Credentials for a clone, written to files; null (clone without) when they cannot be. */
  function credentialsFor(credentials: RepoCredentials) {
    return (repoURL: string) => {
      const credential = credentials.forURL(repoURL);
      if (credential === undefined || credentialFiles === undefined) return null;
      try {
        return credentialFiles.authFor(credential);
      } catch (error) {
        logger.error(
          { secret: credential.secret, error: error instanceof Error ? error.message : error },
          'discovery: cannot write repository credentials; cloning without them',
        );
        return null;
      }
    };
  }

  function keepCredentialFiles(credentials: RepoCredentials): void {
    try {
      credentialFiles?.keepOnly(credentials.secrets);
    } catch (error) {
      logger.warn(
        { error: error instanceof Error ? error.message : error },
        'discovery: cannot remove credentials of deleted Secrets',
      );
    }
  }

  return {
    isSynced: () => isSynced() && (helmReleases?.isSynced() ?? true),
    async stop() {
      stopped = true;
      if (pending !== undefined) clearTimeout(pending);
      if (pendingReleases !== undefined) clearTimeout(pendingReleases);
      await Promise.all(
        [...all, ...(helmReleases === undefined ? [] : [helmReleases])].map((collection) =>
          collection.stop(),
        ),
      );
    },
  };
}

const HELM_RELEASES_WATCH = 'flux-helmreleases';

/** `namespace/name` of the GitRepository a Kustomization reads (its own namespace by default). */
function sourceRefOf(kustomization: KubernetesObject): string {
  const spec = (kustomization as { spec?: { sourceRef?: { name?: string; namespace?: string } } })
    .spec;
  const namespace = spec?.sourceRef?.namespace ?? kustomization.metadata?.namespace ?? '';
  return `${namespace}/${spec?.sourceRef?.name ?? ''}`;
}
