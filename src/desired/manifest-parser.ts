// Manifest files and renderer output turned into Kubernetes objects, with the line each came from.
// Imports only packages, node: built-ins and (by URL) its sibling go-yaml, because the parse worker
// loads it without a bundler.
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join, matchesGlob, relative, sep } from 'node:path';
import { YAMLException } from 'js-yaml';
import type * as GoYaml from './go-yaml.js';

// Under a TypeScript runner the sibling module is a .ts file; once built it is .js. The worker
// loads this file with Node itself, so it picks the one that exists next to it.
const goYaml = (await import(
  new URL(import.meta.url.endsWith('.ts') ? './go-yaml.ts' : './go-yaml.js', import.meta.url).href
)) as typeof GoYaml;

/** One Kubernetes object found in a file (or renderer output), with its 1-based line. */
export interface ParsedDocument {
  readonly file: string;
  readonly line: number;
  readonly object: Record<string, unknown>;
}

/**
 * A parsed object as it travels from the parse worker and to disk: its identity, and its JSON
 * text. Text, not an object graph, because the main thread would otherwise allocate tens of
 * thousands of small objects per render and pay for them in garbage collection pauses.
 */
export interface RenderedDocument {
  readonly file: string;
  readonly line: number;
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string | null;
  readonly json: string;
}

export function toRendered(document: ParsedDocument): RenderedDocument {
  const metadata = document.object['metadata'] as Record<string, unknown>;
  const namespace = metadata['namespace'];
  return {
    file: document.file,
    line: document.line,
    apiVersion: document.object['apiVersion'] as string,
    kind: document.object['kind'] as string,
    name: metadata['name'] as string,
    namespace: typeof namespace === 'string' && namespace !== '' ? namespace : null,
    json: JSON.stringify(document.object),
  };
}

/** A problem in a manifest, located precisely enough to open the file at the line. */
export interface ManifestProblem {
  readonly file: string;
  /** 1-based; 0 when the problem is not tied to a line (unreadable file). */
  readonly line: number;
  readonly message: string;
}

export class ManifestError extends Error {
  override readonly name = 'ManifestError';
  readonly problem: ManifestProblem;
  // No parameter properties here: the worker loads this file with Node's type stripping.
  constructor(problem: ManifestProblem) {
    super(
      problem.line > 0
        ? `${problem.file}:${problem.line}: ${problem.message}`
        : `${problem.file}: ${problem.message}`,
    );
    this.problem = problem;
  }
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** 1-based line of each offset in ascending `offsets`, counted in one pass over `text`. */
function linesOf(text: string, offsets: readonly number[]): number[] {
  const lines: number[] = [];
  let line = 1;
  let position = 0;
  for (const offset of offsets) {
    if (offset < 0) {
      lines.push(line);
      continue;
    }
    while (position < offset) {
      if (text.charCodeAt(position) === 10) line++;
      position++;
    }
    lines.push(line);
  }
  return lines;
}

/**
 * Every Kubernetes object in a multi-document YAML or JSON text, read as kubectl reads it (see
 * go-yaml.ts). Empty documents are skipped, `List` kinds are flattened (as kubectl does). Throws
 * ManifestError naming file and line, also where kubectl would refuse the file (`.inf`, a null key).
 */
export function parseManifests(text: string, file: string): ParsedDocument[] {
  let documents: GoYaml.KubeYamlDocument[];
  try {
    documents = goYaml.parseKubeYaml(text, file);
  } catch (error) {
    if (error instanceof YAMLException) {
      throw new ManifestError({
        file,
        line: (error.mark?.line ?? -1) + 1,
        message:
          error instanceof goYaml.KubeYamlError ? error.reason : `invalid YAML: ${error.reason}`,
      });
    }
    throw new ManifestError({ file, line: 0, message: `invalid YAML: ${String(error)}` });
  }
  const lines = linesOf(
    text,
    documents.map((document) => document.start),
  );
  const result: ParsedDocument[] = [];
  documents.forEach(({ value: document }, index) => {
    if (document === null || document === undefined) return;
    const line = lines[index] ?? 1;
    if (!isMapping(document)) {
      throw new ManifestError({ file, line, message: 'document is not a mapping' });
    }
    collectObjects(document, file, line, result);
  });
  return result;
}

function collectObjects(
  document: Record<string, unknown>,
  file: string,
  line: number,
  into: ParsedDocument[],
): void {
  const kind = document['kind'];
  if (typeof kind === 'string' && kind.endsWith('List') && Array.isArray(document['items'])) {
    for (const item of document['items'] as unknown[]) {
      if (item === null) continue;
      if (!isMapping(item)) {
        throw new ManifestError({ file, line, message: `an item of ${kind} is not a mapping` });
      }
      collectObjects(item, file, line, into);
    }
    return;
  }
  const missing = objectProblem(document);
  if (missing !== undefined) {
    throw new ManifestError({
      file,
      line,
      message: `not a Kubernetes object: ${missing} (exclude the file if it is not a manifest)`,
    });
  }
  into.push({ file, line, object: document });
}

function objectProblem(document: Record<string, unknown>): string | undefined {
  if (typeof document['apiVersion'] !== 'string' || document['apiVersion'] === '') {
    return 'apiVersion is missing';
  }
  if (typeof document['kind'] !== 'string' || document['kind'] === '') return 'kind is missing';
  const metadata = document['metadata'];
  if (!isMapping(metadata)) return 'metadata is missing';
  if (typeof metadata['name'] !== 'string' || metadata['name'] === '') {
    return 'metadata.name is missing (objects named by generateName cannot be tracked)';
  }
  return undefined;
}

export interface ManifestFileOptions {
  /** Real path of the repository checkout; nothing outside it is ever read. */
  readonly root: string;
  /** Directory inside `root` to walk. */
  readonly directory: string;
  /** Globs relative to `directory`; empty means every manifest file. */
  readonly include: readonly string[];
  readonly exclude: readonly string[];
}

const MANIFEST_FILE = /\.(ya?ml|json)$/i;

/** A manifest file: how it is named (relative to the repository root) and where it really is. */
export interface ManifestFile {
  readonly file: string;
  readonly real: string;
}

/**
 * Manifest files under `directory`, sorted by path. Symbolic links are followed only when their
 * target stays inside `root`: a link to /etc or to the service account token is refused, not
 * read. Only links are resolved; other entries are inside by construction, which keeps a
 * 10,000-file walk from costing a realpath per file.
 */
export function listManifestFiles(options: ManifestFileOptions): ManifestFile[] {
  const files: ManifestFile[] = [];
  const base = resolveInside(options.root, options.directory, options.directory);
  const visited = new Set<string>();
  const walk = (real: string, shown: string): void => {
    if (visited.has(real)) return;
    visited.add(real);
    const entries = readdirSync(real, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    for (const entry of entries) {
      if (entry.name === '.git') continue;
      const shownPath = shown === '' ? entry.name : `${shown}/${entry.name}`;
      const repoPath = options.directory === '.' ? shownPath : `${options.directory}/${shownPath}`;
      let target = join(real, entry.name);
      let isDirectory = entry.isDirectory();
      if (entry.isSymbolicLink()) {
        target = resolveInside(options.root, relative(options.root, target), repoPath);
        isDirectory = statSync(target).isDirectory();
      } else if (!isDirectory && !entry.isFile()) {
        continue;
      }
      if (isDirectory) {
        walk(target, shownPath);
        continue;
      }
      if (!MANIFEST_FILE.test(entry.name)) continue;
      if (!selected(shownPath, options)) continue;
      files.push({ file: repoPath, real: target });
    }
  };
  walk(base, '');
  return files;
}

function selected(path: string, options: ManifestFileOptions): boolean {
  if (options.include.length > 0 && !options.include.some((glob) => matchesGlob(path, glob))) {
    return false;
  }
  return !options.exclude.some((glob) => matchesGlob(path, glob));
}

/** Real path of `path` inside `root`, or a ManifestError when it leaves `root`. */
export function resolveInside(root: string, path: string, shown: string): string {
  let real: string;
  try {
    real = realpathSync(join(root, path));
  } catch {
    throw new ManifestError({ file: shown, line: 0, message: 'does not exist in the repository' });
  }
  const inside = relative(root, real);
  if (inside.startsWith('..') || inside.startsWith(sep) || /^[A-Za-z]:/.test(inside)) {
    throw new ManifestError({
      file: shown,
      line: 0,
      message: 'leads outside the repository (symbolic link)',
    });
  }
  return real;
}

/** The bytes of one manifest file (as listed by listManifestFiles), with a size limit. */
export function readManifestFile(manifest: ManifestFile, maxBytes: number): Buffer {
  const content = readFileSync(manifest.real);
  if (content.length > maxBytes) {
    throw new ManifestError({
      file: manifest.file,
      line: 0,
      message: `is larger than ${maxBytes} bytes`,
    });
  }
  return content;
}

/** Reads and parses one manifest file (as listed by listManifestFiles), with a size limit. */
export function parseManifestFile(manifest: ManifestFile, maxBytes: number): ParsedDocument[] {
  return parseManifests(readManifestFile(manifest, maxBytes).toString('utf8'), manifest.file);
}
