// A scan as `wgpolicyk8s.io/v1alpha2` PolicyReports, the shape Kyverno writes and tools such as
// Policy Reporter read: one `PolicyReport` named driftgate per namespace, one
// `ClusterPolicyReport` for cluster-scoped objects, a `fail` result per drifted or missing object.
// Pure: the scan report and the time in, the report objects out.
import { isDeepStrictEqual } from 'node:util';
import type { ScannedObject } from './judge.js';
import { shortValue } from './report.js';
import type { ScanReport } from './scan.js';

export const POLICY_REPORT_GROUP_VERSION = 'wgpolicyk8s.io/v1alpha2';
export const POLICY_REPORT_NAME = 'driftgate';
export const POLICY_NAME = 'driftgate';
export const RULE_DRIFT = 'git-drift';
export const RULE_MISSING = 'git-missing';
// Kyverno labels its reports `app.kubernetes.io/managed-by: kyverno` and prunes those it owns;
// driftgate's own value keeps each tool to its own reports, and selects ours for the clean-up.
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'driftgate';
const CATEGORY = 'Git drift';
/** Fields named in one result's message; the rest are counted. */
const MAX_FIELDS = 10;
const MAX_MESSAGE = 1024;
/**
 * Results in one report, so that a namespace with thousands of drifted objects stays far below
 * the API server's object size limit (1.5 MiB in etcd); the summary still counts every object.
 */
export const MAX_RESULTS = 500;

/** corev1.ObjectReference, as `results[].resources` holds it. */
export interface ObjectReference {
  readonly apiVersion?: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
  readonly uid?: string;
}

/** metav1.Timestamp: both fields required by the CRD's schema. */
export interface Timestamp {
  readonly seconds: number;
  readonly nanos: number;
}

export interface PolicyReportResult {
  readonly source: string;
  readonly policy: string;
  readonly rule: string;
  readonly category: string;
  readonly result: 'pass' | 'fail' | 'warn' | 'error' | 'skip';
  readonly scored: boolean;
  readonly timestamp: Timestamp;
  readonly message: string;
  readonly resources: readonly ObjectReference[];
  /** additionalProperties: string. */
  readonly properties: Readonly<Record<string, string>>;
}

export interface PolicyReportSummary {
  readonly pass: number;
  readonly fail: number;
  readonly warn: number;
  readonly error: number;
  readonly skip: number;
}

export interface PolicyReport {
  readonly apiVersion: typeof POLICY_REPORT_GROUP_VERSION;
  readonly kind: 'PolicyReport' | 'ClusterPolicyReport';
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly resourceVersion?: string;
  };
  readonly summary: PolicyReportSummary;
  readonly results: readonly PolicyReportResult[];
}

/** A report as read from the cluster: any field may be absent (omitempty, or not ours). */
export interface StoredPolicyReport {
  readonly kind?: string;
  readonly metadata: {
    readonly name?: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly resourceVersion?: string;
  };
  readonly summary?: PolicyReportSummary;
  readonly results?: readonly PolicyReportResult[];
}

function timestamp(date: Date): Timestamp {
  const ms = date.getTime();
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

function reference(object: ScannedObject): ObjectReference {
  return {
    ...(object.apiVersion === undefined ? {} : { apiVersion: object.apiVersion }),
    kind: object.kind,
    ...(object.namespace === '' ? {} : { namespace: object.namespace }),
    name: object.name,
    ...(object.uid === undefined ? {} : { uid: object.uid }),
  };
}

/** What differs, field by field, as the scan's table says it (Secret values are `<redacted>`). */
export function resultMessage(object: ScannedObject): string {
  const what = `${object.kind} ${object.name}`;
  if (object.status === 'missing') {
    return `${what} is declared in Git (${object.file}) and missing from the cluster`;
  }
  const fields = object.drift
    .slice(0, MAX_FIELDS)
    .map(
      (field) => `${field.path}: Git ${shortValue(field.git)}, cluster ${shortValue(field.live)}`,
    );
  const more = object.drift.length - fields.length;
  const glass = object.breakGlass === undefined ? '' : ` (under break-glass: ${object.breakGlass})`;
  const message = `${what} differs from Git${glass}: ${fields.join('; ')}${more > 0 ? `; and ${more} more` : ''}`;
  return message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message;
}

function result(object: ScannedObject, found: Timestamp): PolicyReportResult {
  return {
    source: 'driftgate',
    policy: POLICY_NAME,
    rule: object.status === 'missing' ? RULE_MISSING : RULE_DRIFT,
    category: CATEGORY,
    result: 'fail',
    scored: true,
    timestamp: found,
    message: resultMessage(object),
    resources: [reference(object)],
    properties: {
      source: object.source,
      file: object.file,
      commit: object.commit,
      mode: object.mode,
      ...(object.breakGlass === undefined ? {} : { breakGlass: object.breakGlass }),
    },
  };
}

/**
 * The reports a scan calls for, by namespace ('' = the ClusterPolicyReport): every namespace
 * that holds an object Git declares gets one, even when all is in sync (its `pass` count).
 */
export function policyReportsOf(report: ScanReport, now: Date): Map<string, PolicyReport> {
  const byNamespace = new Map<string, ScannedObject[]>();
  for (const object of report.objects) {
    const objects = byNamespace.get(object.namespace);
    if (objects === undefined) byNamespace.set(object.namespace, [object]);
    else objects.push(object);
  }
  const found = timestamp(now);
  const reports = new Map<string, PolicyReport>();
  for (const [namespace, objects] of byNamespace) {
    const count = (...statuses: ScannedObject['status'][]) =>
      objects.filter((object) => statuses.includes(object.status)).length;
    reports.set(namespace, {
      apiVersion: POLICY_REPORT_GROUP_VERSION,
      kind: namespace === '' ? 'ClusterPolicyReport' : 'PolicyReport',
      metadata: {
        name: POLICY_REPORT_NAME,
        ...(namespace === '' ? {} : { namespace }),
        labels: { [MANAGED_BY_LABEL]: MANAGED_BY },
      },
      summary: {
        pass: count('in-sync'),
        fail: count('drifted', 'missing'),
        warn: 0,
        error: 0,
        skip: count('not-judged'),
      },
      results: objects
        .filter((object) => object.status === 'drifted' || object.status === 'missing')
        .slice(0, MAX_RESULTS)
        .map((object) => result(object, found)),
    });
  }
  return reports;
}

const identity = (result: PolicyReportResult) =>
  JSON.stringify([result.rule, result.resources, result.message]);

/**
 * The report to write in place of `existing`, or undefined when nothing changed. A result that
 * was already there keeps the timestamp of when it was first found, so an unchanged cluster
 * costs no write at all.
 */
export function reportUpdate(
  existing: StoredPolicyReport | undefined,
  desired: PolicyReport,
): PolicyReport | undefined {
  if (existing === undefined) return desired;
  const seen = new Map((existing.results ?? []).map((r) => [identity(r), r.timestamp]));
  const results = desired.results.map((r) => ({
    ...r,
    timestamp: seen.get(identity(r)) ?? r.timestamp,
  }));
  const next: PolicyReport = {
    ...desired,
    metadata: {
      ...desired.metadata,
      ...(existing.metadata.resourceVersion === undefined
        ? {}
        : { resourceVersion: existing.metadata.resourceVersion }),
    },
    results,
  };
  const unchanged =
    isDeepStrictEqual(existing.metadata.labels ?? {}, desired.metadata.labels) &&
    isDeepStrictEqual(existing.summary, next.summary) &&
    isDeepStrictEqual(existing.results ?? [], results) &&
    !('scope' in existing) &&
    !('scopeSelector' in existing);
  return unchanged ? undefined : next;
}
