// Manifest files and renderer output turned into Kubernetes objects, with the line each came from.
// Imports only packages, node: built-ins and (by URL) its sibling go-yaml, because the parse worker
// loads it without a bundler.
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join, matchesGlob, relative, sep } from 'node:path';
import { YAMLException } from 'js-yaml';
import type { ArgoCDRendering } from '../config/config.js';
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

/** One decoded YAML document that is not empty, with its 1-based line. */
interface DecodedDocument {
  readonly value: unknown;
  readonly line: number;
}

/**
 * The non-empty documents of a YAML stream, read as kubectl reads it (see go-yaml.ts); throws
 * ManifestError naming file and line, also where kubectl would refuse the file (`.inf`, a null key).
 */
function decodeDocuments(text: string, file: string, firstLine = 1): DecodedDocument[] {
  let documents: GoYaml.KubeYamlDocument[];
  try {
    documents = goYaml.parseKubeYaml(text, file);
  } catch (error) {
    if (error instanceof YAMLException) {
      throw new ManifestError({
        file,
        line: (error.mark?.line ?? -1) + firstLine,
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
  const result: DecodedDocument[] = [];
  documents.forEach(({ value }, index) => {
    if (value === null || value === undefined) return;
    result.push({ value, line: (lines[index] ?? 1) + firstLine - 1 });
  });
  return result;
}

/**
 * Every Kubernetes object in a multi-document YAML or JSON text, read as kubectl reads it.
 * Empty documents are skipped, `List` kinds are flattened (as kubectl does). Throws
 * ManifestError naming file and line.
 */
export function parseManifests(text: string, file: string): ParsedDocument[] {
  const result: ParsedDocument[] = [];
  for (const { value, line } of decodeDocuments(text, file)) {
    if (!isMapping(value)) {
      throw new ManifestError({ file, line, message: 'document is not a mapping' });
    }
    collectObjects(value, file, line, result);
  }
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

/** Objects Argo CD takes from a file or a renderer's output, and what it leaves out that matters. */
export interface ArgoCDParse {
  readonly documents: ParsedDocument[];
  /** Objects Argo CD applies that driftgate cannot track (named by generateName). */
  readonly notes: string[];
}

const HOOK_ANNOTATION = 'argocd.argoproj.io/hook';
const HELM_HOOK_ANNOTATION = 'helm.sh/hook';

/**
 * A resource hook, or an object Argo CD's sync skips: never part of the Application's desired
 * state. gitops-engine `hook.IsHook` and `ignore.Ignore`: any `argocd.argoproj.io/hook`
 * annotation (`Skip` alone is skipped; other values run as hooks or, unknown, are ignored), and
 * any `helm.sh/hook` but `crd-install` (Helm's CRD marker); argo-cd `controller/hook.go` adds
 * PreDelete and PostDelete. Read from Git's manifest only, like Flux's opt-outs.
 */
export function isArgoCDHook(object: Record<string, unknown>): boolean {
  const metadata = object['metadata'];
  const annotations = isMapping(metadata) ? metadata['annotations'] : undefined;
  // Unstructured.GetAnnotations is empty when any value is not a string (NestedStringMap fails).
  if (!isMapping(annotations) || !Object.values(annotations).every((v) => typeof v === 'string')) {
    return false;
  }
  if (Object.hasOwn(annotations, HOOK_ANNOTATION)) return true;
  return (
    Object.hasOwn(annotations, HELM_HOOK_ANNOTATION) &&
    annotations[HELM_HOOK_ANNOTATION] !== 'crd-install'
  );
}

/**
 * The objects Argo CD's controller syncs, from what its repo server decoded: lists flattened
 * (repository.go GenerateManifests: any object whose `items` is a list), hooks left out
 * (gitops-engine sync.Reconcile splits them off before the diff), objects named only by
 * generateName noted and left out (driftgate cannot know the name the API server gives them).
 */
function argoCDObjects(decoded: readonly DecodedDocument[], file: string): ArgoCDParse {
  const documents: ParsedDocument[] = [];
  const notes: string[] = [];
  const targets: { object: Record<string, unknown>; line: number }[] = [];
  for (const { value, line } of decoded) {
    const object = value as Record<string, unknown>;
    const items = object['items'];
    if (Array.isArray(items)) {
      for (const item of items) {
        if (!isMapping(item)) {
          throw new ManifestError({ file, line, message: 'an item of a list is not an object' });
        }
        targets.push({ object: item, line });
      }
    } else if (!(
      items === null &&
      !Object.hasOwn(object, 'spec') &&
      !Object.hasOwn(object, 'status')
    )) {
      targets.push({ object, line });
    }
  }
  for (const { object, line } of targets) {
    if (isArgoCDHook(object)) continue;
    const metadata = object['metadata'];
    const name = isMapping(metadata) ? metadata['name'] : undefined;
    const generateName = isMapping(metadata) ? metadata['generateName'] : undefined;
    if ((typeof name !== 'string' || name === '') && typeof generateName === 'string') {
      const kind = typeof object['kind'] === 'string' ? object['kind'] : 'object';
      notes.push(
        `${file}:${line}: ${kind} named by generateName ${generateName} is not judged (its name is chosen at creation)`,
      );
      continue;
    }
    const missing = objectProblem(object);
    if (missing !== undefined) throw new ManifestError({ file, line, message: missing });
    documents.push({ file, line, object });
  }
  return { documents, notes };
}

/** A decoded document Argo CD can unmarshal into an object: a mapping with a kind. */
function decodesAsObject(value: unknown): value is Record<string, unknown> {
  return isMapping(value) && typeof value['kind'] === 'string' && value['kind'] !== '';
}

/**
 * A renderer's output (helm template, kustomize build) as Argo CD reads it (gitops-engine
 * kube.SplitYAML): every document must be an object with a kind.
 */
export function parseArgoCDOutput(text: string, label: string): ArgoCDParse {
  const decoded = decodeDocuments(text, label);
  for (const { value, line } of decoded) {
    if (!decodesAsObject(value)) {
      throw new ManifestError({
        file: label,
        line,
        message: 'not a Kubernetes object: kind is missing',
      });
    }
  }
  return argoCDObjects(decoded, label);
}

// k8s.io/apimachinery's YAMLReader ends a document at a line that is `---`, then spaces or a comment.
const DOCUMENT_SEPARATOR = /^---[ \t]*(?:#.*)?$/;

/**
 * A file of a directory source as Argo CD's repo server reads it (repository.go
 * getObjsFromYAMLOrJSON). JSON: one object with a kind. YAML: documents one by one; the first
 * that is not an object with a kind (or is not YAML) ends the file. Then, if objects came before
 * it, or the file holds `apiVersion:`, `kind:` and `metadata:`, the Application fails; else the
 * file is not a manifest (a Helm values file, a config file) and is skipped whole.
 */
export function parseArgoCDFile(text: string, file: string): ArgoCDParse {
  if (file.endsWith('.json')) {
    let value: unknown;
    try {
      value = JSON.parse(text) as unknown;
    } catch (error) {
      throw new ManifestError({
        file,
        line: 0,
        message: `invalid JSON: ${error instanceof Error ? error.message : String(error)}`,
      });
    }
    if (!decodesAsObject(value)) {
      throw new ManifestError({
        file,
        line: 1,
        message: 'not a Kubernetes object: kind is missing',
      });
    }
    return argoCDObjects([{ value, line: 1 }], file);
  }
  const decoded: DecodedDocument[] = [];
  let failure: ManifestError | undefined;
  const lines = text.split('\n');
  let start = 0;
  const chunks: { text: string; line: number }[] = [];
  lines.forEach((line, index) => {
    if (DOCUMENT_SEPARATOR.test(line.replace(/\r$/, ''))) {
      chunks.push({ text: lines.slice(start, index).join('\n'), line: start + 1 });
      start = index + 1;
    }
  });
  chunks.push({ text: lines.slice(start).join('\n'), line: start + 1 });
  for (const chunk of chunks) {
    if (chunk.text.trim() === '') continue;
    try {
      for (const document of decodeDocuments(chunk.text, file, chunk.line)) {
        if (!decodesAsObject(document.value)) {
          throw new ManifestError({
            file,
            line: document.line,
            message: 'not a Kubernetes object: kind is missing',
          });
        }
        decoded.push(document);
      }
    } catch (error) {
      if (!(error instanceof ManifestError)) throw error;
      failure = error;
      break;
    }
  }
  if (failure !== undefined) {
    const looksLikeManifest =
      text.includes('apiVersion:') && text.includes('kind:') && text.includes('metadata:');
    if (decoded.length > 0 || looksLikeManifest) throw failure;
    return { documents: [], notes: [] };
  }
  return argoCDObjects(decoded, file);
}

/** Argo CD leaves out of a directory source any file that holds this marker (repository.go). */
export const ARGOCD_SKIP_MARKER = '+argocd:skip-file-rendering';

export interface ManifestFileOptions {
  /** Real path of the repository checkout; nothing outside it is ever read. */
  readonly root: string;
  /** Directory inside `root` to walk. */
  readonly directory: string;
  /** Globs relative to `directory`; empty means every manifest file. */
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  /**
   * Argo CD's directory walk instead (repository.go getPotentiallyValidManifests): its file
   * names, recursion and globs; `include` and `exclude` above are then not used.
   */
  readonly argocd?: ArgoCDRendering | null;
  /** Argo CD's glob match, passed in so this file imports no sibling (see the first lines). */
  readonly argoGlobMatch?: (pattern: string, path: string) => boolean;
}

const MANIFEST_FILE = /\.(ya?ml|json)$/i;
// repository.go `manifestFile`: case-sensitive, and Jsonnet too.
const ARGOCD_MANIFEST_FILE = /^.*\.(yaml|yml|json|jsonnet)$/;

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
  if (options.argocd != null) return listArgoCDFiles(options, options.argocd);
  const files: ManifestFile[] = [];
  const base = resolveInside(options.root, options.directory, options.directory);
  const visited = new Set<string>();
  const walk = (real: string, shown: string): void => {
    if (visited.has(real)) return;
    visited.add(real);
    for (const entry of sortedEntries(real)) {
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
      if (!isListed(shownPath, entry.name, options)) continue;
      files.push({ file: repoPath, real: target });
    }
  };
  walk(base, '');
  return files;
}

function sortedEntries(directory: string) {
  return readdirSync(directory, { withFileTypes: true }).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
}

/**
 * Argo CD's walk (repository.go getPotentiallyValidManifests): subdirectories only with
 * `recurse`, never through a symbolic link (filepath.Walk does not follow them); a link to a
 * file is read when it stays in the repository, skipped when its target is missing; exclude,
 * then include, matched against the path under the directory.
 */
function listArgoCDFiles(options: ManifestFileOptions, argocd: ArgoCDRendering): ManifestFile[] {
  const match = options.argoGlobMatch;
  if (match === undefined) throw new Error('Argo CD directory rules need argoGlobMatch');
  const files: ManifestFile[] = [];
  const base = resolveInside(options.root, options.directory, options.directory);
  const walk = (real: string, shown: string): void => {
    for (const entry of sortedEntries(real)) {
      // Git's own directory: Argo CD's checkout has one too, and it holds no manifests.
      if (entry.name === '.git') continue;
      const shownPath = shown === '' ? entry.name : `${shown}/${entry.name}`;
      const repoPath = options.directory === '.' ? shownPath : `${options.directory}/${shownPath}`;
      let target = join(real, entry.name);
      if (entry.isDirectory()) {
        if (argocd.recurse) walk(target, shownPath);
        continue;
      }
      if (!ARGOCD_MANIFEST_FILE.test(entry.name)) continue;
      if (entry.isSymbolicLink()) {
        try {
          realpathSync(target);
        } catch {
          continue;
        }
        target = resolveInside(options.root, relative(options.root, target), repoPath);
        if (!statSync(target).isFile()) continue;
      } else if (!entry.isFile()) {
        continue;
      }
      if (!isListedByArgoCD(shownPath, entry.name, argocd, match)) continue;
      files.push({ file: repoPath, real: target });
    }
  };
  walk(base, '');
  return files;
}

/**
 * Whether the walk of listManifestFiles lists the regular file at `path` (relative to the
 * directory): its rules, for a file known from Git rather than found on disk.
 */
export function isListedManifest(path: string, options: ManifestFileOptions): boolean {
  const name = path.slice(path.lastIndexOf('/') + 1);
  if (path.split('/').includes('.git')) return false;
  if (options.argocd == null) return isListed(path, name, options);
  const match = options.argoGlobMatch;
  if (match === undefined) throw new Error('Argo CD directory rules need argoGlobMatch');
  return (
    (options.argocd.recurse || !path.includes('/')) &&
    isListedByArgoCD(path, name, options.argocd, match)
  );
}

/**
 * The order listManifestFiles lists paths in: each directory's entries sorted by name, so a
 * directory's files stand where its name sorts among its siblings.
 */
export function compareListingOrder(a: string, b: string): number {
  const left = a.split('/');
  const right = b.split('/');
  for (let i = 0; i < left.length && i < right.length; i++) {
    const x = left[i] as string;
    const y = right[i] as string;
    if (x !== y) return x < y ? -1 : 1;
  }
  return left.length - right.length;
}

/**
 * What listManifestFiles lists once the files in `changed` (paths from the repository's root:
 * true when a regular file is there now, false when it is gone) have changed, given what it
 * listed before, in its order. No file is read: the rules and the order are the walk's.
 */
export function listingAfterChanges(
  before: readonly string[],
  changed: ReadonlyMap<string, boolean>,
  options: ManifestFileOptions,
): string[] {
  const prefix = options.directory === '.' ? '' : `${options.directory}/`;
  const added = [...changed]
    .filter(
      ([path, present]) =>
        present && path.startsWith(prefix) && isListedManifest(path.slice(prefix.length), options),
    )
    .map(([path]) => path)
    .sort(compareListingOrder);
  const listing: string[] = [];
  let next = 0;
  for (const path of before) {
    if (changed.has(path)) continue;
    for (; next < added.length && compareListingOrder(added[next] as string, path) < 0; next++) {
      listing.push(added[next] as string);
    }
    listing.push(path);
  }
  listing.push(...added.slice(next));
  return listing;
}

function isListed(path: string, name: string, options: ManifestFileOptions): boolean {
  return MANIFEST_FILE.test(name) && selected(path, options);
}

function isListedByArgoCD(
  path: string,
  name: string,
  argocd: ArgoCDRendering,
  match: (pattern: string, path: string) => boolean,
): boolean {
  if (!ARGOCD_MANIFEST_FILE.test(name)) return false;
  if (argocd.exclude !== null && match(argocd.exclude, path)) return false;
  return argocd.include === null || match(argocd.include, path);
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
