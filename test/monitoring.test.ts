// deploy/components/monitoring, rendered by kustomize as a cluster admin applies it: every PromQL
// expression parses with Prometheus' own grammar and names only metrics (and labels) that a real
// driftgate serves on /metrics.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { parser } from '@prometheus-io/lezer-promql';
import { loadAll } from 'js-yaml';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics, registerOverrideMetric } from '../src/admission/metrics.js';
import { startServer } from '../src/admission/server.js';
import { selfSignedForDevelopment } from '../src/certs/generate.js';
import { tempDir } from './desired/git-fixture.js';
import { review } from './support/fixtures.js';
import { getText, postReview, startTestServer, type TestServer } from './support/server.js';

const run = promisify(execFile);
type Manifest = Record<string, any>;

/** Labels Prometheus adds to every series it scrapes through a ServiceMonitor. */
const TARGET_LABELS = new Set([
  'job',
  'instance',
  'namespace',
  'pod',
  'service',
  'endpoint',
  'container',
]);
/** Series Prometheus makes itself for every target. */
const SYNTHETIC = new Set(['up']);

async function renderWithMonitoring(): Promise<Manifest[]> {
  const overlay = mkdtempSync(join(tmpdir(), 'driftgate-overlay-'));
  try {
    const deploy = relative(overlay, join(import.meta.dirname, '..', 'deploy'));
    writeFileSync(
      join(overlay, 'kustomization.yaml'),
      `resources: [${deploy}/overlays/cert-manager]\ncomponents: [${deploy}/components/monitoring]\n`,
    );
    let stdout: string;
    try {
      ({ stdout } = await run('kubectl', ['kustomize', overlay], { timeout: 30_000 }));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      ({ stdout } = await run('kustomize', ['build', overlay], { timeout: 30_000 }));
    }
    return loadAll(stdout).filter((d): d is Manifest => typeof d === 'object' && d !== null);
  } finally {
    rmSync(overlay, { recursive: true, force: true });
  }
}

interface Parsed {
  readonly errors: string[];
  /** Each vector selector: its metric name and the label names it matches on. */
  readonly selectors: { metric: string; labels: string[] }[];
}

/** Parses PromQL with the grammar of Prometheus' own UI (lezer-promql). */
function parsePromQL(expr: string): Parsed {
  const errors: string[] = [];
  const selectors: { metric: string; labels: string[] }[] = [];
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError)
        errors.push(`syntax error at ${node.from}: ${expr.slice(node.from, node.from + 20)}`);
      if (node.name === 'VectorSelector') {
        const identifier = node.node.getChild('Identifier');
        const labels: string[] = [];
        const matchers = node.node.getChild('LabelMatchers');
        matchers?.cursor().iterate((child) => {
          if (child.name === 'LabelName') labels.push(expr.slice(child.from, child.to));
        });
        if (identifier !== null)
          selectors.push({ metric: expr.slice(identifier.from, identifier.to), labels });
      }
    },
  });
  return { errors, selectors };
}

/** Metric names a Prometheus text exposition declares, with the labels its samples carry. */
function exposition(text: string): Map<string, Set<string>> {
  const metrics = new Map<string, Set<string>>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const names =
      type === 'histogram'
        ? [`${name}_bucket`, `${name}_sum`, `${name}_count`]
        : type === 'summary'
          ? [name, `${name}_sum`, `${name}_count`]
          : [name];
    for (const n of names) metrics.set(n ?? '', new Set());
  }
  for (const [, name, labels] of text.matchAll(/^([a-zA-Z_:][\w:]*)\{([^}]*)\}/gm)) {
    for (const [, label] of (labels ?? '').matchAll(/(\w+)="/g))
      metrics.get(name ?? '')?.add(label ?? '');
  }
  return metrics;
}

let objects: Manifest[];
let served: Map<string, Set<string>>;
let server: TestServer;

beforeAll(async () => {
  objects = await renderWithMonitoring();
  server = await startTestServer();
  // One denial, so the counters and the histogram have samples with their labels.
  await postReview(server.driftgate, 'validate', review('20-set-image-deployment-by-alice'));
  // And one body that is not a review, refused before a decision.
  await new Promise<void>((resolve, reject) => {
    const req = request(
      `${server.driftgate.url}/validate`,
      {
        method: 'POST',
        ca: server.driftgate.caCert,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          resolve();
        });
      },
    );
    req.on('error', reject);
    req.end('not json');
  });
  const metrics = await getText(server.driftgate, '/metrics');
  expect(metrics.status).toBe(200);
  served = exposition(metrics.body);
}, 120_000);

afterAll(async () => {
  await server.stop();
});

function only(kind: string): Manifest {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name.startsWith('driftgate'));
  expect(found, kind).toHaveLength(1);
  return found[0]!;
}

function alertExpressions(): { name: string; expr: string }[] {
  const rule = only('PrometheusRule');
  return (rule.spec.groups as Manifest[]).flatMap((g) =>
    (g.rules as Manifest[]).map((r) => ({ name: r.alert as string, expr: String(r.expr) })),
  );
}

function dashboard(): Manifest {
  const configMap = objects.find(
    (o) => o.kind === 'ConfigMap' && o.metadata.name === 'driftgate-dashboard',
  );
  expect(configMap?.metadata.labels).toMatchObject({ grafana_dashboard: '1' });
  return JSON.parse(configMap?.data['driftgate.json'] as string) as Manifest;
}

function dashboardExpressions(): { name: string; expr: string }[] {
  return (dashboard().panels as Manifest[]).flatMap((p) =>
    (p.targets as Manifest[]).map((t) => ({
      name: `${p.title as string} ${t.refId as string}`,
      expr: t.expr as string,
    })),
  );
}

describe('deploy/components/monitoring', () => {
  it('scrapes the Service’s HTTPS port, checking the certificate for the Service’s name', () => {
    const monitor = only('ServiceMonitor');
    const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'driftgate')!;
    expect(monitor.metadata.namespace).toBe(service.metadata.namespace);
    expect(service.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    const [endpoint] = monitor.spec.endpoints as Manifest[];
    expect((service.spec.ports as Manifest[]).map((p) => p.name)).toContain(endpoint!.port);
    expect(endpoint).toMatchObject({ path: '/metrics', scheme: 'https' });
    const certificate = objects.find(
      (o) => o.kind === 'Certificate' && o.metadata.name === 'driftgate-tls',
    )!;
    expect(certificate.spec.dnsNames).toContain(endpoint!.tlsConfig.serverName);
    expect(endpoint!.tlsConfig.ca.secret.name).toBe(certificate.spec.secretName);
    // job="driftgate" in the expressions is the Service's app.kubernetes.io/name.
    expect(service.metadata.labels[monitor.spec.jobLabel]).toBe('driftgate');
  });

  it('alerts on each thing that needs a person, each with a severity and a summary', () => {
    const rule = only('PrometheusRule');
    const rules = (rule.spec.groups as Manifest[]).flatMap((g) => g.rules as Manifest[]);
    expect(rules.map((r) => r.alert)).toEqual([
      'DriftgateDown',
      'DriftgateNotReady',
      'DriftgateSlowReviews',
      'DriftgateErrors',
      'DriftgateDenialBurst',
      'DriftgateSourceStale',
      'DriftgateSourceNotUpdated',
      'DriftgateCertificateExpiring',
      'DriftgateKillSwitchOn',
    ]);
    for (const r of rules) {
      expect(['critical', 'warning', 'info'], r.alert).toContain(r.labels.severity);
      expect(r.annotations.summary, r.alert).toMatch(/\S/);
    }
  });

  it('every expression parses as PromQL', () => {
    const all = [...alertExpressions(), ...dashboardExpressions()];
    expect(all.length).toBeGreaterThan(15);
    for (const { name, expr } of all)
      expect(parsePromQL(expr).errors, `${name}: ${expr}`).toEqual([]);
  });

  it('the parser check catches a broken expression', () => {
    expect(parsePromQL('sum(rate(driftgate_errors_total[5m])').errors).not.toEqual([]);
    expect(parsePromQL('driftgate_ready == ').errors).not.toEqual([]);
  });

  it('every metric and label an expression names is served by driftgate', () => {
    const all = [...alertExpressions(), ...dashboardExpressions()];
    const named = new Set<string>();
    for (const { name, expr } of all) {
      for (const { metric, labels } of parsePromQL(expr).selectors) {
        named.add(metric);
        if (SYNTHETIC.has(metric)) continue;
        expect(served.has(metric), `${name}: ${metric} is not on /metrics`).toBe(true);
        const known = served.get(metric) ?? new Set();
        for (const label of labels) {
          if (TARGET_LABELS.has(label)) continue;
          expect(known.has(label), `${name}: ${metric} has no label ${label}`).toBe(true);
        }
      }
    }
    // The ones the alerts are about.
    for (const metric of [
      'driftgate_ready',
      'driftgate_review_duration_seconds_bucket',
      'driftgate_errors_total',
      'driftgate_decisions_total',
      'driftgate_source_stale',
      'driftgate_certificate_expiry_timestamp_seconds',
      'driftgate_override_mode',
    ]) {
      expect(named).toContain(metric);
    }
  });
});

describe('driftgate_certificate_expiry_timestamp_seconds', () => {
  it('is the expiry of the certificate the server presents', async () => {
    const url = new URL(server.driftgate.url);
    const presented = await new Promise<string>((resolve, reject) => {
      const socket = connect(
        { host: url.hostname, port: Number(url.port), rejectUnauthorized: false },
        () => {
          resolve(socket.getPeerCertificate().valid_to);
          socket.end();
        },
      );
      socket.on('error', reject);
    });
    const metrics = (await getText(server.driftgate, '/metrics')).body;
    const value = /^driftgate_certificate_expiry_timestamp_seconds (\S+)$/m.exec(metrics)?.[1];
    expect(Number(value)).toBe(Date.parse(presented) / 1000);
  });

  it('follows a reload of the certificate files', async () => {
    const dir = tempDir('driftgate-cert-reload-');
    const registry = createMetrics({
      current: () => ({ origin: 'empty', size: 0 }) as never,
      status: () => [],
    });
    // The second is made a day later, so it expires a day later.
    const first = selfSignedForDevelopment();
    const second = selfSignedForDevelopment(undefined, new Date(Date.now() + 86_400_000));
    const certFile = join(dir.path, 'tls.crt');
    const keyFile = join(dir.path, 'tls.key');
    writeFileSync(certFile, first.cert);
    writeFileSync(keyFile, first.key);
    const running = await startServer(() => undefined, {
      port: 0,
      host: '127.0.0.1',
      tls: { kind: 'files', certFile, keyFile },
      logger: pino({ level: 'silent' }),
      onCertificate: registry.certificateLoaded,
    });
    const expiry = async () =>
      Number(
        /^driftgate_certificate_expiry_timestamp_seconds (\S+)$/m.exec(
          await registry.registry.metrics(),
        )?.[1],
      );
    try {
      expect(await expiry()).toBe(Date.parse(new X509Certificate(first.cert).validTo) / 1000);
      writeFileSync(certFile, second.cert);
      writeFileSync(keyFile, second.key);
      expect(await running.reloadTls()).toBe(true);
      expect(await expiry()).toBe(Date.parse(new X509Certificate(second.cert).validTo) / 1000);
    } finally {
      await running.close();
      dir.cleanup();
    }
  });
});

describe('driftgate_override_mode', () => {
  it('is 1 for the mode the kill switch forces, 0 for the others, all 0 when it is off', async () => {
    const registry = new Registry();
    let mode: 'off' | 'audit' | 'warn' | undefined = 'off';
    registerOverrideMetric(registry, () => mode);
    const values = async () =>
      Object.fromEntries(
        [
          ...(await registry.metrics()).matchAll(
            /^driftgate_override_mode\{mode="(\w+)"\} (\d)$/gm,
          ),
        ].map((m) => [m[1], Number(m[2])]),
      );
    expect(await values()).toEqual({ off: 1, audit: 0, warn: 0 });
    mode = undefined;
    expect(await values()).toEqual({ off: 0, audit: 0, warn: 0 });
  });
});
