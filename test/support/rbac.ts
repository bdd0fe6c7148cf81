// Reads deploy/base/rbac.yaml and answers whether its rules allow one request, the way the
// API server's RBAC authorizer does for the requests driftgate makes (list, watch, create,
// patch; resourceNames on list/watch only with a metadata.name field selector).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadAll } from 'js-yaml';

export interface PolicyRule {
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames?: readonly string[];
  /** Paths outside the resource API (`/openapi/v3/*`: a trailing `*` matches any rest). */
  readonly nonResourceURLs?: readonly string[];
}

export interface ApiRequest {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  /** Undefined for a request across all namespaces or on a cluster-scoped resource. */
  readonly namespace: string | undefined;
  /** The object name, from the path or a `metadata.name=` field selector. */
  readonly name: string | undefined;
  /** Set for a path outside the resource API (`/openapi/v3`); group and resource are then ''. */
  readonly nonResourceURL?: string;
}

interface RbacObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: PolicyRule[];
}

const rbacFile = fileURLToPath(new URL('../../deploy/base/rbac.yaml', import.meta.url));

/** The RBAC of an optional component of deploy/ (deploy/components/<name>/rbac.yaml). */
export function componentRbac(name: string): string {
  return fileURLToPath(new URL(`../../deploy/components/${name}/rbac.yaml`, import.meta.url));
}

/** The RBAC driftgate's service account on Argo CD's cluster is given (deploy/hub). */
export const hubRbac = fileURLToPath(new URL('../../deploy/hub/rbac.yaml', import.meta.url));

/** The roles of deploy/base, plus those of the components whose RBAC files are given. */
export function deployedRoles(components: readonly string[] = []): {
  clusterRules: PolicyRule[];
  namespacedRules: Map<string, PolicyRule[]>;
} {
  return rolesIn([rbacFile, ...components]);
}

/** The roles of exactly these RBAC files. */
export function rolesIn(files: readonly string[]): {
  clusterRules: PolicyRule[];
  namespacedRules: Map<string, PolicyRule[]>;
} {
  const objects = files.flatMap((file) => loadAll(readFileSync(file, 'utf8')) as RbacObject[]);
  const clusterRules = objects
    .filter((o) => o.kind === 'ClusterRole')
    .flatMap((o) => o.rules ?? []);
  const namespacedRules = new Map<string, PolicyRule[]>();
  for (const role of objects.filter((o) => o.kind === 'Role')) {
    const namespace = role.metadata.namespace ?? '';
    namespacedRules.set(namespace, [
      ...(namespacedRules.get(namespace) ?? []),
      ...(role.rules ?? []),
    ]);
  }
  return { clusterRules, namespacedRules };
}

export function ruleAllows(rule: PolicyRule, request: ApiRequest): boolean {
  if (request.nonResourceURL !== undefined) {
    const url = request.nonResourceURL;
    return (
      rule.verbs.includes(request.verb) &&
      (rule.nonResourceURLs ?? []).some((pattern) =>
        pattern.endsWith('*') ? url.startsWith(pattern.slice(0, -1)) : url === pattern,
      )
    );
  }
  const apiGroups = rule.apiGroups ?? [];
  const resources = rule.resources ?? [];
  if (
    !(apiGroups.includes('*') || apiGroups.includes(request.group)) ||
    !(resources.includes('*') || resources.includes(request.resource))
  )
    return false;
  if (!rule.verbs.includes(request.verb) && !rule.verbs.includes('*')) return false;
  if (rule.resourceNames === undefined || rule.resourceNames.length === 0) return true;
  return request.name !== undefined && rule.resourceNames.includes(request.name);
}

export function allowedByDeploy(request: ApiRequest, components: readonly string[] = []): boolean {
  return allowedBy(deployedRoles(components), request);
}

export function allowedBy(
  { clusterRules, namespacedRules }: ReturnType<typeof rolesIn>,
  request: ApiRequest,
): boolean {
  if (clusterRules.some((rule) => ruleAllows(rule, request))) return true;
  if (request.namespace === undefined) return false;
  return (namespacedRules.get(request.namespace) ?? []).some((rule) => ruleAllows(rule, request));
}

/** An API path and query as the API server's request-info resolver reads them. */
export function apiRequestOf(method: string, path: string, query: URLSearchParams): ApiRequest {
  // As the API server's request-info resolver: `/api/v1` and `/apis/<group>/<version>` (and
  // shorter) are discovery, outside the resource API.
  const segments = path.split('/').filter((part) => part !== '');
  const isResource =
    (segments[0] === 'api' && segments.length >= 3) ||
    (segments[0] === 'apis' && segments.length >= 4);
  if (!isResource) {
    const verb = method === 'GET' ? 'get' : method.toLowerCase();
    return {
      verb,
      group: '',
      resource: '',
      namespace: undefined,
      name: undefined,
      nonResourceURL: path,
    };
  }
  const parts = path.split('/').filter((part) => part !== '');
  const [group, rest] =
    parts[0] === 'api' ? ['', parts.slice(2)] : [parts[1] ?? '', parts.slice(3)];
  let namespace: string | undefined;
  let remaining = rest;
  if (remaining[0] === 'namespaces' && remaining.length >= 3) {
    namespace = remaining[1];
    remaining = remaining.slice(2);
  }
  const resource = remaining[0] ?? '';
  const pathName = remaining[1];
  const selected = /^metadata\.name=(.+)$/.exec(query.get('fieldSelector') ?? '')?.[1];
  const watching = query.get('watch') === 'true' || query.get('watch') === '1';
  const verb =
    method === 'POST'
      ? 'create'
      : method === 'PATCH'
        ? 'patch'
        : method === 'PUT'
          ? 'update'
          : method === 'DELETE'
            ? pathName === undefined
              ? 'deletecollection'
              : 'delete'
            : pathName !== undefined
              ? 'get'
              : watching
                ? 'watch'
                : 'list';
  return { verb, group, resource, namespace, name: pathName ?? selected };
}

interface Binding {
  kind: string;
  metadata: { name: string; namespace?: string };
  roleRef: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
}

/**
 * The rules a service account holds in rendered manifests (`kubectl kustomize` output), as the
 * API server's RBAC authorizer resolves them: through each ClusterRoleBinding (cluster-wide) and
 * RoleBinding (in its namespace, to a Role of that namespace or a ClusterRole) naming it.
 */
export function rolesBoundTo(
  objects: readonly Record<string, unknown>[],
  serviceAccount: { readonly namespace: string; readonly name: string },
): ReturnType<typeof rolesIn> {
  const roles = objects as unknown as (RbacObject & Partial<Binding>)[];
  const rulesOf = (kind: string, name: string, namespace?: string) =>
    roles
      .filter(
        (o) =>
          o.kind === kind &&
          o.metadata.name === name &&
          (kind === 'ClusterRole' || o.metadata.namespace === namespace),
      )
      .flatMap((o) => o.rules ?? []);
  const names = (binding: Binding) =>
    (binding.subjects ?? []).some(
      (s) =>
        s.kind === 'ServiceAccount' &&
        s.name === serviceAccount.name &&
        s.namespace === serviceAccount.namespace,
    );
  const clusterRules: PolicyRule[] = [];
  const namespacedRules = new Map<string, PolicyRule[]>();
  for (const binding of roles as unknown as Binding[]) {
    if (binding.kind === 'ClusterRoleBinding' && names(binding)) {
      clusterRules.push(...rulesOf('ClusterRole', binding.roleRef.name));
    } else if (binding.kind === 'RoleBinding' && names(binding)) {
      const namespace = binding.metadata.namespace ?? '';
      namespacedRules.set(namespace, [
        ...(namespacedRules.get(namespace) ?? []),
        ...rulesOf(binding.roleRef.kind, binding.roleRef.name, namespace),
      ]);
    }
  }
  return { clusterRules, namespacedRules };
}
