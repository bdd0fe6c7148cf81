// Parsing manifests the way Kubernetes tooling does (sigs.k8s.io/yaml, built on go-yaml v2):
// YAML 1.1 scalars, so `defaultMode: 0644` is octal 420 and merge keys (`<<`) work.
import { loadAll, Schema, timestampTag, YAML11_SCHEMA, YAMLException } from 'js-yaml';

// Timestamps stay strings: Kubernetes has no timestamp values in manifests, only strings that
// look like dates, and a Date object would never equal the string the API server returns.
export const KUBERNETES_YAML_SCHEMA = new Schema(
  YAML11_SCHEMA.tags.filter((tag) => tag !== timestampTag),
);

export class ManifestParseError extends Error {
  override readonly name = 'ManifestParseError';
  constructor(
    message: string,
    /** 1-based line of the problem, when the parser knows it. */
    readonly line: number | undefined,
  ) {
    super(message);
  }
}

/** Every non-empty document of a YAML (or JSON) text. Throws ManifestParseError. */
export function parseDocuments(text: string): unknown[] {
  try {
    return loadAll(text, { schema: KUBERNETES_YAML_SCHEMA }).filter(
      (document) => document !== null && document !== undefined,
    );
  } catch (error) {
    if (error instanceof YAMLException) {
      const line = error.mark === undefined ? undefined : error.mark.line + 1;
      throw new ManifestParseError(error.reason, line);
    }
    throw error;
  }
}
