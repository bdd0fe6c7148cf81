// Metrics of the cluster watches: whether each has listed, how often it relisted and failed.
// Readiness never waits for them; these and the logs are how an admin sees them.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { DiscoveryProblem } from '../discovery/result.js';
import type { WatchEvents } from './watch.js';

export function watchMetrics(registry: Registry): WatchEvents {
  const synced = new Gauge({
    name: 'driftgate_cluster_watch_synced',
    help: 'Whether a cluster watch has listed once (1) or decisions lack what it knows (0).',
    labelNames: ['watch'] as const,
    registers: [registry],
  });
  const relists = new Counter({
    name: 'driftgate_cluster_watch_relists_total',
    help: 'Full relists of a cluster watch after the first (410 Gone, reconnects).',
    labelNames: ['watch'] as const,
    registers: [registry],
  });
  const errors = new Counter({
    name: 'driftgate_cluster_watch_errors_total',
    help: 'Failed lists and watches; each is retried with backoff.',
    labelNames: ['watch'] as const,
    registers: [registry],
  });
  const changes = new Counter({
    name: 'driftgate_cluster_watch_changes_total',
    help: 'Objects added, changed or deleted as seen by a cluster watch.',
    labelNames: ['watch'] as const,
    registers: [registry],
  });
  return {
    started: (watch) => {
      synced.set({ watch }, 0);
    },
    synced: (watch) => {
      synced.set({ watch }, 1);
    },
    changed: (watch) => {
      changes.inc({ watch });
    },
    relisted: (watch) => {
      relists.inc({ watch });
    },
    failed: (watch) => {
      errors.inc({ watch });
    },
  };
}

/**
 * How many sync-tool objects discovery could not reproduce, wholly or in part: the problems of
 * the latest mapping (passed to the function returned) and, read at each scrape, those of
 * rendering the discovered sources (`renderProblems`: a render that fails, files left out).
 */
export function discoveryProblemMetrics(
  registry: Registry,
  renderProblems: () => readonly DiscoveryProblem[] = () => [],
): (problems: readonly DiscoveryProblem[]) => void {
  let mapped: readonly DiscoveryProblem[] = [];
  new Gauge({
    name: 'driftgate_discovery_problems',
    help: 'Discovered objects not judged (skipped) or compared in part (partial), by tool; the log says why.',
    labelNames: ['tool', 'effect'] as const,
    registers: [registry],
    collect() {
      const problems = [...mapped, ...renderProblems()];
      this.reset();
      for (const tool of ['argocd', 'flux'] as const) {
        for (const effect of ['skipped', 'partial'] as const) {
          const count = problems.filter(
            (problem) =>
              problem.effect === effect &&
              problem.object.startsWith(tool === 'argocd' ? 'Application ' : 'Kustomization '),
          ).length;
          this.set({ tool, effect }, count);
        }
      }
    },
  });
  return (problems) => {
    mapped = problems;
  };
}
