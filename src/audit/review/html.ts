// The review as one self-contained HTML page to attach to an incident: what it read, an hourly
// chart and a timeline of denials and break-glass writes, top users and objects, what is still
// drifted. Every value is escaped.
import { formatObject, type AuditEntry } from './entry.js';
import { shortTime, stillDriftedTitle } from './format.js';
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
  /** Events beyond the page's limit: counted, not listed. */
  readonly left: number;
  /** Every event, listed or not: denials (dry runs among them) and break-glass writes. */
  readonly denials: number;
  readonly dryRunDenials: number;
  readonly breakGlassWrites: number;
  /** Per hour (`2026-11-22T03`), in time order. */
  readonly hours: readonly HourCount[];
  /** The first and last write the review shows, of any decision. */
  readonly first: string | undefined;
  readonly last: string | undefined;
}

export interface HourCount {
  readonly hour: string;
  readonly denials: number;
  readonly breakGlass: number;
}

/**
 * The page's rows: every denial (dry runs marked) and every break-glass write the API server
 * stored, the same writes the summary counts, so the page's numbers add up to its rows.
 */
export class TimelineCollector {
  readonly #namespaces = new Map<string, TimelineEvent[]>();
  readonly #hours = new Map<string, { denials: number; breakGlass: number }>();
  #kept = 0;
  #left = 0;
  #denials = 0;
  #dryRunDenials = 0;
  #breakGlass = 0;
  #first: string | undefined;
  #last: string | undefined;

  observe(entry: AuditEntry): void {
    if (this.#first === undefined || entry.time < this.#first) this.#first = entry.time;
    if (this.#last === undefined || entry.time > this.#last) this.#last = entry.time;
    const denied = entry.decision === 'denied';
    const breakGlass =
      entry.decision === 'break-glass' && !entry.dryRun && entry.committed !== false;
    if (!denied && !breakGlass) return;
    if (denied) {
      this.#denials += 1;
      if (entry.dryRun) this.#dryRunDenials += 1;
    } else this.#breakGlass += 1;
    const hour = entry.time.slice(0, 13);
    const count = this.#hours.get(hour) ?? { denials: 0, breakGlass: 0 };
    if (denied) count.denials += 1;
    else count.breakGlass += 1;
    this.#hours.set(hour, count);
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
    return {
      namespaces: this.#namespaces,
      left: this.#left,
      denials: this.#denials,
      dryRunDenials: this.#dryRunDenials,
      breakGlassWrites: this.#breakGlass,
      hours: [...this.#hours]
        .sort((a, b) => a[0].localeCompare(b[0]))
        .map(([hour, count]) => ({ hour, ...count })),
      first: this.#first,
      last: this.#last,
    };
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

// Long user and object names (service accounts, OIDC subjects) wrap inside their cell instead
// of pushing the table off the page.
const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;table-layout:auto;max-width:100%}
td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left;vertical-align:top}
td{overflow-wrap:break-word}td.long{overflow-wrap:anywhere;min-width:10em}td.time{white-space:nowrap}
th{background:#f3f3f3}.denied{color:#a00}.break-glass{color:#a60}.dry{color:#777}
svg text{font:11px system-ui,sans-serif;fill:#444}`;

/** Characters beyond which a cell may wrap anywhere. */
const LONG = 32;

const COLOURS = { denials: '#c33', breakGlass: '#d90' } as const;

export interface PageContext {
  /** The files read, or `standard input`. */
  readonly inputs: readonly string[];
  /** The --since and --until bounds, as RFC 3339 times, when given. */
  readonly since: string | undefined;
  readonly until: string | undefined;
  /** The skipped-lines sentence of the text output. */
  readonly skipped: string;
  readonly now: Date;
}

/** Denials and break-glass writes per hour as bars, one inline SVG, no script, no assets. */
export function hourlyChart(hours: readonly HourCount[]): string {
  if (hours.length === 0) return '';
  const e = escapeHtml;
  const bar = 18;
  const gap = 6;
  const height = 120;
  const left = 30;
  const max = Math.max(...hours.map((h) => h.denials + h.breakGlass));
  const scale = (n: number) => (n / max) * height;
  // Wide enough for the date line under the bars.
  const width = Math.max(360, left + hours.length * (bar + gap) + gap);
  const parts: string[] = [
    `<svg role="img" width="${width}" height="${height + 40}" viewBox="0 0 ${width} ${height + 40}">`,
    `<title>Denials and break-glass writes per hour (UTC)</title>`,
    `<text x="0" y="12">${e(max)}</text><text x="0" y="${height + 10}">0</text>`,
    `<line x1="${left - 4}" y1="${height + 10}" x2="${width}" y2="${height + 10}" stroke="#999"/>`,
  ];
  hours.forEach((h, i) => {
    const x = left + gap + i * (bar + gap);
    let top = height + 10;
    for (const [key, count] of [
      ['denials', h.denials],
      ['breakGlass', h.breakGlass],
    ] as const) {
      if (count === 0) continue;
      const tall = scale(count);
      top -= tall;
      const label = key === 'denials' ? 'denials' : 'break-glass writes';
      parts.push(
        `<rect class="${key === 'denials' ? 'bar-denials' : 'bar-break-glass'}" data-hour="${e(h.hour)}" data-count="${count}" x="${x}" y="${top.toFixed(1)}" width="${bar}" height="${tall.toFixed(1)}" fill="${COLOURS[key]}"><title>${e(`${h.hour}:00Z: ${count} ${label}`)}</title></rect>`,
      );
    }
    // Every third hour is labelled: a day of bars stays readable.
    if (i % 3 === 0 || hours.length <= 8) {
      parts.push(`<text x="${x}" y="${height + 26}">${e(h.hour.slice(11, 13))}h</text>`);
    }
  });
  const first = hours[0]?.hour ?? '';
  const last = hours.at(-1)?.hour ?? '';
  parts.push(
    `<text x="${left}" y="${height + 38}">${e(first === last ? first.slice(0, 10) : `${first.slice(0, 10)} to ${last.slice(0, 10)}`)} (UTC, hours with writes only)</text>`,
    '</svg>',
  );
  return parts.join('');
}

export function renderHtml(
  report: SummaryReport,
  timeline: TimelineReport,
  context: PageContext,
): string {
  const e = escapeHtml;
  // Times never wrap; a long name or path (an OIDC subject, a service account) wraps anywhere
  // rather than widening the table past the window.
  const cell = (c: string | number) =>
    typeof c === 'number'
      ? `<td class="n">${e(c)}</td>`
      : /^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(c)
        ? `<td class="time">${e(c)}</td>`
        : c.length > LONG
          ? `<td class="long">${e(c)}</td>`
          : `<td>${e(c)}</td>`;
  const table = (head: readonly string[], rows: readonly (readonly (string | number)[])[]) =>
    `<table><tr>${head.map((h) => `<th>${e(h)}</th>`).join('')}</tr>${rows
      .map((r) => `<tr>${r.map(cell).join('')}</tr>`)
      .join('')}</table>`;
  const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
  const parts: string[] = [];
  parts.push('<h1>driftgate audit review</h1>');
  const range =
    timeline.first === undefined || timeline.last === undefined
      ? 'no writes'
      : `writes from ${shortTime(timeline.first)} to ${shortTime(timeline.last)}`;
  const bounds = [
    context.since === undefined ? '' : `since ${context.since}`,
    context.until === undefined ? '' : `before ${context.until}`,
  ].filter((b) => b !== '');
  parts.push(
    `<p class="scope">Read: ${context.inputs.map((input) => `<code>${e(input)}</code>`).join(', ')}. ` +
      `Covers ${e(range)}${bounds.length === 0 ? '' : ` (asked for: ${e(bounds.join(', '))})`}. ` +
      `Generated ${e(context.now.toISOString())}.</p>`,
  );
  parts.push(
    `<p class="counts">${e(plural(report.entries, 'write'))} reviewed: ` +
      `<span id="denials">${e(timeline.denials)}</span> denied (<span id="dry-run-denials">${e(timeline.dryRunDenials)}</span> of them dry runs) and ` +
      `<span id="break-glass-writes">${e(timeline.breakGlassWrites)}</span> stored under break-glass.</p>`,
  );
  parts.push('<h2>Denials and break-glass writes per hour</h2>');
  parts.push(timeline.hours.length === 0 ? '<p>None.</p>' : hourlyChart(timeline.hours));
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
        `<tr class="${e(kind)}">${[
          shortTime(event.time),
          event.user,
          event.object,
          `${event.decision}${event.dryRun ? ' (dry run)' : ''}`,
          event.detail,
        ]
          .map(cell)
          .join('')}</tr>`,
      );
    }
    parts.push('</table>');
  }
  if (timeline.left > 0) parts.push(`<p>${e(timeline.left)} more not listed.</p>`);
  const topUsers = report.denialsByUser.slice(0, 20);
  parts.push('<h2>Top users by denials</h2>');
  if (report.denialsByUser.length > topUsers.length) {
    parts.push(
      `<p>The ${topUsers.length} of ${report.denialsByUser.length} users with the most.</p>`,
    );
  }
  parts.push(
    table(
      ['user', 'denials (not dry runs)'],
      topUsers.map((d) => [d.user, d.count]),
    ),
  );
  const topObjects = report.denialsByObject.slice(0, 20);
  parts.push('<h2>Top objects by denials</h2>');
  if (report.denialsByObject.length > topObjects.length) {
    parts.push(
      `<p>The ${topObjects.length} of ${report.denialsByObject.length} objects with the most.</p>`,
    );
  }
  parts.push(
    table(
      ['object', 'denials (not dry runs)'],
      topObjects.map((d) => [d.object, d.count]),
    ),
  );
  parts.push('<h2>Break-glass sessions</h2>');
  parts.push(
    table(
      ['object', 'reason', 'by', 'when', 'writes', 'until', 'synced back to Git at'],
      report.breakGlass.map((s) => [
        s.object,
        s.reason,
        s.users.join(', '),
        s.first === s.last ? shortTime(s.first) : `${shortTime(s.first)} to ${shortTime(s.last)}`,
        s.writes,
        s.expires ?? '',
        s.restoredAt === undefined ? 'not yet' : shortTime(s.restoredAt),
      ]),
    ),
  );
  parts.push(`<h2>${e(stillDriftedTitle(report))}</h2>`);
  parts.push(
    report.stillDrifted.length === 0
      ? '<p>None.</p>'
      : report.stillDriftedFrom !== undefined
        ? table(
            ['object', 'fields', 'status'],
            report.stillDrifted.map((d) => [d.object, d.drift.join(', '), d.status ?? 'drifted']),
          )
        : table(
            ['object', 'fields', 'decision', 'by', 'since'],
            report.stillDrifted.map((d) => [
              d.object,
              d.drift.join(', '),
              d.decision ?? '',
              d.user ?? '',
              shortTime(d.since ?? ''),
            ]),
          ),
  );
  parts.push(`<p>${e(context.skipped)}.</p>`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>driftgate audit review</title><style>${STYLE}</style></head>
<body>${parts.join('\n')}</body></html>
`;
}
