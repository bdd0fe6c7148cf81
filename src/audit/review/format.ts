// How a review reads: a table with one row per write, the summaries under it, and the counts
// of lines that were not records. Text only; the HTML page lives in html.ts.
import { formatObject, type AuditEntry } from './entry.js';
import type { LineCounts } from './read.js';
import type { SummaryReport } from './summary.js';

const COLUMNS = [
  { title: 'TIME', width: 20 },
  { title: 'USER', width: 24 },
  { title: 'OP', width: 6 },
  { title: 'OBJECT', width: 36 },
  { title: 'DECISION', width: 11 },
  { title: 'STORED', width: 7 },
  { title: 'DETAIL', width: 0 },
] as const;

// User names, object names and reasons come from requests: a newline or an escape sequence in
// one must not print a second row or repaint the terminal. Shown escaped, as JSON would.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

export function printable(text: string): string {
  return text.replace(CONTROL, (c) => {
    const short: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
    return short[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

function row(cells: readonly string[]): string {
  return `${cells
    .map((raw, i) => {
      const cell = printable(raw);
      const width = COLUMNS[i]?.width ?? 0;
      return width === 0 ? cell : cell.padEnd(width);
    })
    .join('  ')
    .trimEnd()}\n`;
}

export function tableHeader(): string {
  return row(COLUMNS.map((c) => c.title));
}

/** `2026-11-22T03:17:02Z`: the second is precise enough to read, the JSON has the rest. */
export function shortTime(iso: string): string {
  return iso.replace(/\.\d+Z$/, 'Z');
}

export function tableRow(entry: AuditEntry): string {
  const stored = entry.dryRun
    ? 'dry-run'
    : entry.committed === undefined
      ? '?'
      : entry.committed
        ? 'yes'
        : 'no';
  return row([
    shortTime(entry.time),
    entry.user,
    entry.operation,
    formatObject(entry),
    entry.decision,
    stored,
    detail(entry),
  ]);
}

function detail(entry: AuditEntry): string {
  const parts: string[] = [];
  if (entry.breakGlassReason !== undefined) parts.push(`reason: ${entry.breakGlassReason}`);
  if (entry.drift.length > 0) parts.push(`drift: ${entry.drift.join(', ')}`);
  return parts.join('; ');
}

export function formatSummary(report: SummaryReport, counts: LineCounts): string {
  const lines: string[] = [''];
  lines.push(`${plural(report.entries, 'write')} shown.`);
  if (report.denialsByUser.length > 0) {
    lines.push('', 'Denials by user:');
    for (const { user, count } of report.denialsByUser) lines.push(`  ${count}  ${user}`);
    lines.push('', 'Denials by object:');
    for (const { object, count } of report.denialsByObject) lines.push(`  ${count}  ${object}`);
  } else {
    lines.push('', 'No denials.');
  }
  if (report.dryRunDenials > 0) {
    lines.push('', `Dry-run denials (nothing was written): ${report.dryRunDenials}`);
  }
  if (report.breakGlass.length > 0) {
    lines.push('', 'Break-glass sessions:');
    for (const session of report.breakGlass) {
      const when =
        session.first === session.last
          ? shortTime(session.first)
          : `${shortTime(session.first)} to ${shortTime(session.last)}`;
      lines.push(
        `  ${session.object}: "${session.reason}" by ${session.users.join(', ')}, ${when}, ${plural(session.writes, 'write')}` +
          (session.expires === undefined ? '' : `, until ${session.expires}`),
        session.restoredAt === undefined
          ? '    not restored from Git since'
          : `    back in line with Git: synced at ${shortTime(session.restoredAt)}`,
      );
    }
  }
  if (report.stillDriftedFrom !== undefined) {
    lines.push('', `${stillDriftedTitle(report)}:`);
    if (report.stillDrifted.length === 0) lines.push('  none');
    for (const drifted of report.stillDrifted) {
      lines.push(
        drifted.status === 'missing'
          ? `  ${drifted.object}: missing from the cluster`
          : `  ${drifted.object}: ${drifted.drift.join(', ')}`,
      );
    }
  } else if (report.stillDrifted.length > 0) {
    lines.push('', `${stillDriftedTitle(report)}:`);
    for (const drifted of report.stillDrifted) {
      lines.push(
        `  ${drifted.object}: ${drifted.drift.join(', ')} (${drifted.decision ?? ''}, ${drifted.user ?? ''}, ${shortTime(drifted.since ?? '')})`,
      );
    }
  }
  lines.push('', skippedLine(counts));
  if (counts.unrelatedAuditEvents > 0) {
    lines.push(
      `${plural(counts.unrelatedAuditEvents, 'audit event')} without a driftgate decision (other requests, RequestReceived stages)`,
    );
  }
  return `${lines.map(printable).join('\n')}\n`;
}

/** Where the section's objects come from: the log (no sync since a drifting write), or a scan. */
export function stillDriftedTitle(report: SummaryReport): string {
  return report.stillDriftedFrom === undefined
    ? 'Still drifted from Git (no sync since)'
    : `Still drifted from Git (scan ${report.stillDriftedFrom})`;
}

export function skippedLine(counts: LineCounts): string {
  return `${plural(counts.notJson, 'line')} skipped: not JSON; ${plural(counts.other, 'line')} skipped: not a decision or audit event`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
