// A scan as PolicyReports: the counts, the message of each result (Secret values redacted,
// long drift cut), and when a report already in the cluster needs no write.
import { describe, expect, it } from 'vitest';
import type { ScannedObject } from './judge.js';
import {
  MAX_RESULTS,
  policyReportsOf,
  reportUpdate,
  resultMessage,
  type PolicyReport,
} from './policy-report.js';
import { scanReportOf } from './scan.js';

function object(overrides: Partial<ScannedObject>): ScannedObject {
  return {
    group: '',
    kind: 'ConfigMap',
    namespace: 'shop',
    name: 'web-config',
    status: 'in-sync',
    source: 'shop',
    file: 'apps/shop/cm.yaml',
    commit: '3f9c2a1b4d5e6f708192a3b4c5d6e7f8091a2b3c',
    mode: 'enforce',
    drift: [],
    protection: 'git',
    apiVersion: 'v1',
    ...overrides,
  };
}

function reports(objects: ScannedObject[], now = new Date('2026-12-07T03:00:00.250Z')) {
  return policyReportsOf(scanReportOf(objects), now);
}

describe('policyReportsOf', () => {
  it('counts in-sync as pass, drifted and missing as fail, not-judged as skip, per namespace', () => {
    const made = reports([
      object({ name: 'a' }),
      object({ name: 'b', status: 'drifted', drift: [{ path: 'data.x', git: '1', live: '2' }] }),
      object({ name: 'c', status: 'missing' }),
      object({ name: 'd', status: 'not-judged', reason: 'forbidden' }),
      object({ kind: 'Namespace', namespace: '', name: 'shop' }),
    ]);
    expect([...made.keys()]).toEqual(['shop', '']);
    expect(made.get('shop')?.summary).toEqual({ pass: 1, fail: 2, warn: 0, error: 0, skip: 1 });
    expect(made.get('shop')?.results.map((r) => [r.rule, r.resources[0]?.name])).toEqual([
      ['git-drift', 'b'],
      ['git-missing', 'c'],
    ]);
    expect(made.get('')?.kind).toBe('ClusterPolicyReport');
    expect(made.get('')?.metadata).toEqual({
      name: 'driftgate',
      labels: { 'app.kubernetes.io/managed-by': 'driftgate' },
    });
    expect(made.get('')?.summary.pass).toBe(1);
    expect(made.get('shop')?.results[0]?.timestamp).toEqual({
      seconds: 1_796_612_400,
      nanos: 250_000_000,
    });
  });

  it('keeps a report of a namespace with thousands of drifted objects within bounds, counting them all', () => {
    const many = Array.from({ length: MAX_RESULTS + 20 }, (_, i) =>
      object({ name: `cm-${i}`, status: 'missing' }),
    );
    const report = reports(many).get('shop')!;
    expect(report.results).toHaveLength(MAX_RESULTS);
    expect(report.summary.fail).toBe(MAX_RESULTS + 20);
  });
});

describe('resultMessage', () => {
  it.each([
    {
      name: 'a Secret: its values redacted by the comparison stay redacted',
      object: object({
        kind: 'Secret',
        name: 'db-creds',
        status: 'drifted',
        drift: [{ path: 'data.password', git: '<redacted>', live: '<redacted>' }],
      }),
      expected:
        'Secret db-creds differs from Git: data.password: Git "<redacted>", cluster "<redacted>"',
    },
    {
      name: 'a field the cluster lacks, under break-glass',
      object: object({
        status: 'drifted',
        breakGlass: 'INC-42 hotfix',
        drift: [{ path: 'data.x', git: '1' }],
      }),
      expected:
        'ConfigMap web-config differs from Git (under break-glass: INC-42 hotfix): data.x: Git "1", cluster (absent)',
    },
    {
      name: 'many fields: ten named, the rest counted',
      object: object({
        status: 'drifted',
        drift: Array.from({ length: 12 }, (_, i) => ({ path: `data.k${i}`, git: 'a', live: 'b' })),
      }),
      expected: `ConfigMap web-config differs from Git: ${Array.from(
        { length: 10 },
        (_, i) => `data.k${i}: Git "a", cluster "b"`,
      ).join('; ')}; and 2 more`,
    },
  ])('$name', ({ object: scanned, expected }) => {
    expect(resultMessage(scanned)).toBe(expected);
  });

  it('cuts a message past 1024 characters', () => {
    const long = 'x'.repeat(300);
    const message = resultMessage(
      object({
        status: 'drifted',
        drift: Array.from({ length: 10 }, (_, i) => ({ path: `data.${long}${i}`, git: 'a' })),
      }),
    );
    expect(message).toHaveLength(1024);
    expect(message.endsWith('…')).toBe(true);
  });
});

describe('reportUpdate', () => {
  const drifted = object({ status: 'drifted', drift: [{ path: 'data.x', git: '1', live: '2' }] });
  const first = reports([drifted], new Date('2026-12-07T03:00:00Z')).get('shop')!;
  const stored: PolicyReport = {
    ...first,
    metadata: { ...first.metadata, resourceVersion: '1234' },
  };

  it('writes nothing when only the scan time differs', () => {
    const later = reports([drifted], new Date('2026-12-07T03:10:00Z')).get('shop')!;
    expect(reportUpdate(stored, later)).toBeUndefined();
  });

  it('replaces the report when a result changes, keeping when the unchanged ones were found', () => {
    const missing = object({ name: 'gone', status: 'missing' });
    const later = reports([drifted, missing], new Date('2026-12-07T03:10:00Z')).get('shop')!;
    const next = reportUpdate(stored, later);
    expect(next?.metadata.resourceVersion).toBe('1234');
    expect(next?.results.map((r) => r.timestamp.seconds)).toEqual([1_796_612_400, 1_796_613_000]);
  });

  it('replaces a report someone relabelled or gave a scope', () => {
    const relabelled = { ...stored, metadata: { ...stored.metadata, labels: {} } };
    expect(reportUpdate(relabelled, first)?.metadata.labels).toEqual({
      'app.kubernetes.io/managed-by': 'driftgate',
    });
    const scoped = { ...stored, scope: { kind: 'Namespace', name: 'shop' } } as PolicyReport;
    const replaced = reportUpdate(scoped, first);
    expect(replaced).toBeDefined();
    expect(replaced).not.toHaveProperty('scope');
  });

  it('creates a report that is not there', () => {
    expect(reportUpdate(undefined, first)).toBe(first);
  });
});
