// The scan's report for people and programs: one JSON document, a table for the terminal, or a
// self-contained HTML page like `driftgate audit --output html`'s. Every value is escaped in HTML;
// Secret values arrive here already redacted by the comparison.
import { escapeHtml } from '../audit/review/html.js';
import type { ScannedObject } from './judge.js';
import type { ScanReport, ScanSummaryCounts } from './scan.js';

export function scanJson(report: ScanReport): string {
  const objects = report.objects.map((object) => ({
    group: object.group,
    kind: object.kind,
    namespace: object.namespace,
    name: object.name,
    status: object.status,
    source: object.source,
    file: object.file,
    commit: object.commit,
    mode: object.mode,
    protection: object.protection,
    drift: object.drift,
    ...(object.reason === undefined ? {} : { reason: object.reason }),
    ...(object.breakGlass === undefined ? {} : { breakGlass: object.breakGlass }),
  }));
  const { syncTracked, summary } = report;
  return `${JSON.stringify({ objects, syncTracked, summary }, null, 2)}\n`;
}

const MAX_VALUE = 80;

/** A value as one short line: JSON, cut where it would fill the terminal. */
export function shortValue(value: unknown): string {
  if (value === undefined) return '(absent)';
  const text = JSON.stringify(value);
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE - 1)}…` : text;
}

function objectName(object: Pick<ScannedObject, 'group' | 'kind' | 'name'>): string {
  const kind = object.group === '' ? object.kind : `${object.kind}.${object.group}`;
  return `${kind}/${object.name}`;
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows.reduce<number[]>(
    (max, row) => row.map((cell, index) => Math.max(max[index] ?? 0, cell.length)),
    [],
  );
  return rows.map((row) =>
    row
      .map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

function namespaceLabel(namespace: string): string {
  return namespace === '' ? '(cluster)' : namespace;
}

function summaryRows(summary: ScanReport['summary']): string[][] {
  const row = (name: string, counts: ScanSummaryCounts) => [
    name,
    String(counts.objects),
    String(counts.inSync),
    String(counts.drifted),
    String(counts.missing),
    String(counts.notJudged),
    String(counts.wouldRefuse),
  ];
  return [
    ['NAMESPACE', 'OBJECTS', 'IN-SYNC', 'DRIFTED', 'MISSING', 'NOT-JUDGED', 'ENFORCE-WOULD-REFUSE'],
    ...Object.entries(summary.byNamespace).map(([namespace, counts]) =>
      row(namespaceLabel(namespace), counts),
    ),
    row('TOTAL', summary),
  ];
}

/** What protects each sync-tracked object: the record, or why nothing does. */
function trackedRows(report: ScanReport): string[][] {
  return [
    ['NAMESPACE', 'OBJECT', 'PROTECTION', 'DEPLOYED BY', 'RECORD'],
    ...report.syncTracked.map((object) => [
      namespaceLabel(object.namespace),
      objectName(object),
      object.protection,
      object.deployedBy,
      object.record ?? `none: ${object.reason ?? ''}`,
    ]),
  ];
}

function protectionLine(summary: ScanReport['summary']): string {
  const counts = summary.byProtection;
  return `Protected by Git: ${counts.git}, by the sync tool's record: ${counts['sync-record']}, by nothing: ${counts.none}`;
}

const TRACKED_HEADING =
  'Deployed by a sync tool, declared by no rendered source (in the kinds and namespaces read):';

export function scanTable(report: ScanReport): string {
  const lines = table([
    ['NAMESPACE', 'OBJECT', 'STATUS', 'MODE', 'PROTECTION', 'SOURCE', 'FILE', 'COMMIT'],
    ...report.objects.map((object) => [
      namespaceLabel(object.namespace),
      objectName(object),
      object.status,
      object.mode,
      object.protection,
      object.source,
      object.file,
      object.commit.slice(0, 12),
    ]),
  ]);
  const details = report.objects.filter(
    (object) => object.status === 'drifted' || object.status === 'not-judged',
  );
  if (details.length > 0) lines.push('');
  for (const object of details) {
    const where = object.namespace === '' ? '' : ` in ${object.namespace}`;
    if (object.status === 'not-judged') {
      lines.push(`${objectName(object)}${where}: not judged: ${object.reason ?? ''}`);
      continue;
    }
    const glass = object.breakGlass === undefined ? '' : ` (break-glass: ${object.breakGlass})`;
    lines.push(`${objectName(object)}${where} differs from Git${glass}:`);
    for (const field of object.drift) {
      lines.push(
        `  ${field.path}: Git ${shortValue(field.git)}, cluster ${shortValue(field.live)}`,
      );
    }
  }
  if (report.syncTracked.length > 0) lines.push('', TRACKED_HEADING, ...table(trackedRows(report)));
  lines.push('', ...table(summaryRows(report.summary)), protectionLine(report.summary));
  return `${lines.join('\n')}\n`;
}

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}.drifted,.missing{color:#a00}.not-judged{color:#a60}.in-sync{color:#070}code{font-size:12px}`;

export function scanHtml(report: ScanReport, now: Date): string {
  const e = escapeHtml;
  const htmlTable = (head: readonly string[], rows: readonly (readonly string[])[]) =>
    `<table><tr>${head.map((h) => `<th>${e(h)}</th>`).join('')}</tr>${rows
      .map((r) => `<tr>${r.join('')}</tr>`)
      .join('')}</table>`;
  const cell = (text: string, className?: string) =>
    `<td${className === undefined ? '' : ` class="${e(className)}"`}>${e(text)}</td>`;
  const [head = [], ...rows] = summaryRows(report.summary);
  const summary = htmlTable(
    head,
    rows.map((row) => row.map((text) => cell(text))),
  );
  const objects = htmlTable(
    ['Namespace', 'Object', 'Status', 'Mode', 'Protection', 'Source', 'File', 'Commit', 'Detail'],
    report.objects.map((object) => [
      cell(namespaceLabel(object.namespace)),
      cell(objectName(object)),
      cell(object.status, object.status),
      cell(object.mode),
      cell(object.protection),
      cell(object.source),
      cell(object.file),
      cell(object.commit.slice(0, 12)),
      `<td>${
        object.status === 'not-judged'
          ? e(object.reason ?? '')
          : object.drift
              .map(
                (field) =>
                  `<code>${e(field.path)}</code>: Git <code>${e(shortValue(field.git))}</code>, cluster <code>${e(shortValue(field.live))}</code>`,
              )
              .join('<br>')
      }</td>`,
    ]),
  );
  const [trackedHead = [], ...trackedBody] = trackedRows(report);
  const tracked =
    report.syncTracked.length === 0
      ? ''
      : `<h2>${e(TRACKED_HEADING)}</h2>${htmlTable(
          trackedHead,
          trackedBody.map((row) => row.map((text) => cell(text))),
        )}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>driftgate scan</title><style>${STYLE}</style></head>
<body><h1>driftgate scan</h1><p>Scanned ${e(now.toISOString())}: ${e(report.summary.objects)} objects declared in Git, ${e(report.summary.drifted)} drifted, ${e(report.summary.missing)} missing, ${e(report.summary.notJudged)} not judged.</p>
<h2>Per namespace</h2>${summary}<p>${e(protectionLine(report.summary))}</p><h2>Objects</h2>${objects}${tracked}</body></html>
`;
}
