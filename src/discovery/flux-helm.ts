// Flux HelmRelease discovery: driftgate cannot render a Helm chart, so a HelmRelease makes no
// source; it says who applies its objects and what it last released. Pure: objects in, facts out.
import type { HelmReleaseFacts } from '../policy/facts.js';
import { list, mapping, objectName, text, type DiscoveryProblem } from './result.js';

export const defaultHelmController = 'system:serviceaccount:flux-system:helm-controller';

export interface HelmReleaseMappingOptions {
  /** helm-controller's username: a sync identity for the objects of every HelmRelease. */
  readonly controller: string;
}

export interface HelmReleaseDiscovery {
  readonly releases: readonly HelmReleaseFacts[];
  readonly problems: readonly DiscoveryProblem[];
}

/** Maps HelmReleases (`helm.toolkit.fluxcd.io/v2`) to who deploys their objects. */
export function releasesFromFlux(
  helmReleases: readonly unknown[],
  options: HelmReleaseMappingOptions,
): HelmReleaseDiscovery {
  const releases: HelmReleaseFacts[] = [];
  const problems: DiscoveryProblem[] = [];
  for (const helmRelease of helmReleases) {
    const id = objectName(helmRelease);
    if (id === undefined) continue;
    const name = `${id.namespace}/${id.name}`;
    const spec = mapping(helmRelease, 'spec');
    if (mapping(spec, 'kubeConfig') !== undefined) {
      // Its objects live on another cluster: nothing here is its to write.
      problems.push({
        object: `HelmRelease ${name}`,
        source: null,
        effect: 'skipped',
        reason: 'spec.kubeConfig: it deploys to another cluster',
      });
      continue;
    }
    const users = [options.controller];
    // helm-controller impersonates this account, in the HelmRelease's own namespace.
    const serviceAccount = text(spec, 'serviceAccountName');
    if (serviceAccount !== undefined) {
      users.push(`system:serviceaccount:${id.namespace}:${serviceAccount}`);
    }
    releases.push({
      name,
      syncIdentities: { users, groups: [] },
      revision: revisionOf(mapping(helmRelease, 'status')),
    });
  }
  return { releases, problems };
}

/**
 * The latest Helm release in `status.history` (the highest `version`: helm-controller keeps them
 * newest first, but says so nowhere), as `chart@version, Helm release <ns>/<name>.v<n>`; before
 * the first release, the chart version of the last attempt.
 */
function revisionOf(status: Record<string, unknown> | undefined): string | undefined {
  let latest: Record<string, unknown> | undefined;
  for (const snapshot of list(status, 'history')) {
    const entry = mapping(snapshot);
    const version = entry?.version;
    if (typeof version !== 'number') continue;
    if (latest === undefined || version > (latest.version as number)) latest = entry;
  }
  if (latest !== undefined) {
    const chart = `${text(latest, 'chartName') ?? '(chart)'}@${text(latest, 'chartVersion') ?? '(version)'}`;
    const release = `${text(latest, 'namespace') ?? ''}/${text(latest, 'name') ?? ''}.v${String(latest.version)}`;
    return `${chart}, Helm release ${release}`;
  }
  const attempted = text(status, 'lastAttemptedRevision');
  return attempted === undefined ? undefined : `chart version ${attempted} (last attempted)`;
}
