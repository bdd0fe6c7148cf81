// Who is asking: matching the requester (always `request.userInfo`, set by the API server,
// never anything in the object) against configured users and groups.
import type { UserInfo } from '../kube/admission.js';

export interface Identities {
  readonly users: readonly string[];
  readonly groups: readonly string[];
}

// `system:node:*` names every kubelet; a trailing `*` is the only wildcard.
function nameMatches(pattern: string, name: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : pattern === name;
}

export function isOneOf(user: UserInfo, identities: Identities): boolean {
  const username = user.username ?? '';
  if (identities.users.some((pattern) => nameMatches(pattern, username))) return true;
  const groups = user.groups ?? [];
  return identities.groups.some((group) => groups.includes(group));
}

export function describeIdentities(identities: Identities): string {
  const parts = [
    ...identities.groups.map((group) => `group ${group}`),
    ...identities.users.map((user) => `user ${user}`),
  ];
  return parts.length === 0
    ? 'nobody (breakGlass.groups and breakGlass.users are empty)'
    : parts.join(', ');
}
