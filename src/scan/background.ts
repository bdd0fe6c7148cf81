// serve's background scan: the same reads and comparison as `driftgate scan`, repeated every
// `scan.interval` (with jitter, so replicas do not scan in step), published as metrics. It runs
// on timers beside the webhook, never on a review's path: reviews never wait for it, and it
// yields to them between pages.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Gauge, Histogram, type Registry } from 'prom-client';
import type { Config, SourceConfig } from '../config/config.js';
import type { DesiredSnapshot } from '../desired/snapshot.js';
import type { ClusterFacts } from '../policy/facts.js';
import { createClusterReader, type ClusterReader } from './reader.js';
import { scanCluster, type ScanReport } from './scan.js';

export interface BackgroundScanDeps {
  readonly kubeConfig: KubeConfig;
  readonly config: Config;
  readonly snapshot: () => DesiredSnapshot;
  readonly sources: () => readonly SourceConfig[];
  readonly facts: () => ClusterFacts;
  /** The facts are the cluster's (the watches have listed): scanning before would misjudge. */
  readonly ready: () => boolean;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly now: () => Date;
  /** A random fraction in [0, 1): the jitter of each wait. */
  readonly random?: () => number;
  /** Wait before the first scan (default 30 s, while the watches list). */
  readonly initialDelayMs?: number;
  /** While not ready, check again this often (default 5 s). */
  readonly retryMs?: number;
  /** The reader of each scan (tests count its requests). */
  readonly reader?: (kubeConfig: KubeConfig, qps: number) => ClusterReader;
}

export interface BackgroundScan {
  /** The last completed scan's report. */
  last(): ScanReport | undefined;
  stop(): Promise<void>;
}

/** Up to this share of the interval is added at random to each wait. */
const JITTER = 0.2;

/** A wait of `ms` plus up to a fifth more, so replicas started together drift apart. */
export function jittered(ms: number, random: () => number): number {
  return ms * (1 + random() * JITTER);
}

function scanMetrics(registry: Registry) {
  return {
    drifted: new Gauge({
      name: 'driftgate_drifted_objects',
      help: 'Objects Git declares whose cluster copy differs from Git, at the last background scan',
      labelNames: ['namespace', 'kind'] as const,
      registers: [registry],
    }),
    protected: new Gauge({
      name: 'driftgate_objects_protected',
      help: 'Objects the last background scan read, by what protects them from a person’s write: git, sync-record (the record of the sync tool that deployed it), or none',
      labelNames: ['by'] as const,
      registers: [registry],
    }),
    missing: new Gauge({
      name: 'driftgate_missing_objects',
      help: 'Objects Git declares that the cluster lacks, at the last background scan',
      labelNames: ['namespace'] as const,
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'driftgate_scan_duration_seconds',
      help: 'Duration of background scans that completed',
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800],
      registers: [registry],
    }),
    lastSuccess: new Gauge({
      name: 'driftgate_scan_last_success_timestamp_seconds',
      help: 'When the last background scan completed (Unix time)',
      registers: [registry],
    }),
  };
}

export function startBackgroundScan(deps: BackgroundScanDeps): BackgroundScan {
  const metrics = scanMetrics(deps.registry);
  const random = deps.random ?? Math.random;
  const makeReader = deps.reader ?? ((kubeConfig, qps) => createClusterReader(kubeConfig, { qps }));
  const { intervalMs, qps } = deps.config.scan;
  let last: ScanReport | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const stopping = new AbortController();

  function schedule(delayMs: number): void {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = undefined;
      running = tick().finally(() => {
        running = undefined;
      });
    }, delayMs);
    timer.unref();
  }

  let waitingSince: number | undefined;

  async function tick(): Promise<void> {
    if (deps.snapshot().origin === 'empty') {
      schedule(deps.retryMs ?? 5_000);
      return;
    }
    if (!deps.ready()) {
      // A watch that never lists (403 on HPAs, say) must not stop the scan for good: after an
      // interval of waiting, scan with what is known, and say what that means.
      waitingSince ??= performance.now();
      if (performance.now() - waitingSince < intervalMs) {
        schedule(deps.retryMs ?? 5_000);
        return;
      }
      deps.logger.warn(
        'background scan: the cluster watches have not all listed; scanning without what they would tell (HPAs, namespace modes, break-glass)',
      );
    }
    waitingSince = undefined;
    const started = performance.now();
    try {
      const report = await scanCluster({
        reader: makeReader(deps.kubeConfig, qps),
        snapshot: deps.snapshot(),
        sources: deps.sources(),
        config: deps.config,
        facts: deps.facts(),
        now: deps.now(),
        signal: stopping.signal,
      });
      if (stopped) return;
      const seconds = (performance.now() - started) / 1000;
      publish(report);
      metrics.duration.observe(seconds);
      metrics.lastSuccess.set(deps.now().getTime() / 1000);
      last = report;
      const { objects, drifted, missing, notJudged, wouldRefuse } = report.summary;
      deps.logger.info(
        { objects, drifted, missing, notJudged, wouldRefuse, seconds },
        'background scan: the cluster compared with Git',
      );
    } catch (error) {
      if (stopped) return;
      deps.logger.warn(
        { err: error instanceof Error ? error.message : String(error) },
        'background scan failed: the cluster could not be read; the last results stand',
      );
    }
    schedule(jittered(intervalMs, random));
  }

  function publish(report: ScanReport): void {
    const drifted = new Map<string, { namespace: string; kind: string; count: number }>();
    const missing = new Map<string, number>();
    for (const object of report.objects) {
      const key = `${object.namespace}\u0000${object.kind}`;
      const entry = drifted.get(key) ?? {
        namespace: object.namespace,
        kind: object.kind,
        count: 0,
      };
      if (object.status === 'drifted') entry.count += 1;
      drifted.set(key, entry);
      missing.set(
        object.namespace,
        (missing.get(object.namespace) ?? 0) + (object.status === 'missing' ? 1 : 0),
      );
    }
    // Whole sets replaced: a namespace or kind no longer in Git disappears from the metrics.
    metrics.drifted.reset();
    for (const { namespace, kind, count } of drifted.values()) {
      metrics.drifted.set({ namespace, kind }, count);
    }
    metrics.missing.reset();
    for (const [namespace, count] of missing) metrics.missing.set({ namespace }, count);
    for (const [by, count] of Object.entries(report.summary.byProtection)) {
      metrics.protected.set({ by }, count);
    }
  }

  schedule(jittered(deps.initialDelayMs ?? 30_000, random));

  return {
    last: () => last,
    async stop() {
      stopped = true;
      stopping.abort();
      if (timer !== undefined) clearTimeout(timer);
      await running;
    },
  };
}
