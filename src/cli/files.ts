// Reading the files a user names on the command line, with errors that name the file and
// say what is wrong, never a stack trace.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { isJsonObject, type KubeObject } from '../kube/object.js';
import { YAMLException } from 'js-yaml';
import { parseKubeYaml } from '../desired/go-yaml.js';
import { UsageError } from './io.js';

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

/**
 * Every non-empty document of a YAML (or JSON) text, read as kubectl reads manifests (go-yaml v2's
 * YAML 1.1 scalars, keys made strings, merge keys). Throws ManifestParseError.
 */
export function parseDocuments(text: string): unknown[] {
  try {
    return parseKubeYaml(text, '')
      .map((document) => document.value)
      .filter((document) => document !== null && document !== undefined);
  } catch (error) {
    if (error instanceof YAMLException) {
      const line = error.mark === undefined ? undefined : error.mark.line + 1;
      throw new ManifestParseError(error.reason, line);
    }
    throw error;
  }
}

export async function readDocuments(file: string, cwd: string): Promise<unknown[]> {
  let text: string;
  try {
    text = await readFile(resolve(cwd, file), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code;
    throw new UsageError(`${file}: cannot read it (${reason ?? String(error)})`);
  }
  try {
    return parseDocuments(text);
  } catch (error) {
    if (error instanceof ManifestParseError) {
      const where = error.line === undefined ? '' : ` at line ${error.line}`;
      throw new UsageError(`${file}: not valid YAML or JSON${where}: ${error.message}`);
    }
    throw error;
  }
}

/** Exactly one Kubernetes object (apiVersion, kind, metadata.name) from a file. */
export async function readObjectFile(file: string, cwd: string): Promise<KubeObject> {
  const documents = await readDocuments(file, cwd);
  if (documents.length !== 1) {
    throw new UsageError(
      `${file}: expected exactly one object, found ${documents.length} documents`,
    );
  }
  return asKubeObject(documents[0], file);
}

/** Every document of a file, each a Kubernetes object (apiVersion, kind, metadata.name). */
export async function readObjectsFile(file: string, cwd: string): Promise<KubeObject[]> {
  const documents = await readDocuments(file, cwd);
  if (documents.length === 0) throw new UsageError(`${file}: holds no objects`);
  return documents.map((document, index) =>
    asKubeObject(document, documents.length === 1 ? file : `${file} (document ${index + 1})`),
  );
}

function asKubeObject(object: unknown, file: string): KubeObject {
  if (!isJsonObject(object)) throw new UsageError(`${file}: expected a Kubernetes object`);
  if (object.kind === 'AdmissionReview') {
    throw new UsageError(
      `${file}: is an AdmissionReview; give the object itself (its request.object) in a file of its own`,
    );
  }
  const metadata = object.metadata;
  if (
    typeof object.apiVersion !== 'string' ||
    typeof object.kind !== 'string' ||
    !isJsonObject(metadata) ||
    typeof metadata.name !== 'string'
  ) {
    throw new UsageError(
      `${file}: not a Kubernetes object (apiVersion, kind and metadata.name are required)`,
    );
  }
  return object;
}
