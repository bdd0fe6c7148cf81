// `driftgate audit` as a reviewer runs it: on a real kube-apiserver audit log, on decision logs
// written by the real server, and on both together, paired request by request.
import { request as httpsRequest } from 'node:https';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createAuditCommand } from '../src/cli/audit.js';
import type { ScannedObject } from '../src/scan/judge.js';
import { scanJson } from '../src/scan/report.js';
import { scanReportOf } from '../src/scan/scan.js';
import { runCli } from '../src/cli/run.js';
import type { AdmissionRequest, AdmissionReview } from '../src/kube/admission.js';
import type { Driftgate } from '../src/main.js';
import type { JsonPatchOperation } from '../src/policy/mutate.js';
import { edited, fixturePath, review } from './support/fixtures.js';
import { startTestServer, type TestServer } from './support/server.js';

const AUDIT_LOG = fixturePath('audit/audit-driftgate-events.jsonl');
const ALICE = 'alice@example.com';
const ARGOCD = 'system:serviceaccount:argocd:argocd-application-controller';

const dir = mkdtempSync(join(tmpdir(), 'driftgate-audit-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `driftgate audit` in-process, with a fixed clock and optional standard input. */
async function audit(argv: string[], options: { now?: string; stdin?: string } = {}) {
  let stdout = '';
  let stderr = '';
  const command = createAuditCommand({
    now: () => new Date(options.now ?? '2026-11-22T04:00:00Z'),
    stdin: () => Readable.from([options.stdin ?? '']),
  });
  const code = await command(argv, {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    cwd: dir,
    env: {},
  });
  return { code, stdout, stderr };
}

async function auditJson(argv: string[], options: { now?: string; stdin?: string } = {}) {
  const result = await audit([...argv, '--output', 'json'], options);
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as {
    entries: Record<string, unknown>[];
    summary: Record<string, any>;
  };
}

/** The table rows, without header and summaries, each split into its columns. */
function rows(stdout: string): string[][] {
  const table = stdout.split('\n\n')[0] ?? '';
  return table
    .split('\n')
    .slice(1)
    .map((line) => line.split(/ {2,}/));
}

/** What `driftgate scan --output json` wrote, through the scan's own writer. */
function scanFile(): string {
  const scanned = (overrides: Partial<ScannedObject>): ScannedObject => ({
    group: '',
    kind: 'ConfigMap',
    namespace: 'shop',
    name: 'web-config',
    status: 'in-sync',
    source: 'shop',
    file: 'apps/shop/cm.yaml',
    commit: '3f9c2a1b4d5e6f708192a3b4c5d6e7f8091a2b3c',
    mode: 'enforce',
    protection: 'git',
    drift: [],
    ...overrides,
  });
  const objects = [
    scanned({}),
    scanned({
      group: 'apps',
      kind: 'Deployment',
      name: 'web',
      status: 'drifted',
      drift: [
        {
          path: 'spec.template.spec.containers[name=app].image',
          git: 'registry.example.com/shop/web:1.4.2',
          live: 'registry.example.com/shop/web:hotfix',
        },
      ],
    }),
    scanned({ name: 'gone', status: 'missing' }),
    scanned({
      namespace: 'pay',
      name: 'pay-settings',
      status: 'drifted',
      drift: [{ path: 'data.a', git: 'b', live: 'c' }],
    }),
    scanned({ name: 'unread', status: 'not-judged', reason: 'forbidden' }),
  ];
  writeFileSync(join(dir, 'scan.json'), scanJson(scanReportOf(objects)));
  writeFileSync(join(dir, 'not-a-scan.json'), '{"entries": []}');
  return 'scan.json';
}

describe('--scan: what is still drifted, from the latest scan', () => {
  it('replaces what the log suggests with what the scan found, drifted and missing', async () => {
    const { code, stdout } = await audit([AUDIT_LOG, '--scan', scanFile()]);
    expect(code).toBe(0);
    expect(stdout).toContain(
      'Still drifted from Git (scan scan.json):\n' +
        '  apps/Deployment shop/web: spec.template.spec.containers[name=app].image\n' +
        '  ConfigMap shop/gone: missing from the cluster\n' +
        '  ConfigMap pay/pay-settings: data.a\n',
    );
    // The log alone would name this one (a warned write, no sync since); the scan knows better.
    expect(stdout).not.toContain('shop-warn/web-config: data[FEATURE_X]');
    expect(stdout).not.toContain('no sync since');
  });

  it('keeps to --namespace and --kind, and says "none" when nothing is left', async () => {
    const shop = await audit([
      AUDIT_LOG,
      '--scan',
      scanFile(),
      '--namespace',
      'shop',
      '--kind',
      'configmaps',
    ]);
    expect(shop.stdout).toContain(
      'Still drifted from Git (scan scan.json):\n  ConfigMap shop/gone: missing from the cluster\n\n',
    );
    const none = await audit([AUDIT_LOG, '--scan', scanFile(), '--namespace', 'kube-system']);
    expect(none.stdout).toContain('Still drifted from Git (scan scan.json):\n  none\n');
  });

  it('--output json: the scan’s objects, and which scan', async () => {
    const { summary } = await auditJson([AUDIT_LOG, '--scan', scanFile(), '--namespace', 'shop']);
    expect(summary.stillDriftedFrom).toBe('scan.json');
    expect(summary.stillDrifted).toEqual([
      {
        object: 'apps/Deployment shop/web',
        drift: ['spec.template.spec.containers[name=app].image'],
        status: 'drifted',
      },
      { object: 'ConfigMap shop/gone', drift: [], status: 'missing' },
    ]);
  });

  it('--output html: the same section, from the scan', async () => {
    const { stdout } = await audit([AUDIT_LOG, '--scan', scanFile(), '--output', 'html']);
    expect(stdout).toContain('<h2>Still drifted from Git (scan scan.json)</h2>');
    expect(stdout).toContain('<tr><td>ConfigMap shop/gone</td><td></td><td>missing</td></tr>');
    expect(stdout).toContain(
      '<tr><td>ConfigMap pay/pay-settings</td><td>data.a</td><td>drifted</td></tr>',
    );
    expect(stdout).not.toContain('no sync since');
  });
});

describe('a real kube-apiserver audit log', () => {
  it('shows one row per judged write, with the impersonated user, and the summaries', async () => {
    const { code, stdout } = await audit([AUDIT_LOG]);
    expect(code).toBe(0);
    const table = rows(stdout);
    expect(table).toHaveLength(21);
    expect(stdout.split('\n')[0]).toMatch(/^TIME +USER +OP +OBJECT +DECISION +STORED +DETAIL$/);
    expect(table).toContainEqual([
      '2026-11-22T03:17:05Z',
      ALICE,
      'UPDATE',
      'apps/Deployment shop/web/scale',
      'denied',
      'no',
      'drift: spec.replicas',
    ]);
    expect(table).toContainEqual([
      '2026-11-22T03:17:08Z',
      ALICE,
      'UPDATE',
      'apps/Deployment shop/web',
      'denied',
      'dry-run',
      'drift: spec.template.spec.containers[name=app].image',
    ]);
    expect(table).toContainEqual([
      '2026-11-22T03:17:23Z',
      'bob@example.com',
      'UPDATE',
      'apps/Deployment shop/web',
      'break-glass',
      'yes',
      'reason: INC-4711 roll back bad release; drift: spec.template.spec.containers[name=app].image',
    ]);
    // admin authenticated every request; nobody reviewing wants to read "admin" 21 times.
    expect(table.map((r) => r[1])).not.toContain('admin');

    const summary = stdout.slice(stdout.indexOf('\n\n'));
    expect(summary).toContain('Denials by user:\n  3  alice@example.com\n');
    expect(summary).toContain(
      'Denials by object:\n  2  apps/Deployment shop/web\n  1  ConfigMap shop/web-config\n',
    );
    expect(summary).toContain('Dry-run denials (nothing was written): 1\n');
    expect(summary).toContain(
      '  apps/Deployment shop/web: "INC-4711 roll back bad release" by bob@example.com, 2026-11-22T03:17:20Z to 2026-11-22T03:17:23Z, 2 writes\n' +
        '    back in line with Git: synced at 2026-11-22T03:17:46Z\n',
    );
    expect(summary).toContain(
      '  ConfigMap shop-warn/web-config: "INC-4711 revert FEATURE_X experiment" by bob@example.com, 2026-11-22T03:17:35Z, 1 write\n' +
        '    not restored from Git since\n',
    );
    expect(summary).toContain(
      'Still drifted from Git (no sync since):\n  ConfigMap shop-warn/web-config: data[FEATURE_X] (warned, alice@example.com, 2026-11-22T03:17:15Z)\n',
    );
    expect(summary).toContain(
      '0 lines skipped: not JSON; 0 lines skipped: not a decision or audit event\n',
    );
    expect(summary).toContain('139 audit events without a driftgate decision');
  });

  it('--output json: one entry per write, denials carry the message without the API server prefix', async () => {
    const { entries, summary } = await auditJson([AUDIT_LOG]);
    expect(entries).toHaveLength(21);
    const deleted = entries.find((e) => e.operation === 'DELETE');
    expect(deleted).toMatchObject({
      time: '2026-11-22T03:17:56.389Z',
      user: ALICE,
      groups: ['shop-devs', 'system:authenticated'],
      group: '',
      resource: 'configmaps',
      namespace: 'shop',
      name: 'web-config',
      dryRun: false,
      decision: 'denied',
      drift: ['(object)'],
      source: 'ops',
      revision: 'abc1234f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b',
      origin: 'audit-log',
      committed: false,
    });
    expect(deleted?.message).toMatch(/^driftgate: DELETE ConfigMap shop\/web-config by alice/);
    expect(summary.dryRunDenials).toBe(1);
    expect(summary.skipped).toEqual({
      notJson: 0,
      notDecisionOrAuditEvent: 0,
      auditEventsWithoutDecision: 139,
    });
  });

  it.each([
    { name: '--user', argv: ['--user', ALICE], count: 7 },
    { name: '--user, nobody', argv: ['--user', 'mallory@example.com'], count: 0 },
    { name: '--decision', argv: ['--decision', 'denied'], count: 4 },
    { name: '--decision, two', argv: ['--decision', 'denied,warned'], count: 6 },
    { name: '--decision, not-judged: none here', argv: ['--decision', 'not-judged'], count: 0 },
    { name: '--break-glass', argv: ['--break-glass'], count: 3 },
    { name: '--namespace', argv: ['--namespace', 'shop-warn'], count: 6 },
    { name: '--kind, by kind name', argv: ['--kind', 'Deployment'], count: 9 },
    { name: '--kind, by resource', argv: ['--kind', 'configmaps'], count: 11 },
    { name: '--since, RFC 3339', argv: ['--since', '2026-11-22T03:17:30Z'], count: 5 },
    { name: '--until, RFC 3339', argv: ['--until', '2026-11-22T03:16:49Z'], count: 7 },
    {
      name: '--since, a duration back from now',
      argv: ['--since', '40m'],
      now: '2026-11-22T03:57:30Z',
      count: 5,
    },
  ])('$name', async ({ argv, count, now }) => {
    const { entries } = await auditJson([AUDIT_LOG, ...argv], now === undefined ? {} : { now });
    expect(entries).toHaveLength(count);
  });

  it('--break-glass with --user: the sessions of one person', async () => {
    const { stdout } = await audit([AUDIT_LOG, '--break-glass', '--user', 'bob@example.com']);
    expect(rows(stdout).map((r) => r[4])).toEqual(['break-glass', 'break-glass', 'break-glass']);
    expect(stdout).toContain('No denials.');
    // The sync by Argo CD is filtered out of the table, yet it still restored Git.
    expect(stdout).toContain('back in line with Git: synced at 2026-11-22T03:17:46Z');
  });

  it('--output html: one page, values escaped, nothing loaded from the network', async () => {
    const { code, stdout } = await audit([AUDIT_LOG, '--output', 'html']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^<!doctype html>/);
    expect(stdout).not.toMatch(/<script|https?:\/\//);
    expect(stdout).toContain('<h3>shop</h3>');
    expect(stdout).toContain('<td>INC-4711 roll back bad release</td>');
    expect(stdout).toContain('<td class="long">spec.template.spec.containers[name=app].image</td>');
    expect(stdout).toContain('<td>alice@example.com</td><td class="n">3</td>');
  });

  it('--output html escapes every value', async () => {
    // The real break-glass event, with a reason someone typed to break the page.
    const hostile = '<img src=x onerror="alert(1)"> & co';
    const lines = readFileSync(AUDIT_LOG, 'utf8')
      .split('\n')
      .filter((line) => line.includes('break-glass-reason'))
      .map((line) => {
        const event = JSON.parse(line);
        event.annotations['validate.driftgate.io/break-glass-reason'] = hostile;
        return JSON.stringify(event);
      });
    writeFileSync(join(dir, 'hostile.log'), lines.join('\n'));
    const { stdout } = await audit(['hostile.log', '--output', 'html']);
    expect(stdout).not.toContain('<img');
    expect(stdout).toContain('&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; co');
  });

  it.each([
    { argv: ['--output', 'yaml'], message: "--output must be table, json or html, not 'yaml'" },
    { argv: ['--since', 'yesterday'], message: '--since must be a duration such as 24h' },
    { argv: ['--decision', 'rejected'], message: "--decision: unknown decision 'rejected'" },
    { argv: ['--colour'], message: "Unknown option '--colour'" },
    { argv: ['missing.log'], message: 'missing.log: cannot read it (ENOENT)' },
    { argv: ['.'], message: '.: is a directory, not a log file' },
    { argv: ['--scan', 'none.json'], message: '--scan none.json: cannot read it (ENOENT)' },
    {
      argv: ['--scan', 'not-a-scan.json'],
      message: '--scan not-a-scan.json: not a scan: no "objects" list',
    },
  ])('bad input $argv → exit 2', async ({ argv, message }) => {
    let stderr = '';
    const code = await runCli(['audit', ...argv], {
      stdout: () => undefined,
      stderr: (text) => (stderr += text),
      cwd: dir,
      env: {},
      version: '0.0.0-test',
    });
    expect(code).toBe(2);
    expect(stderr).toContain(`driftgate audit: ${message}`);
  });
});

// The real server decides captured reviews; its clock is set to when the API server received
// the same requests in the audit log, so that the two logs describe one incident.
let server: TestServer;
let driftgate: Driftgate;

async function post(webhook: 'validate' | 'mutate', request: AdmissionRequest, at: string) {
  vi.setSystemTime(new Date(at));
  const body = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request,
  });
  const reply = await new Promise<string>((resolve, reject) => {
    const req = httpsRequest(
      `${driftgate.url}/${webhook}`,
      { method: 'POST', ca: driftgate.caCert, headers: { 'content-type': 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          resolve(Buffer.concat(chunks).toString('utf8'));
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
  return (JSON.parse(reply) as AdmissionReview).response!;
}

/** The decision log as the server wrote it, each line as pino wrote it. */
function decisionLog(): string {
  return server
    .logLines()
    .map((line) => JSON.stringify(line))
    .join('\n');
}

beforeAll(async () => {
  server = await startTestServer();
  driftgate = server.driftgate;

  vi.useFakeTimers({ toFake: ['Date'] });
  try {
    await post(
      'validate',
      review('10-apply-create-deployment-by-argocd'),
      '2026-11-22T03:16:48.950Z',
    );
    await post('validate', review('20-set-image-deployment-by-alice'), '2026-11-22T03:17:02.560Z');
    await post('validate', review('27-scale-deployment-by-alice'), '2026-11-22T03:17:05.680Z');
    await post(
      'validate',
      review('31-apply-dryrun-server-deployment-by-alice'),
      '2026-11-22T03:17:08.840Z',
    );
    // Bob opens break-glass: the mutating webhook stamps it, his next write carries the stamps.
    const open = await post(
      'mutate',
      review('40-annotate-break-glass-deployment-by-bob', 'mutating'),
      '2026-11-22T03:17:20.450Z',
    );
    const patch = JSON.parse(
      Buffer.from(open.patch!, 'base64').toString('utf8'),
    ) as JsonPatchOperation[];
    const stamps = Object.fromEntries(
      patch.flatMap((op) =>
        op.op === 'add' ? [[op.path.split('/').pop()!.replace('~1', '/'), op.value]] : [],
      ),
    );
    const underBreakGlass = edited(review('20-set-image-deployment-by-alice').object!, (o) =>
      Object.assign(o.metadata.annotations, {
        'driftgate.io/break-glass': 'INC-4711 roll back bad release',
        ...stamps,
      }),
    );
    const old = edited(review('20-set-image-deployment-by-alice').oldObject!, (o) =>
      Object.assign(o.metadata.annotations, {
        'driftgate.io/break-glass': 'INC-4711 roll back bad release',
        ...stamps,
      }),
    );
    await post(
      'validate',
      {
        ...review('20-set-image-deployment-by-alice'),
        userInfo: { username: 'bob@example.com', groups: ['oncall', 'system:authenticated'] },
        object: underBreakGlass,
        oldObject: old,
      },
      '2026-11-22T03:17:23.600Z',
    );
    // Argo CD self-heals: Git is back.
    await post(
      'validate',
      review('11-apply-unchanged-deployment-by-argocd'),
      '2026-11-22T03:17:46.170Z',
    );
    await post('validate', review('61-delete-configmap-by-alice'), '2026-11-22T03:17:56.420Z');
  } finally {
    vi.useRealTimers();
  }
  // A log cut short mid-line, as after a crash or a full disk.
  const text = decisionLog();
  writeFileSync(join(dir, 'driftgate.log'), `${text}\n${text.slice(0, 40)}\n`);
});

afterAll(async () => {
  await server.stop();
});

describe('a decision log written by the server', () => {
  it('from standard input: the decisions, and the lines that are not decisions counted', async () => {
    const { code, stdout } = await audit([], {
      stdin: readFileSync(join(dir, 'driftgate.log'), 'utf8'),
    });
    expect(code).toBe(0);
    const table = rows(stdout);
    expect(table.map((r) => [r[0], r[1], r[2], r[3], r[4], r[5]])).toEqual([
      ['2026-11-22T03:16:48Z', ARGOCD, 'CREATE', 'apps/Deployment shop/web', 'sync', '?'],
      ['2026-11-22T03:17:02Z', ALICE, 'UPDATE', 'apps/Deployment shop/web', 'denied', '?'],
      ['2026-11-22T03:17:05Z', ALICE, 'UPDATE', 'apps/Deployment shop/web/scale', 'denied', '?'],
      ['2026-11-22T03:17:08Z', ALICE, 'UPDATE', 'apps/Deployment shop/web', 'denied', 'dry-run'],
      [
        '2026-11-22T03:17:23Z',
        'bob@example.com',
        'UPDATE',
        'apps/Deployment shop/web',
        'break-glass',
        '?',
      ],
      ['2026-11-22T03:17:46Z', ARGOCD, 'UPDATE', 'apps/Deployment shop/web', 'sync', '?'],
      ['2026-11-22T03:17:56Z', ALICE, 'DELETE', 'ConfigMap shop/web-config', 'denied', '?'],
    ]);
    expect(stdout).toContain('Denials by user:\n  3  alice@example.com\n');
    expect(stdout).toContain('Dry-run denials (nothing was written): 1\n');
    expect(stdout).toContain(
      '  apps/Deployment shop/web: "INC-4711 roll back bad release" by bob@example.com, 2026-11-22T03:17:23Z, 1 write\n' +
        '    back in line with Git: synced at 2026-11-22T03:17:46Z\n',
    );
    expect(stdout).not.toContain('Still drifted');
    const other = server.logLines().filter((line) => line.msg !== 'decision').length;
    expect(other).toBeGreaterThan(0);
    expect(stdout).toContain(
      `1 line skipped: not JSON; ${other} lines skipped: not a decision or audit event\n`,
    );
  });
});

describe('a decision log and the API server audit log together', () => {
  it('pairs each decision with its audit event and shows whether the write was stored', async () => {
    const { code, stdout } = await audit(['driftgate.log', AUDIT_LOG]);
    expect(code).toBe(0);
    const table = rows(stdout);
    // Seven decisions paired with seven of the 21 audit events: 21 rows, not 28.
    expect(table).toHaveLength(21);
    expect(table).toContainEqual([
      '2026-11-22T03:17:02Z',
      ALICE,
      'UPDATE',
      'apps/Deployment shop/web',
      'denied',
      'no',
      'drift: spec.template.spec.containers[name=app].image',
    ]);
    expect(table.filter((r) => r[3] === 'apps/Deployment shop/web/scale')).toHaveLength(1);
    expect(stdout).toContain('Denials by user:\n  3  alice@example.com\n');
    expect(stdout).toContain('Dry-run denials (nothing was written): 1\n');
  });

  it('--output json: the paired entry names the audit event it was found in', async () => {
    const { entries } = await auditJson(['driftgate.log', AUDIT_LOG, '--decision', 'denied']);
    expect(entries).toHaveLength(4);
    expect(entries.every((e) => e.origin === 'decision-log')).toBe(true);
    expect(entries.map((e) => String(e.matchedId).slice(0, 8))).toEqual([
      '5f0f88f2',
      'f6d90f45',
      '9c4a383a',
      'd17233f9',
    ]);
    expect(entries.map((e) => e.committed)).toEqual([false, false, false, false]);
    const breakGlass = await auditJson([
      'driftgate.log',
      AUDIT_LOG,
      '--break-glass',
      '--user',
      'bob@example.com',
    ]);
    expect(breakGlass.entries.find((e) => e.origin === 'decision-log')).toMatchObject({
      matchedId: expect.stringMatching(/^c01b94a3/),
      committed: true,
      kind: 'Deployment',
      resource: 'deployments',
    });
  });
});
