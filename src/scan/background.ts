// serve's background scan: the same reads and comparison as `driftgate scan`, repeated every
// `scan.interval` (with jitter), published as metrics and PolicyReports. Only the replica that
// holds the scan Lease scans (three replicas must not triple the load on the API server); the
// others export no scan results and `driftgate_scan_leader 0`. It runs on timers beside the
// webhook, never on a review's path: reviews never wait for it, and it yields to them between
// pages.
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ClusterConnection } from '../cluster/connection.js';
import type { Config, SourceConfig } from '../config/config.js';
import type { DesiredSnapshot } from '../desired/snapshot.js';
import type { ClusterFacts } from '../policy/facts.js';
import { startScanLease, type LeaseRole, type ScanLease } from './lease.js';
import { policyReportsOf, POLICY_REPORT_GROUP_VERSION } from './policy-report.js';
import { writePolicyReports } from './policy-report-writer.js';
import { createClusterReader, ScopedReadError, type ClusterReader } from './reader.js';
import { scanCluster, type ScanReport } from './scan.js';

export interface BackgroundScanDeps {
  readonly connection: ClusterConnection;
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
  readonly reader?: (connection: ClusterConnection, qps: number) => ClusterReader;
  /** Who holds the scan Lease: the pod name (default HOSTNAME, as a pod's host name is). */
  readonly identity?: string;
  /** The scan Lease's timing (tests shorten it). */
  readonly lease?: { readonly durationSeconds: number; readonly retryMs: number };
}

export interface BackgroundScan {
  /** The last completed scan's report (set once its PolicyReports, if any, are written). */
  last(): ScanReport | undefined;
  stop(): Promise<void>;
}

/** Up to this share of the interval is added at random to each wait. */
const JITTER = 0.2;

/** A wait of `ms` plus up to a fifth more, so replicas started together drift apart. */
export function jittered(ms: number, random: () => number): number {
  return ms * (1 + random() * JITTER);
}

/** Called at each scrape before the scan's gauges are read: the Lease may have moved since. */
type BeforeScrape = () => void;

function scanMetrics(registry: Registry, beforeScrape: BeforeScrape) {
  return {
    drifted: new Gauge({
      name: 'driftgate_drifted_objects',
      help: 'Objects Git declares whose cluster copy differs from Git, at the last background scan',
      labelNames: ['namespace', 'kind'] as const,
      registers: [registry],
      collect: beforeScrape,
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
      collect: beforeScrape,
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
    leader: new Gauge({
      name: 'driftgate_scan_leader',
      help: 'Whether this replica holds the scan Lease (1) and so scans and writes the PolicyReports; the others export no scan results',
      registers: [registry],
      collect: beforeScrape,
    }),
    reportWrites: new Counter({
      name: 'driftgate_policy_report_writes_total',
      help: 'PolicyReports written after a background scan, by operation (create, update, delete)',
      labelNames: ['operation'] as const,
      registers: [registry],
    }),
    reportProblems: new Counter({
      name: 'driftgate_policy_report_problems_total',
      help: 'PolicyReports not written, by reason (not-served: scan.policyReports is true but the CRDs are not installed; forbidden; conflict; failed)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
  };
}

export function startBackgroundScan(deps: BackgroundScanDeps): BackgroundScan {
  // A replica that another took the Lease from drops the results it published while it held
  // it: they would go stale beside the new holder's (summed across replicas, counted twice).
  // One that only cannot reach the API server keeps them, as a failed scan does: then no one
  // can scan, and the last results are the best there are.
  const beforeScrape = () => {
    const role = lease?.role();
    metrics.leader.set(role === 'leader' ? 1 : 0);
    const holder = lease?.holder();
    const taken =
      role === 'follower' && holder !== undefined && holder !== '' && holder !== identity;
    if (taken && published) {
      metrics.drifted.reset();
      metrics.missing.reset();
      metrics.protected.reset();
      published = false;
    }
  };
  const metrics = scanMetrics(deps.registry, beforeScrape);
  const random = deps.random ?? Math.random;
  const makeReader = deps.reader ?? ((connection, qps) => createClusterReader(connection, { qps }));
  const { intervalMs, qps } = deps.config.scan;
  let last: ScanReport | undefined;
  const identity = deps.identity ?? process.env.HOSTNAME ?? hostname();
  // Taken once this replica is ready to scan, not before: a replica still starting leaves the
  // scan to one that can.
  let lease: ScanLease | undefined;
  /** The drifted and missing gauges hold this replica's results. */
  let published = false;
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

  async function leaseRole(): Promise<LeaseRole> {
    if (lease === undefined) {
      lease = startScanLease({
        connection: deps.connection,
        namespace: deps.config.cluster.namespace,
        identity,
        logger: deps.logger,
        now: deps.now,
        ...(deps.lease === undefined
          ? {}
          : { leaseDurationSeconds: deps.lease.durationSeconds, retryMs: deps.lease.retryMs }),
      });
      await lease.settled;
    }
    beforeScrape();
    return lease.role();
  }

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
    if ((await leaseRole()) === 'follower') {
      schedule(deps.retryMs ?? 5_000);
      return;
    }
    const started = performance.now();
    try {
      const reader = makeReader(deps.connection, qps);
      const report = await scanCluster({
        reader,
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
      published = true;
      metrics.duration.observe(seconds);
      metrics.lastSuccess.set(deps.now().getTime() / 1000);
      // Only the Lease's holder writes: an uncoordinated replica (no RBAC for the Lease) would
      // have every replica rewrite the same reports.
      if (lease?.role() === 'leader') {
        await publishReports(report, reader).catch((error: unknown) => {
          const forbidden = error instanceof ScopedReadError && error.statusCode === 403;
          metrics.reportProblems.inc({ reason: forbidden ? 'forbidden' : 'failed' });
          deps.logger.warn(
            { err: error instanceof Error ? error.message : String(error) },
            'background scan: the PolicyReports could not be written; the next scan tries again',
          );
        });
      }
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

  async function publishReports(report: ScanReport, reader: ClusterReader): Promise<void> {
    const wanted = deps.config.scan.policyReports;
    if (wanted === false) return;
    const served =
      (await reader.resource(POLICY_REPORT_GROUP_VERSION, 'PolicyReport')) !== undefined &&
      (await reader.resource(POLICY_REPORT_GROUP_VERSION, 'ClusterPolicyReport')) !== undefined;
    if (!served) {
      if (wanted === true) {
        metrics.reportProblems.inc({ reason: 'not-served' });
        deps.logger.error(
          `scan.policyReports is true, but the API server does not serve ${POLICY_REPORT_GROUP_VERSION} PolicyReport and ClusterPolicyReport: install their CRDs (Kyverno installs them) or set scan.policyReports to auto`,
        );
      }
      return;
    }
    const writes = await writePolicyReports(
      deps.connection,
      reader,
      policyReportsOf(report, deps.now()),
      { qps },
    );
    const operations = { created: 'create', updated: 'update', deleted: 'delete' } as const;
    for (const outcome of writes.outcomes.values()) {
      if (outcome === 'created' || outcome === 'updated' || outcome === 'deleted') {
        metrics.reportWrites.inc({ operation: operations[outcome] });
      } else if (outcome !== 'unchanged') metrics.reportProblems.inc({ reason: outcome });
    }
    for (const problem of writes.problems) {
      deps.logger.warn({ err: problem }, 'background scan: a PolicyReport could not be written');
    }
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
    metrics.protected.reset();
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
      await lease?.stop();
    },
  };
}
