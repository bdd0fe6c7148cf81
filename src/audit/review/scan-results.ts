// What a scan (`driftgate scan --output json`) says is drifted or missing, for the review's
// "still drifted" section: the cluster as it was scanned, rather than inferred from the writes
// the log holds (which cannot see drift made while driftgate was off, or objects deleted).
import type { StillDrifted } from './summary.js';

interface ScannedObject {
  readonly group: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly status: string;
  readonly drift: readonly { readonly path: string }[];
}

/** A scan's JSON is not what `driftgate scan --output json` writes. */
export class ScanResultsError extends Error {
  readonly code = 'DRIFTGATE_ERR_SCAN_RESULTS';
}

function isScannedObject(value: unknown): value is ScannedObject {
  if (typeof value !== 'object' || value === null) return false;
  const object = value as Record<string, unknown>;
  return (
    ['group', 'kind', 'namespace', 'name', 'status'].every(
      (key) => typeof object[key] === 'string',
    ) &&
    Array.isArray(object.drift) &&
    object.drift.every(
      (field: unknown) =>
        typeof field === 'object' &&
        field !== null &&
        typeof (field as { path?: unknown }).path === 'string',
    )
  );
}

/** The drifted and missing objects of a scan, named as the review names objects. */
export function stillDriftedOfScan(
  text: string,
  keep: (object: { namespace: string; kind: string }) => boolean = () => true,
): StillDrifted[] {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new ScanResultsError(`not JSON: ${(error as Error).message}`);
  }
  const objects = (document as { objects?: unknown } | null)?.objects;
  if (!Array.isArray(objects)) {
    throw new ScanResultsError('not a scan: no "objects" list (driftgate scan --output json)');
  }
  const results: StillDrifted[] = [];
  for (const [index, object] of objects.entries()) {
    if (!isScannedObject(object)) {
      throw new ScanResultsError(
        `objects[${index}] is not a scanned object (group, kind, namespace, name, status, drift)`,
      );
    }
    if (object.status !== 'drifted' && object.status !== 'missing') continue;
    if (!keep(object)) continue;
    const type = object.group === '' ? object.kind : `${object.group}/${object.kind}`;
    const path = object.namespace === '' ? object.name : `${object.namespace}/${object.name}`;
    results.push({
      object: `${type} ${path}`,
      drift: object.drift.map((field) => field.path),
      status: object.status,
    });
  }
  return results;
}
