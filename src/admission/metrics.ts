// Prometheus metrics, on a registry passed in (never the global one), so tests and several
// servers in one process stay apart.
import { X509Certificate } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DesiredProvider } from '../desired/provider.js';
import type { OverrideMode } from '../policy/facts.js';

export interface Metrics {
  readonly registry: Registry;
  readonly decisions: Counter<'decision' | 'operation' | 'kind' | 'webhook'>;
  readonly notJudged: Counter<'reason'>;
  readonly reviewSeconds: Histogram<'webhook'>;
  readonly badRequests: Counter<'webhook' | 'status'>;
  readonly errors: Counter<'webhook'>;
  /** Sets the expiry gauge from the serving certificate (PEM), on load and on every reload. */
  readonly certificateLoaded: (certPem: string) => void;
}

export function createMetrics(
  provider: Pick<DesiredProvider, 'current' | 'status'>,
  /** Log lines dropped because standard output did not drain; none when the log is not ours. */
  droppedLogLines: () => number = () => 0,
): Metrics {
  const registry = new Registry();
  // A few process metrics of our own rather than prom-client's default set: under load its
  // collectors cost this webhook a fifth of its throughput (measured side by side).
  const loopDelay = monitorEventLoopDelay({ resolution: 20 });
  loopDelay.enable();
  new Gauge({
    name: 'driftgate_event_loop_delay_seconds',
    help: 'Event-loop delay since the last scrape, by quantile; a slow loop delays every review.',
    labelNames: ['quantile'] as const,
    registers: [registry],
    collect() {
      for (const [quantile, value] of [
        ['0.5', loopDelay.percentile(50)],
        ['0.99', loopDelay.percentile(99)],
        ['1', loopDelay.max],
      ] as const) {
        this.set({ quantile }, value / 1e9);
      }
      loopDelay.reset();
    },
  });
  new Gauge({
    name: 'driftgate_process_resident_memory_bytes',
    help: 'Resident memory of the process.',
    registers: [registry],
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  new Gauge({
    name: 'driftgate_process_cpu_seconds_total',
    help: 'User and system CPU time the process has used.',
    registers: [registry],
    collect() {
      const { user, system } = process.cpuUsage();
      this.set((user + system) / 1e6);
    },
  });
  new Gauge({
    name: 'driftgate_log_lines_dropped_total',
    help: 'Log lines, decision lines included, dropped because standard output did not drain.',
    registers: [registry],
    collect() {
      this.set(droppedLogLines());
    },
  });
  const decisions = new Counter({
    name: 'driftgate_decisions_total',
    help: 'Admission decisions about managed objects, by decision, operation and kind.',
    labelNames: ['decision', 'operation', 'kind', 'webhook'] as const,
    registers: [registry],
  });
  const notJudged = new Counter({
    name: 'driftgate_not_judged_total',
    help: 'Writes to managed objects allowed without comparing them with Git, by reason (version: Git and the write are in API versions driftgate cannot convert between).',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const reviewSeconds = new Histogram({
    name: 'driftgate_review_duration_seconds',
    help: 'Time to answer one AdmissionReview, from body received to response written.',
    labelNames: ['webhook'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const badRequests = new Counter({
    name: 'driftgate_bad_requests_total',
    help: 'Requests refused before a decision (not a review, too large, wrong content type).',
    labelNames: ['webhook', 'status'] as const,
    registers: [registry],
  });
  const errors = new Counter({
    name: 'driftgate_errors_total',
    help: 'Internal errors while deciding (answered per failureMode).',
    labelNames: ['webhook'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'driftgate_snapshot_objects',
    help: 'Objects in the desired snapshot being served.',
    registers: [registry],
    collect() {
      this.set(provider.current().size);
    },
  });
  new Gauge({
    name: 'driftgate_source_age_seconds',
    help: 'Seconds since Git last confirmed each source; absent when it never did.',
    labelNames: ['source'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const source of provider.status()) {
        if (source.ageMs !== null) this.set({ source: source.name }, source.ageMs / 1000);
      }
    },
  });
  new Gauge({
    name: 'driftgate_source_stale',
    help: '1 when the last fetch or render of a source failed and its last good objects are served.',
    labelNames: ['source'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const source of provider.status())
        this.set({ source: source.name }, source.stale ? 1 : 0);
    },
  });
  new Gauge({
    name: 'driftgate_source_last_error_timestamp_seconds',
    help: 'When the last fetch or render of each source failed (Unix time); absent when none did.',
    labelNames: ['source', 'code'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const source of provider.status()) {
        if (source.lastError !== null) {
          this.set(
            { source: source.name, code: source.lastError.code },
            Date.parse(source.lastError.at) / 1000,
          );
        }
      }
    },
  });
  new Gauge({
    name: 'driftgate_ready',
    help: '1 when a desired snapshot is served (the readiness probe passes), 0 before Git is first rendered.',
    registers: [registry],
    collect() {
      this.set(provider.current().origin === 'empty' ? 0 : 1);
    },
  });
  const certificateExpiry = new Gauge({
    name: 'driftgate_certificate_expiry_timestamp_seconds',
    help: 'When the serving certificate expires (Unix time), read when it is loaded or reloaded.',
    registers: [registry],
  });
  const certificateLoaded = (certPem: string) => {
    certificateExpiry.set(Date.parse(new X509Certificate(certPem).validTo) / 1000);
  };
  return { registry, decisions, notJudged, reviewSeconds, badRequests, errors, certificateLoaded };
}

const OVERRIDE_MODES: readonly OverrideMode[] = ['off', 'audit', 'warn'];

/** The kill switch as a gauge per mode, 1 for the one in force: an alert sees it left on. */
export function registerOverrideMetric(
  registry: Registry,
  override: () => OverrideMode | undefined,
): void {
  new Gauge({
    name: 'driftgate_override_mode',
    help: 'The kill switch (override ConfigMap): 1 for the mode it forces (off, audit, warn), 0 for the others.',
    labelNames: ['mode'] as const,
    registers: [registry],
    collect() {
      const current = override();
      for (const mode of OVERRIDE_MODES) this.set({ mode }, mode === current ? 1 : 0);
    },
  });
}
