// What people read: the denial message kubectl prints, and short warnings. The API server
// truncates each warning past 256 characters and drops them past 4 KiB in total.
import type { FieldDrift } from '../drift/diff.js';
import { formatKey, type ResourceKey } from '../kube/object.js';
import type { DesiredOrigin } from './decision.js';

const VALUE_LIMIT = 80;
const WARNING_LIMIT = 256;
const WARNINGS_TOTAL_LIMIT = 4000;

export function formatValue(value: unknown, limit = VALUE_LIMIT): string {
  if (value === undefined) return '(absent)';
  const text = boundedJson(value, limit);
  return text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
}

/**
 * JSON text of `value`, cut off soon after `limit` characters. Unlike JSON.stringify it never
 * walks more than it prints, so a value nested 10,000 levels deep (the API server accepts that
 * much) cannot overflow the stack and turn a denial into an internal error.
 */
function boundedJson(value: unknown, limit: number): string {
  let text = '';
  const emit = (part: string): boolean => {
    text += part;
    return text.length <= limit;
  };
  const walk = (item: unknown): boolean => {
    if (typeof item === 'string') return emit(JSON.stringify(item.slice(0, limit + 1)));
    if (typeof item === 'number' || typeof item === 'boolean') return emit(JSON.stringify(item));
    if (item === null || typeof item !== 'object') return emit('null');
    if (Array.isArray(item)) {
      if (!emit('[')) return false;
      for (let index = 0; index < item.length; index++) {
        if ((index > 0 && !emit(',')) || !walk(item[index])) return false;
      }
      return emit(']');
    }
    if (!emit('{')) return false;
    let first = true;
    for (const [key, member] of Object.entries(item)) {
      if (member === undefined) continue;
      if ((!first && !emit(',')) || !emit(`${JSON.stringify(key)}:`) || !walk(member)) return false;
      first = false;
    }
    return emit('}');
  };
  walk(value);
  return text;
}

export function describeOrigin(origin: DesiredOrigin): string {
  if (origin.by === 'sync-record') {
    const revision = origin.commit === 'unknown' ? '' : ` (${origin.commit})`;
    return `deployed by ${origin.source}${revision}, record: ${origin.file}`;
  }
  const line = origin.line > 0 ? `:${origin.line}` : '';
  return `source ${origin.source}, file ${origin.file}${line}, commit ${origin.commit.slice(0, 12)}`;
}

export function driftLine(drift: FieldDrift): string {
  if (drift.desired === undefined) {
    return `${drift.path}: not in Git, the request sets ${formatValue(drift.live)}`;
  }
  return `${drift.path}: Git has ${formatValue(drift.desired)}, the request has ${formatValue(drift.live)}`;
}

export function denialMessage(options: {
  operation: string;
  key: ResourceKey;
  username: string;
  drift: readonly FieldDrift[];
  origin: DesiredOrigin;
  advice: string;
}): string {
  const { operation, key, username, drift, origin, advice } = options;
  const count = drift.length === 1 ? '1 field differs' : `${drift.length} fields differ`;
  const lines = drift.map((d) => `  ${driftLine(d)}`);
  return [
    `driftgate denied ${operation} of ${formatKey(key)} by ${username}: ${count} from ${origin.by === 'sync-record' ? 'what the sync tool applied' : 'Git'} (${describeOrigin(origin)}):`,
    ...lines,
    advice,
  ].join('\n');
}

/** One warning per path, each within the API server's limits; the total capped too. */
export function driftWarnings(prefix: string, drift: readonly FieldDrift[]): string[] {
  const warnings: string[] = [];
  let total = 0;
  for (const d of drift) {
    let warning = `${prefix}${driftLine(d)}`;
    if (warning.length > WARNING_LIMIT) warning = `${warning.slice(0, WARNING_LIMIT - 1)}…`;
    if (total + warning.length > WARNINGS_TOTAL_LIMIT) {
      warnings.push(`driftgate: ${drift.length - warnings.length} more fields differ from Git`);
      break;
    }
    total += warning.length;
    warnings.push(warning);
  }
  return warnings;
}
