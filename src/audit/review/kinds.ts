// One spelling of an object's type across both logs: the API server's audit log names only the
// resource (`apps/deployments`), driftgate's decision log the kind (`apps/Deployment`).
import builtinSchema from '../../drift/generated/builtin-schema.json' with { type: 'json' };
import { resourceOf } from '../../kube/resource-name.js';
import type { AuditEntry } from './entry.js';

/** `group/resource` → Kind, for the built-in kinds of the API server the schema was taken from. */
function builtinKinds(): Map<string, string> {
  const kinds = new Map<string, string>();
  for (const gvk of Object.keys(builtinSchema.kinds)) {
    const parts = gvk.split('/');
    const kind = parts.at(-1) ?? '';
    kinds.set(`${parts[0] ?? ''}/${resourceOf(kind)}`, kind);
  }
  return kinds;
}

/** Names the kind of audit log entries: built-in kinds, and custom kinds the decision log named. */
export class KindNames {
  readonly #kinds = builtinKinds();

  name(entry: AuditEntry): AuditEntry {
    const group = entry.group ?? '';
    if (entry.kind !== undefined) {
      this.#kinds.set(`${group}/${resourceOf(entry.kind)}`, entry.kind);
      return entry;
    }
    if (entry.resource === undefined) return entry;
    const kind = this.#kinds.get(`${group}/${entry.resource.toLowerCase()}`);
    return kind === undefined ? entry : { ...entry, kind };
  }
}
