// Reads decision logs and audit logs line by line, merges them in time order and pairs the
// decision log line and the audit event of one request. Memory stays bounded by a time window.
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';
import { objectKey, parseLine, sameType, type AuditEntry } from './entry.js';

/** How far apart the two records of one request may be (clocks, webhook latency). */
export const MATCH_WINDOW_MS = 5_000;
/** Entries are held this long before they are final: logs are only nearly sorted by time. */
const HOLD_MS = 3 * MATCH_WINDOW_MS;

export interface LineCounts {
  lines: number;
  notJson: number;
  other: number;
  unrelatedAuditEvents: number;
  entries: number;
}

export function emptyCounts(): LineCounts {
  return { lines: 0, notJson: 0, other: 0, unrelatedAuditEvents: 0, entries: 0 };
}

/**
 * Lines split at "\n" (a trailing "\r" dropped). Not readline: it also splits at U+2028 and
 * U+2029, which JSON keeps unescaped inside strings, so a user named with one would break their
 * own decision line in two and drop out of the review.
 */
async function* linesOf(input: Readable): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  const line = (text: string) => (text.endsWith('\r') ? text.slice(0, -1) : text);
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    rest += typeof chunk === 'string' ? chunk : decoder.write(chunk);
    let start = 0;
    for (let end = rest.indexOf('\n'); end !== -1; end = rest.indexOf('\n', start)) {
      yield line(rest.slice(start, end));
      start = end + 1;
    }
    rest = rest.slice(start);
  }
  rest += decoder.end();
  if (rest !== '') yield line(rest);
}

/** The entries of one input, in file order; every line is counted in `counts`. */
export async function* entriesOf(
  input: Readable,
  counts: LineCounts,
  webhookName?: string,
): AsyncGenerator<AuditEntry> {
  for await (const line of linesOf(input)) {
    if (line.trim() === '') continue;
    counts.lines += 1;
    const parsed = parseLine(line, webhookName);
    switch (parsed.kind) {
      case 'not-json':
        counts.notJson += 1;
        break;
      case 'other':
        counts.other += 1;
        break;
      case 'unrelated-audit-event':
        counts.unrelatedAuditEvents += 1;
        break;
      case 'entry':
        counts.entries += 1;
        yield parsed.entry;
    }
  }
}

/** Merges inputs that are each (nearly) in time order into one stream in time order. */
export async function* mergeByTime(
  inputs: readonly AsyncIterator<AuditEntry>[],
): AsyncGenerator<AuditEntry> {
  const heads = await Promise.all(inputs.map((input) => input.next()));
  for (;;) {
    let first = -1;
    heads.forEach((head, index) => {
      if (head.done === true) return;
      const current = first === -1 ? undefined : heads[first];
      if (current?.done !== false || head.value.time < current.value.time) first = index;
    });
    const head = first === -1 ? undefined : heads[first];
    const input = inputs[first];
    if (head?.done !== false || input === undefined) return;
    yield head.value;
    heads[first] = await input.next();
  }
}

/**
 * Pairs each decision log line with the audit event of the same request: same object, user,
 * operation, subresource and dry-run, within `MATCH_WINDOW_MS`. The review uid and the audit
 * ID differ, so nothing better identifies the request. A pair becomes one entry: the decision
 * log's fields, the audit log's outcome (`committed`).
 */
export async function* matchRequests(
  entries: AsyncIterable<AuditEntry>,
): AsyncGenerator<AuditEntry> {
  let held: AuditEntry[] = [];
  const flush = function* (before: number) {
    held.sort((a, b) => a.time.localeCompare(b.time));
    const keep: AuditEntry[] = [];
    for (const entry of held) {
      if (Date.parse(entry.time) < before) yield entry;
      else keep.push(entry);
    }
    held = keep;
  };
  for await (const entry of entries) {
    const at = Date.parse(entry.time);
    const index = closest(held, entry, at);
    const other = held[index];
    if (other === undefined) held.push(entry);
    else held[index] = merge(other, entry);
    yield* flush(at - HOLD_MS);
  }
  yield* flush(Infinity);
}

/** The index of the held entry nearest in time that records the same request, or -1. */
function closest(held: readonly AuditEntry[], entry: AuditEntry, at: number): number {
  let best = -1;
  let bestDistance = Infinity;
  held.forEach((other, index) => {
    const distance = Math.abs(Date.parse(other.time) - at);
    if (distance < bestDistance && sameRequest(other, entry, at)) {
      best = index;
      bestDistance = distance;
    }
  });
  return best;
}

/** The webhook decides after the API server received the request: allow a little clock skew. */
const SKEW_MS = 1_000;

function sameRequest(held: AuditEntry, entry: AuditEntry, at: number): boolean {
  const [decisionAt, receivedAt] =
    entry.origin === 'decision-log' ? [at, Date.parse(held.time)] : [Date.parse(held.time), at];
  return (
    held.origin !== entry.origin &&
    held.matchedId === undefined &&
    decisionAt - receivedAt >= -SKEW_MS &&
    decisionAt - receivedAt <= MATCH_WINDOW_MS &&
    held.user === entry.user &&
    held.operation === entry.operation &&
    held.subresource === entry.subresource &&
    held.dryRun === entry.dryRun &&
    objectKey(held) === objectKey(entry) &&
    sameType(held, entry)
  );
}

function merge(a: AuditEntry, b: AuditEntry): AuditEntry {
  const [decision, audit] = a.origin === 'decision-log' ? [a, b] : [b, a];
  return {
    ...decision,
    time: audit.time < decision.time ? audit.time : decision.time,
    resource: audit.resource,
    breakGlassExpires: audit.breakGlassExpires,
    committed: audit.committed,
    matchedId: audit.id,
  };
}
