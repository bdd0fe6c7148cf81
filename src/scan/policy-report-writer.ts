// Writes a scan's PolicyReports to the cluster: each report replaced whole, and only when its
// content changed (POST when missing, PUT with the resourceVersion read, DELETE of a namespace's
// report once nothing in it is declared any more). One LIST per kind finds what is there.
import type { ClusterConnection } from '../cluster/connection.js';
import { ApiGetError, sendJson } from '../cluster/get-json.js';
import {
  MANAGED_BY,
  MANAGED_BY_LABEL,
  POLICY_REPORT_GROUP_VERSION,
  POLICY_REPORT_NAME,
  reportUpdate,
  type PolicyReport,
  type StoredPolicyReport,
} from './policy-report.js';
import { rateLimiter, type ClusterReader } from './reader.js';

export type ReportWriteOutcome =
  'created' | 'updated' | 'deleted' | 'unchanged' | 'conflict' | 'forbidden' | 'failed';

export interface ReportWrites {
  /** Outcome by namespace ('' = the ClusterPolicyReport). */
  readonly outcomes: ReadonlyMap<string, ReportWriteOutcome>;
  /** What went wrong, one line per report that could not be written. */
  readonly problems: readonly string[];
}

const BASE = `/apis/${POLICY_REPORT_GROUP_VERSION}`;

function itemPath(namespace: string): string {
  return namespace === ''
    ? `${BASE}/clusterpolicyreports/${POLICY_REPORT_NAME}`
    : `${BASE}/namespaces/${encodeURIComponent(namespace)}/policyreports/${POLICY_REPORT_NAME}`;
}

function collection(namespace: string): string {
  return namespace === ''
    ? `${BASE}/clusterpolicyreports`
    : `${BASE}/namespaces/${encodeURIComponent(namespace)}/policyreports`;
}

/** driftgate's reports in the cluster now, by namespace ('' = the ClusterPolicyReport). */
async function existingReports(reader: ClusterReader): Promise<Map<string, StoredPolicyReport>> {
  const found = new Map<string, StoredPolicyReport>();
  const query = { labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}` };
  for (const path of [`${BASE}/policyreports`, `${BASE}/clusterpolicyreports`]) {
    let items: StoredPolicyReport[] = [];
    for await (const page of reader.list(path, query)) {
      if (page.restarted === true) items = [];
      items.push(...(page.items as unknown as StoredPolicyReport[]));
    }
    for (const item of items) {
      if (item.metadata.name === POLICY_REPORT_NAME) found.set(item.metadata.namespace ?? '', item);
    }
  }
  return found;
}

export async function writePolicyReports(
  connection: ClusterConnection,
  reader: ClusterReader,
  desired: ReadonlyMap<string, PolicyReport>,
  options: { readonly qps: number },
): Promise<ReportWrites> {
  const pace = rateLimiter(options.qps);
  const outcomes = new Map<string, ReportWriteOutcome>();
  const problems: string[] = [];
  // A list that fails (403 without the scan component's grant, or the cluster unreachable)
  // throws: nothing is written without knowing what is there.
  const existing = await existingReports(reader);

  async function write(
    namespace: string,
    method: 'POST' | 'PUT' | 'DELETE',
    path: string,
    body: unknown,
    done: ReportWriteOutcome,
  ): Promise<void> {
    await pace();
    try {
      await sendJson(connection, method, path, body);
      outcomes.set(namespace, done);
    } catch (error) {
      const status = error instanceof ApiGetError ? error.statusCode : undefined;
      const message = error instanceof Error ? error.message : String(error);
      // A namespace deleted since the scan read it: no report to write there (404 on POST).
      if (status === 404 && method !== 'PUT') {
        outcomes.set(namespace, 'unchanged');
        return;
      }
      // 409: another writer (a replica that still thought it led) moved first; the next scan
      // reads again and writes its own.
      outcomes.set(
        namespace,
        status === 409 ? 'conflict' : status === 403 ? 'forbidden' : 'failed',
      );
      problems.push(message);
    }
  }

  for (const [namespace, report] of desired) {
    const current = existing.get(namespace);
    const next = reportUpdate(current, report);
    if (next === undefined) outcomes.set(namespace, 'unchanged');
    else if (current === undefined) {
      await write(namespace, 'POST', collection(namespace), next, 'created');
    } else await write(namespace, 'PUT', itemPath(namespace), next, 'updated');
  }
  for (const [namespace, report] of existing) {
    if (desired.has(namespace)) continue;
    await write(
      namespace,
      'DELETE',
      itemPath(namespace),
      {
        kind: 'DeleteOptions',
        apiVersion: 'v1',
        preconditions: { resourceVersion: report.metadata.resourceVersion },
      },
      'deleted',
    );
  }
  return { outcomes, problems };
}
