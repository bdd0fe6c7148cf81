// What discovery hands back: the sources a sync tool's objects describe, and for each object it
// could not reproduce, why (for logs and metrics), instead of a guess.
import type { IgnoreDifference, SourceConfig } from '../config/config.js';

export interface DiscoveryProblem {
  /** The sync tool's object: `Application argocd/shop`, `Kustomization flux-system/apps`. */
  readonly object: string;
  /** The source concerned, when one was (or would have been) made. */
  readonly source: string | null;
  /**
   * `skipped`: no source was made, its objects are not judged. `partial`: the source was made;
   * the fields named in `reason` are not compared (or compared more loosely than the tool does).
   */
  readonly effect: 'skipped' | 'partial';
  readonly reason: string;
}

export interface DiscoveryResult {
  readonly sources: readonly SourceConfig[];
  readonly problems: readonly DiscoveryProblem[];
}

/** Reads `value[key]` as a mapping, or undefined. */
export function mapping(value: unknown, key?: string): Record<string, unknown> | undefined {
  const found = key === undefined ? value : isRecord(value) ? value[key] : undefined;
  return isRecord(found) ? found : undefined;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function text(value: unknown, key: string): string | undefined {
  const found = isRecord(value) ? value[key] : undefined;
  return typeof found === 'string' && found !== '' ? found : undefined;
}

export function list(value: unknown, key: string): readonly unknown[] {
  const found = isRecord(value) ? value[key] : undefined;
  return Array.isArray(found) ? found : [];
}

export function strings(value: unknown, key: string): string[] {
  return list(value, key).filter((item): item is string => typeof item === 'string');
}

/** A map of strings (labels, substitutions); other values are dropped. */
export function stringMap(value: unknown, key: string): Record<string, string> {
  const found = mapping(value, key) ?? {};
  const result: Record<string, string> = {};
  for (const [name, item] of Object.entries(found)) {
    if (typeof item === 'string') result[name] = item;
  }
  return result;
}

/** `metadata.namespace`/`metadata.name`, or undefined when either is missing. */
export function objectName(object: unknown): { namespace: string; name: string } | undefined {
  const metadata = mapping(object, 'metadata');
  const namespace = text(metadata, 'namespace');
  const name = text(metadata, 'name');
  return namespace === undefined || name === undefined ? undefined : { namespace, name };
}

/** RFC 6901 escaping of one reference token. */
function escapeToken(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

// `.spec.replicas`, `.metadata.labels["app.kubernetes.io/name"]`, `.spec.ports[0]`.
const JQ_STEP = /^(?:\.([A-Za-z_][A-Za-z0-9_]*)|\.?\["((?:[^"\\]|\\.)*)"\]|\[([0-9]+)\])/;

/**
 * A jq path expression as a JSON pointer. `exact` when the expression is a plain path; otherwise
 * the pointer of its longest plain prefix (`.spec.containers[] | select(...)` → `/spec/containers`),
 * which ignores more than the expression does: never a denial Argo CD would not make.
 */
export function jqToPointer(expression: string): { pointer: string; exact: boolean } | undefined {
  let rest = expression.trim();
  const tokens: string[] = [];
  while (rest !== '') {
    const step = JQ_STEP.exec(rest);
    if (step === null) break;
    const token =
      step[1] ?? (step[2] === undefined ? step[3] : (JSON.parse(`"${step[2]}"`) as string));
    tokens.push(String(token));
    rest = rest.slice(step[0].length);
  }
  if (tokens.length === 0) return undefined;
  return { pointer: tokens.map((token) => `/${escapeToken(token)}`).join(''), exact: rest === '' };
}

/**
 * Argo CD `ignoreDifferences` entries as driftgate rules. jq path expressions become JSON
 * pointers (see jqToPointer); the ones that cannot are reported.
 */
export function readIgnoreDifferences(
  value: readonly unknown[],
  report: (reason: string) => void,
): IgnoreDifference[] {
  const rules: IgnoreDifference[] = [];
  for (const item of value) {
    const kind = text(item, 'kind');
    if (kind === undefined) {
      report('an ignoreDifferences entry without kind is not honoured');
      continue;
    }
    const jsonPointers = strings(item, 'jsonPointers');
    for (const expression of strings(item, 'jqPathExpressions')) {
      const converted = jqToPointer(expression);
      if (converted === undefined) {
        report(
          `ignoreDifferences jqPathExpression ${expression} of ${kind} cannot be evaluated; those fields are compared`,
        );
        continue;
      }
      if (!converted.exact) {
        report(
          `ignoreDifferences jqPathExpression ${expression} of ${kind} is honoured as all of ${converted.pointer}`,
        );
      }
      jsonPointers.push(converted.pointer);
    }
    const managedFieldsManagers = strings(item, 'managedFieldsManagers');
    if (jsonPointers.length === 0 && managedFieldsManagers.length === 0) continue;
    rules.push({
      group: text(item, 'group') ?? '',
      kind,
      name: text(item, 'name') ?? null,
      namespace: text(item, 'namespace') ?? null,
      jsonPointers,
      jqPathExpressions: [],
      managedFieldsManagers,
    });
  }
  return rules;
}
