// What an API server says about its resources: kind, scope and served versions, read from
// aggregated discovery (`/api`, `/apis` as APIGroupDiscoveryList) or plain discovery.
import { isJsonObject } from './object.js';

export type Scope = 'Cluster' | 'Namespaced';

export interface DiscoveredResource {
  readonly group: string;
  /** Plural resource name: `horizontalpodautoscalers`. */
  readonly resource: string;
  readonly kind: string;
  readonly scope: Scope;
  /** Served versions, the API server's preferred first. */
  readonly versions: readonly string[];
}

/** The Accept header that asks `/api` and `/apis` for aggregated discovery. */
export const AGGREGATED_DISCOVERY_ACCEPT =
  'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

/** An error in a discovery document, naming where it is. */
export class DiscoveryDocumentError extends Error {
  override readonly name = 'DiscoveryDocumentError';
  readonly code = 'DRIFTGATE_ERR_DISCOVERY_DOCUMENT';
}

class Collector {
  private readonly byResource = new Map<string, DiscoveredResource>();

  add(group: string, version: string, resource: string, kind: string, scope: Scope): void {
    const id = `${group}/${resource}`;
    const known = this.byResource.get(id);
    if (known === undefined) {
      this.byResource.set(id, { group, resource, kind, scope, versions: [version] });
      return;
    }
    if (known.kind !== kind || known.scope !== scope) {
      throw new DiscoveryDocumentError(
        `${id}: ${version} says ${scope} ${kind}, another version ${known.scope} ${known.kind}`,
      );
    }
    if (!known.versions.includes(version)) {
      this.byResource.set(id, { ...known, versions: [...known.versions, version] });
    }
  }

  resources(): DiscoveredResource[] {
    return [...this.byResource.values()].sort(
      (a, b) => compare(a.group, b.group) || compare(a.resource, b.resource),
    );
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function text(value: unknown, where: string): string {
  if (typeof value !== 'string') throw new DiscoveryDocumentError(`${where}: not a string`);
  return value;
}

function list(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw new DiscoveryDocumentError(`${where}: not a list`);
  return value;
}

function object(value: unknown, where: string): Record<string, unknown> {
  if (!isJsonObject(value)) throw new DiscoveryDocumentError(`${where}: not an object`);
  return value;
}

/**
 * The resources of one or more `apidiscovery.k8s.io/v2` APIGroupDiscoveryList documents (the
 * answers of `/api` and `/apis`). Versions are listed in preference order there, so the first
 * version of a resource is the preferred one. Subresources are not resources.
 */
export function resourcesFromAggregated(documents: readonly unknown[]): DiscoveredResource[] {
  const collector = new Collector();
  for (const [d, document] of documents.entries()) {
    const where = `document ${d}`;
    const body = object(document, where);
    if (body.kind !== 'APIGroupDiscoveryList') {
      throw new DiscoveryDocumentError(
        `${where}: kind ${String(body.kind)}, not APIGroupDiscoveryList`,
      );
    }
    for (const [g, item] of list(body.items, `${where}.items`).entries()) {
      const groupWhere = `${where}.items[${g}]`;
      const group = object(item, groupWhere);
      const name = object(group.metadata, `${groupWhere}.metadata`).name;
      const groupName = name === undefined ? '' : text(name, `${groupWhere}.metadata.name`);
      for (const [v, entry] of list(group.versions, `${groupWhere}.versions`).entries()) {
        const versionWhere = `${groupWhere}.versions[${v}]`;
        const version = object(entry, versionWhere);
        const versionName = text(version.version, `${versionWhere}.version`);
        for (const [r, raw] of list(
          version.resources ?? [],
          `${versionWhere}.resources`,
        ).entries()) {
          const resourceWhere = `${versionWhere}.resources[${r}]`;
          const resource = object(raw, resourceWhere);
          const responseKind = object(resource.responseKind, `${resourceWhere}.responseKind`);
          collector.add(
            groupName,
            versionName,
            text(resource.resource, `${resourceWhere}.resource`),
            text(responseKind.kind, `${resourceWhere}.responseKind.kind`),
            scopeOf(resource.scope, `${resourceWhere}.scope`),
          );
        }
      }
    }
  }
  return collector.resources();
}

/**
 * The resources of plain discovery: an APIGroupList (`/apis`, giving the preferred version of
 * each group) and one APIResourceList per group version (`/api/v1`, `/apis/apps/v1`).
 */
export function resourcesFromPlain(
  groupList: unknown,
  resourceLists: readonly unknown[],
): DiscoveredResource[] {
  const preferred = new Map<string, string>([['', 'v1']]);
  const groups = object(groupList, 'APIGroupList');
  for (const [g, raw] of list(groups.groups, 'APIGroupList.groups').entries()) {
    const group = object(raw, `APIGroupList.groups[${g}]`);
    const preferredVersion = object(
      group.preferredVersion,
      `APIGroupList.groups[${g}].preferredVersion`,
    );
    preferred.set(
      text(group.name, `APIGroupList.groups[${g}].name`),
      text(preferredVersion.version, `APIGroupList.groups[${g}].preferredVersion.version`),
    );
  }
  const collector = new Collector();
  // The preferred version of a group is read first, so it comes first in `versions`.
  const ordered = resourceLists
    .map((document, d) => {
      const body = object(document, `APIResourceList ${d}`);
      const groupVersion = text(body.groupVersion, `APIResourceList ${d}.groupVersion`);
      const slash = groupVersion.indexOf('/');
      const group = slash === -1 ? '' : groupVersion.slice(0, slash);
      const version = slash === -1 ? groupVersion : groupVersion.slice(slash + 1);
      return { body, d, group, version, first: preferred.get(group) === version ? 0 : 1 };
    })
    .sort((a, b) => a.first - b.first || a.d - b.d);
  for (const { body, d, group, version } of ordered) {
    for (const [r, raw] of list(body.resources, `APIResourceList ${d}.resources`).entries()) {
      const where = `APIResourceList ${d}.resources[${r}]`;
      const resource = object(raw, where);
      const name = text(resource.name, `${where}.name`);
      if (name.includes('/')) continue;
      if (typeof resource.namespaced !== 'boolean') {
        throw new DiscoveryDocumentError(`${where}.namespaced: not a boolean`);
      }
      collector.add(
        group,
        version,
        name,
        text(resource.kind, `${where}.kind`),
        resource.namespaced ? 'Namespaced' : 'Cluster',
      );
    }
  }
  return collector.resources();
}

function scopeOf(value: unknown, where: string): Scope {
  if (value === 'Cluster' || value === 'Namespaced') return value;
  throw new DiscoveryDocumentError(`${where}: ${String(value)}, not Cluster or Namespaced`);
}

/**
 * Kubernetes' own API groups: the core group, the groups without a dot (`apps`, `batch`,
 * `autoscaling`, `policy`) and `*.k8s.io`. Everything else an API server serves comes from a
 * CustomResourceDefinition or an aggregated API installed into that cluster.
 */
export function isKubernetesGroup(group: string): boolean {
  return group === '' || !group.includes('.') || group.endsWith('.k8s.io');
}
