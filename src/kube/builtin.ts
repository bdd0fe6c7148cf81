// Kubernetes' own kinds: scope and served versions, from the table generated from a real API
// server's discovery (scripts/generate-scopes.ts). Never a hand-kept list.
import type { Scope } from './discovery.js';
import { BUILTIN_RESOURCES } from './generated/builtin-resources.js';

export type BuiltinResource = readonly [
  group: string,
  resource: string,
  kind: string,
  scope: Scope,
  versions: readonly string[],
];

interface BuiltinKind {
  readonly resource: string;
  readonly scope: Scope;
  readonly versions: readonly string[];
}

const byKind = new Map<string, BuiltinKind>();
for (const [group, resource, kind, scope, versions] of BUILTIN_RESOURCES) {
  // A kind served by two resources (none today) keeps the first: scope is the kind's, not the
  // resource's.
  if (!byKind.has(`${group}/${kind}`))
    byKind.set(`${group}/${kind}`, { resource, scope, versions });
}

/** The scope of a built-in kind, or undefined when Kubernetes itself does not serve it. */
export function builtinScope(group: string, kind: string): Scope | undefined {
  return byKind.get(`${group}/${kind}`)?.scope;
}

/** Versions Kubernetes serves a built-in kind in, preferred first; empty for other kinds. */
export function builtinVersions(group: string, kind: string): readonly string[] {
  return byKind.get(`${group}/${kind}`)?.versions ?? [];
}

export { BUILTIN_RESOURCES };
