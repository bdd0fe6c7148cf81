// `driftgate audit`: review driftgate's decision log and the API server's audit log — who was
// denied, what was allowed under break-glass, what is still drifted. Exit 0, or 2 on bad input.
import { createReadStream } from 'node:fs';
import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { DEFAULT_WEBHOOK_NAME, type AuditEntry } from '../audit/review/entry.js';
import { resourceOf } from '../kube/resource-name.js';
import { formatSummary, skippedLine, tableHeader, tableRow } from '../audit/review/format.js';
import { renderHtml, TimelineCollector } from '../audit/review/html.js';
import { KindNames } from '../audit/review/kinds.js';
import { boundYoungGeneration } from '../audit/review/memory.js';
import { emptyCounts, entriesOf, matchRequests, mergeByTime } from '../audit/review/read.js';
import { ScanResultsError, stillDriftedOfScan } from '../audit/review/scan-results.js';
import { SummaryBuilder, withScanResults, type StillDrifted } from '../audit/review/summary.js';
import { exitCodes, UsageError, type Command } from './io.js';
import { auditOptions, helpOption } from './options.js';

const HELP = `Usage: driftgate audit [FILE ...] [options]

Reads driftgate decision logs (JSON lines with "msg":"decision") and kube-apiserver audit logs
(audit.k8s.io/v1 Events, JSON lines), in any mix, from the files or from standard input. The
decision log line and the audit event of one request are paired, which shows whether an
allowed write was stored. Other lines are skipped and counted.

Options:
  --since TIME         only writes at or after TIME: a duration back from now (24h, 30m, 7d,
                       1h30m) or an RFC 3339 time (2026-11-22T03:00:00Z)
  --until TIME         only writes before TIME, same forms
  --user USER          only writes by USER (the impersonated identity when there is one)
  --namespace NS       only writes in namespace NS
  --kind KIND          only writes to objects of KIND (Deployment or deployments)
  --decision D[,D]     only these decisions: denied, allowed, warned, audited, break-glass,
                       exempt, sync, not-judged, error
  --break-glass        only writes allowed under break-glass
  --webhook-name NAME  the validating webhook's name in the audit log annotations
                       (default ${DEFAULT_WEBHOOK_NAME})
  --scan FILE          the JSON of the latest driftgate scan (--output json): what is still
                       drifted or missing is taken from it, not inferred from the log
                       (--namespace and --kind apply to it)
  --output FORMAT      table (default), json, or html (one self-contained page)

Exit status: 0 reviewed, 2 bad input.
`;

const OPTIONS = { ...auditOptions, ...helpOption } as const;

export interface AuditCommandDeps {
  readonly now: () => Date;
  readonly stdin: () => Readable;
}

export function createAuditCommand(
  deps: AuditCommandDeps = { now: () => new Date(), stdin: () => process.stdin },
): Command {
  return async (argv, io) => {
    let parsed;
    try {
      parsed = parseArgs({
        args: [...argv],
        options: OPTIONS,
        strict: true,
        allowPositionals: true,
      });
    } catch (error) {
      throw new UsageError(`${(error as Error).message}\n\n${HELP}`);
    }
    const { values, positionals: files } = parsed;
    if (values.help === true) {
      io.stdout(HELP);
      return exitCodes.ok;
    }
    const output = values.output;
    if (output !== 'table' && output !== 'json' && output !== 'html') {
      throw new UsageError(`--output must be table, json or html, not '${output}'`);
    }
    const now = deps.now();
    const since = values.since === undefined ? undefined : parseTime('--since', values.since, now);
    const until = values.until === undefined ? undefined : parseTime('--until', values.until, now);
    const keep = entryFilter({
      since,
      until,
      user: values.user,
      namespace: values.namespace,
      kind: values.kind,
      decisions: values.decision === undefined ? undefined : parseDecisions(values.decision),
      breakGlass: values['break-glass'] === true,
    });
    for (const file of files) {
      let isDirectory;
      try {
        await access(resolve(io.cwd, file), constants.R_OK);
        isDirectory = (await stat(resolve(io.cwd, file))).isDirectory();
      } catch (error) {
        throw new UsageError(`${file}: cannot read it (${(error as NodeJS.ErrnoException).code})`);
      }
      if (isDirectory) throw new UsageError(`${file}: is a directory, not a log file`);
    }

    const scan =
      values.scan === undefined
        ? undefined
        : {
            file: values.scan,
            stillDrifted: await readScan(resolve(io.cwd, values.scan), values.scan, values),
          };

    const counts = emptyCounts();
    const webhookName = values['webhook-name'] ?? DEFAULT_WEBHOOK_NAME;
    const inputs =
      files.length === 0
        ? [entriesOf(deps.stdin(), counts, webhookName)]
        : files.map((file) =>
            entriesOf(createReadStream(resolve(io.cwd, file)), counts, webhookName),
          );
    const summary = new SummaryBuilder();
    const timeline = output === 'html' ? new TimelineCollector() : undefined;
    let shown = 0;
    const keepMemoryBounded = boundYoungGeneration();
    if (output === 'table') io.stdout(tableHeader());
    if (output === 'json') io.stdout('{"entries":[');
    const kinds = new KindNames();
    for await (const read of matchRequests(mergeByTime(inputs))) {
      keepMemoryBounded();
      const entry = kinds.name(read);
      summary.observeAny(entry);
      if (!keep(entry)) continue;
      summary.observe(entry);
      timeline?.observe(entry);
      if (output === 'table') io.stdout(tableRow(entry));
      if (output === 'json') io.stdout(`${shown === 0 ? '\n' : ',\n'}${JSON.stringify(entry)}`);
      shown += 1;
    }
    const report = scan === undefined ? summary.report() : withScanResults(summary.report(), scan);
    if (output === 'table') io.stdout(formatSummary(report, counts));
    if (output === 'json') {
      const skipped = {
        notJson: counts.notJson,
        notDecisionOrAuditEvent: counts.other,
        auditEventsWithoutDecision: counts.unrelatedAuditEvents,
      };
      io.stdout(`\n],"summary":${JSON.stringify({ ...report, skipped })}}\n`);
    }
    if (timeline !== undefined) {
      const iso = (ms: number | undefined) =>
        ms === undefined ? undefined : new Date(ms).toISOString();
      io.stdout(
        renderHtml(report, timeline.report(), {
          inputs: files.length === 0 ? ['standard input'] : files,
          since: iso(since),
          until: iso(until),
          skipped: skippedLine(counts),
          now,
        }),
      );
    }
    return exitCodes.ok;
  };
}

export const auditCommand: Command = createAuditCommand();

/** The drifted and missing objects of a scan's JSON, within the --namespace and --kind asked. */
async function readScan(
  path: string,
  name: string,
  filters: { readonly namespace?: string | undefined; readonly kind?: string | undefined },
): Promise<StillDrifted[]> {
  let text;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(
      `--scan ${name}: cannot read it (${(error as NodeJS.ErrnoException).code})`,
    );
  }
  const kind = filters.kind?.toLowerCase();
  try {
    return stillDriftedOfScan(
      text,
      (object) =>
        (filters.namespace === undefined || object.namespace === filters.namespace) &&
        (kind === undefined ||
          resourceOf(object.kind) === kind ||
          resourceOf(object.kind) === resourceOf(kind)),
    );
  } catch (error) {
    if (error instanceof ScanResultsError) throw new UsageError(`--scan ${name}: ${error.message}`);
    throw error;
  }
}

interface Filters {
  readonly since: number | undefined;
  readonly until: number | undefined;
  readonly user: string | undefined;
  readonly namespace: string | undefined;
  readonly kind: string | undefined;
  readonly decisions: ReadonlySet<string> | undefined;
  readonly breakGlass: boolean;
}

function entryFilter(filters: Filters): (entry: AuditEntry) => boolean {
  const kind = filters.kind?.toLowerCase();
  return (entry) => {
    const time = Date.parse(entry.time);
    if (filters.since !== undefined && time < filters.since) return false;
    if (filters.until !== undefined && time >= filters.until) return false;
    if (filters.user !== undefined && entry.user !== filters.user) return false;
    if (filters.namespace !== undefined && entry.namespace !== filters.namespace) return false;
    if (filters.decisions?.has(entry.decision) === false) return false;
    if (filters.breakGlass && entry.decision !== 'break-glass') return false;
    if (kind !== undefined) {
      // `Deployment`, `deployment` and `deployments` all name the resource `deployments`.
      const type = entry.resource?.toLowerCase() ?? resourceOf(entry.kind ?? '');
      if (type !== kind && type !== resourceOf(kind)) return false;
    }
    return true;
  };
}

const DECISIONS = new Set([
  'denied',
  'allowed',
  'warned',
  'audited',
  'break-glass',
  'exempt',
  'sync',
  'not-judged',
  'error',
]);

function parseDecisions(text: string): Set<string> {
  const decisions = text.split(',').map((d) => d.trim());
  const unknown = decisions.filter((d) => !DECISIONS.has(d));
  if (unknown.length > 0) {
    throw new UsageError(
      `--decision: unknown decision '${unknown.join("', '")}' (one of ${[...DECISIONS].join(', ')})`,
    );
  }
  return new Set(decisions);
}

const UNIT_MS: Readonly<Record<string, number>> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** A duration back from `now` (`24h`, `1h30m`) or an RFC 3339 time, as epoch milliseconds. */
export function parseTime(option: string, text: string, now: Date): number {
  if (/^(\d+[smhd])+$/.test(text)) {
    let ms = 0;
    for (const [, count, unit] of text.matchAll(/(\d+)([smhd])/g)) {
      ms += Number(count) * (UNIT_MS[unit ?? ''] ?? 0);
    }
    return now.getTime() - ms;
  }
  const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
  const time = Date.parse(text);
  if (!rfc3339.test(text) || Number.isNaN(time)) {
    throw new UsageError(
      `${option} must be a duration such as 24h or 1h30m, or an RFC 3339 time such as 2026-11-22T03:00:00Z, not '${text}'`,
    );
  }
  return time;
}
