// The review as one self-contained HTML page to attach to an incident: a timeline of denials
// and break-glass writes per namespace, the top users and objects. Every value is escaped.
import { formatObject, type AuditEntry } from './entry.js';
import { shortTime } from './format.js';
import type { SummaryReport } from './summary.js';

/** Enough for any incident; the page says how many more there were. */
const MAX_TIMELINE_EVENTS = 2_000;

export interface TimelineEvent {
  readonly time: string;
  readonly user: string;
  readonly object: string;
  readonly decision: string;
  readonly dryRun: boolean;
  readonly detail: string;
}

export interface TimelineReport {
  readonly namespaces: ReadonlyMap<string, readonly TimelineEvent[]>;
  readonly left: number;
}

export class TimelineCollector {
  readonly #namespaces = new Map<string, TimelineEvent[]>();
  #kept = 0;
  #left = 0;

  observe(entry: AuditEntry): void {
    if (entry.decision !== 'denied' && entry.decision !== 'break-glass') return;
    if (this.#kept >= MAX_TIMELINE_EVENTS) {
      this.#left += 1;
      return;
    }
    this.#kept += 1;
    const namespace = entry.namespace ?? '(cluster)';
    const events = this.#namespaces.get(namespace) ?? [];
    events.push({
      time: entry.time,
      user: entry.user,
      object: formatObject(entry),
      decision: entry.decision,
      dryRun: entry.dryRun,
      detail: entry.breakGlassReason ?? entry.drift.join(', '),
    });
    this.#namespaces.set(namespace, events);
  }

  report(): TimelineReport {
    return { namespaces: this.#namespaces, left: this.#left };
  }
}

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string | number): string {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}
th{background:#f3f3f3}.denied{color:#a00}.break-glass{color:#a60}.dry{color:#777}`;

export function renderHtml(
  report: SummaryReport,
  timeline: TimelineReport,
  skipped: string,
  now: Date,
): string {
  const e = escapeHtml;
  const table = (head: readonly string[], rows: readonly (readonly (string | number)[])[]) =>
    `<table><tr>${head.map((h) => `<th>${e(h)}</th>`).join('')}</tr>${rows
      .map((r) => `<tr>${r.map((c) => `<td>${e(c)}</td>`).join('')}</tr>`)
      .join('')}</table>`;
  const parts: string[] = [];
  parts.push(
    `<h1>driftgate audit review</h1><p>Generated ${e(now.toISOString())}; ${e(report.entries)} writes shown.</p>`,
  );
  parts.push('<h2>Timeline of denials and break-glass writes</h2>');
  if (timeline.namespaces.size === 0) parts.push('<p>None.</p>');
  for (const [namespace, events] of [...timeline.namespaces].sort((a, b) =>
    a[0].localeCompare(b[0]),
  )) {
    parts.push(
      `<h3>${e(namespace)}</h3><table><tr><th>time</th><th>user</th><th>object</th><th>decision</th><th>detail</th></tr>`,
    );
    for (const event of events) {
      const kind = event.dryRun ? 'dry' : event.decision;
      parts.push(
        `<tr class="${e(kind)}"><td>${e(shortTime(event.time))}</td><td>${e(event.user)}</td><td>${e(event.object)}</td><td>${e(event.decision)}${event.dryRun ? ' (dry run)' : ''}</td><td>${e(event.detail)}</td></tr>`,
      );
    }
    parts.push('</table>');
  }
  if (timeline.left > 0) parts.push(`<p>${e(timeline.left)} more not shown.</p>`);
  parts.push('<h2>Top users by denials</h2>');
  parts.push(
    table(
      ['user', 'denials'],
      report.denialsByUser.slice(0, 20).map((d) => [d.user, d.count]),
    ),
  );
  parts.push('<h2>Top objects by denials</h2>');
  parts.push(
    table(
      ['object', 'denials'],
      report.denialsByObject.slice(0, 20).map((d) => [d.object, d.count]),
    ),
  );
  parts.push('<h2>Break-glass sessions</h2>');
  parts.push(
    table(
      ['object', 'reason', 'by', 'from', 'to', 'writes', 'until', 'back in line with Git'],
      report.breakGlass.map((s) => [
        s.object,
        s.reason,
        s.users.join(', '),
        shortTime(s.first),
        shortTime(s.last),
        s.writes,
        s.expires ?? '',
        s.restoredAt === undefined ? 'no' : `synced at ${shortTime(s.restoredAt)}`,
      ]),
    ),
  );
  parts.push(`<p>Dry-run denials: ${e(report.dryRunDenials)}. ${e(skipped)}.</p>`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>driftgate audit review</title><style>${STYLE}</style></head>
<body>${parts.join('\n')}</body></html>
`;
}
