// Argo CD and Flux discovery from the cluster: watches Applications, GitRepositories and
// Kustomizations and hands the sources they describe to the provider. Nothing is published
// before every discovery watch has listed once, so a slow start never reads as "every
// Application was deleted" and never drops the sources served from the persisted snapshot.
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { ArgoCDDiscovery, FluxDiscovery } from '../config/config.js';
import { sourcesFromApplications } from '../discovery/argocd.js';
import { defaultFluxController, sourcesFromFlux } from '../discovery/flux.js';
import type { DiscoveryProblem, DiscoveryResult } from '../discovery/result.js';
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
}

export interface DiscoveryWatch {
  /** Whether every discovery watch has listed once. */
  isSynced(): boolean;
  stop(): Promise<void>;
}

export function watchDiscovery(
  kubeConfig: KubeConfig,
  settings: DiscoverySettings,
  deps: {
    readonly logger: Logger;
    readonly events: WatchEvents;
    /** Called with every discovered source, after each change (coalesced). */
    readonly publish: (result: DiscoveryResult) => void;
    /** Every problem of the latest mapping, for metrics. */
    readonly problems?: (problems: readonly DiscoveryProblem[]) => void;
    readonly timing?: WatchTiming;
    /** Changes arriving within this window are published once. */
    readonly debounceMs?: number;
  },
): DiscoveryWatch | undefined {
  const { logger } = deps;
  if (settings.argocd === null && settings.flux === null) return undefined;
  const debounceMs = deps.debounceMs ?? 200;
  let pending: NodeJS.Timeout | undefined;
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
      schedule();
    },
    changed(name) {
      deps.events.changed(name);
      schedule();
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

  const applications =
    settings.argocd === null
      ? undefined
      : watchCollection<KubernetesObject>(
          kubeConfig,
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
          kubeConfig,
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
          kubeConfig,
          {
            name: 'argocd-cm',
            path: `/api/v1/namespaces/${settings.argocd.namespace}/configmaps`,
            fieldSelector: 'metadata.name=argocd-cm',
          },
          watchDeps,
        );
  const fluxNamespace = settings.flux?.namespace ?? null;
  const gitRepositories =
    settings.flux === null
      ? undefined
      : watchCollection<KubernetesObject>(
          kubeConfig,
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
          kubeConfig,
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
  const all = [applications, projects, argocdSettings, gitRepositories, kustomizations].filter(
    (collection): collection is WatchedCollection<KubernetesObject> => collection !== undefined,
  );
  const isSynced = () => all.every((collection) => collection.isSynced());

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
      const impersonation = {
        enabled:
          argocdSettings?.get('argocd-cm', settings.argocd.namespace)?.data?.[
            'application.sync.impersonation.enabled'
          ] === 'true',
        projects: projects?.list() ?? [],
      };
      const options = {
        controller: settings.argocd.controller,
        trackingMethod: settings.argocd.trackingMethod,
        instanceLabelKey: settings.argocd.instanceLabelKey,
        pollIntervalMs: settings.pollIntervalMs,
        impersonation,
      };
      // AppProjects and argocd-cm change every Application's mapping; otherwise an unchanged
      // Application (the same cached object) keeps its result, and the provider sees the same
      // SourceConfig objects and skips them.
      const projectsKey = JSON.stringify([
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

  return {
    isSynced,
    async stop() {
      stopped = true;
      if (pending !== undefined) clearTimeout(pending);
      await Promise.all(all.map((collection) => collection.stop()));
    },
  };
}

/** `namespace/name` of the GitRepository a Kustomization reads (its own namespace by default). */
function sourceRefOf(kustomization: KubernetesObject): string {
  const spec = (kustomization as { spec?: { sourceRef?: { name?: string; namespace?: string } } })
    .spec;
  const namespace = spec?.sourceRef?.namespace ?? kustomization.metadata?.namespace ?? '';
  return `${namespace}/${spec?.sourceRef?.name ?? ''}`;
}
