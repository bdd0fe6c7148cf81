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
  const text = JSON.stringify(value);
  return text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
}

export function describeOrigin(origin: DesiredOrigin): string {
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
    `driftgate denied ${operation} of ${formatKey(key)} by ${username}: ${count} from Git (${describeOrigin(origin)}):`,
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
