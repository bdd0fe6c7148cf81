// Renderers: turn a checked-out source into manifests (plain files, kustomize, or any command
// that prints YAML), running untrusted tools as child processes with nothing worth stealing.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { delimiter, join, relative } from 'node:path';
import type { SourceConfig } from '../config/config.js';
import { DriftgateError, errorCodes } from './errors.js';
import {
  listManifestFiles,
  ManifestError,
  resolveInside,
  type RenderedDocument,
} from './manifest-parser.js';
import type {
  ChangedFile,
  FileCounts,
  ParseOutcome,
  ParseWorkerPool,
  PersistRequest,
  RenderDelta,
} from './parse-task.js';
import {
  hasKustomizeEdits,
  helmTemplateArgv,
  isLeftAloneByFlux,
  kustomizeEditArgvs,
  substituteVariables,
} from './render-options.js';
import { Slices } from './slices.js';
import type { DocumentLists } from './snapshot.js';

export interface RenderLimits {
  /** Renderer process and parsing each get this long. */
  readonly timeoutMs: number;
  /** Renderer stdout beyond this is an error, not a partial snapshot. */
  readonly maxOutputBytes: number;
  readonly maxFileBytes: number;
  readonly maxFiles: number;
}

export const defaultRenderLimits: RenderLimits = {
  timeoutMs: 60_000,
  maxOutputBytes: 256 * 1024 * 1024,
  maxFileBytes: 16 * 1024 * 1024,
  maxFiles: 50_000,
};

export interface RenderRequest {
  readonly source: SourceConfig;
  /** Real path of the checkout of the source's commit. */
  readonly checkout: string;
  /** Scratch space for renderers (their HOME). */
  readonly workDir: string;
  readonly limits: RenderLimits;
  readonly persist: PersistRequest | null;
  /** Where YAML is parsed: off the event loop. */
  readonly parser: ParseWorkerPool;
  readonly onDocuments: (documents: readonly RenderedDocument[]) => void;
  /**
   * What the render left out and could not judge, once it succeeded (Argo CD sources: Jsonnet
   * files, objects named by generateName).
   */
  readonly onNotes?: (notes: readonly string[]) => void;
  /** What this render reflects (source config and commit), for a later render's `delta`. */
  readonly token?: string;
  /**
   * The files (paths from the repository's root) changed since the render named by `base`,
   * whose documents the caller holds. A plain source whose parse cache is that render's then
   * reads, and sends to `onDocuments`, only these files' documents (see RenderOutcome.delta).
   */
  readonly delta?: { readonly base: string; readonly changed: readonly string[] };
}

export interface RenderOutcome extends FileCounts {
  /**
   * Set when `onDocuments` received only the documents of the files read again: the base
   * render's documents of every other file still stand (see applyDelta).
   */
  readonly delta?: RenderDelta;
  /** Manifest files whose persisted documents were copied from the previous snapshot file. */
  readonly copied?: number;
}

/**
 * Renders one source. Documents stream to `onDocuments`; the promise rejects with a
 * DriftgateError naming the source, the file and the line when anything is wrong, in which case
 * the documents seen so far must be thrown away. Resolves to how many manifest files were parsed
 * and how many were unchanged since the source's last render (plain sources; renderer output
 * is one text, parsed whole).
 */
export async function renderSource(request: RenderRequest): Promise<RenderOutcome> {
  const { source, checkout } = request;
  let directory: string;
  try {
    directory = resolveInside(checkout, source.path, source.path);
  } catch (error) {
    throw new DriftgateError(
      errorCodes.unsafeSource,
      `source ${source.name}: path ${source.path} ${error instanceof ManifestError ? error.problem.message : 'is not usable'}`,
      { source: source.name, file: source.path },
    );
  }
  if (!statSync(directory).isDirectory()) {
    throw new DriftgateError(
      errorCodes.render,
      `source ${source.name}: path ${source.path} is not a directory`,
      { source: source.name, file: source.path },
    );
  }

  const kind = renderKindAt(source, directory);
  const onDocuments = desiredOnly(source, request.onDocuments);
  const edits = source.kustomize;
  if (kind === 'plain' && edits !== undefined && hasKustomizeEdits({ ...edits, namespace: null })) {
    // Flux would generate a kustomization here; images, prefixes and suffixes need one.
    throw new DriftgateError(
      errorCodes.render,
      `source ${source.name}: images, namePrefix and nameSuffix need a kustomization.yaml in ${source.path}`,
      { source: source.name, file: source.path },
    );
  }

  if (kind === 'plain' && source.substitute === undefined) {
    const outcome = await request.parser.run(
      {
        kind: 'files',
        ...fileSelection(request),
        root: checkout,
        token: request.token ?? null,
        delta: request.delta ?? null,
      },
      onDocuments,
      request.limits.timeoutMs,
    );
    if (!outcome.ok) throw manifestFailure(source.name, outcome.problems);
    request.onNotes?.(outcome.notes);
    return filesOutcome(outcome);
  }

  let rendered: { output: string; label: string };
  if (kind === 'plain') {
    rendered = await readManifests(request);
  } else if (kind === 'helm') {
    rendered = await renderHelm(request, directory);
  } else if (kind === 'kustomize' && hasKustomizeEdits(edits)) {
    rendered = await renderEditedKustomization(request);
  } else {
    const argv = kind === 'kustomize' ? [...kustomizeCommand(), '.'] : [...source.command];
    rendered = {
      label: `output of ${argv.join(' ')} in ${source.path}`,
      output: await runRenderer(argv, directory, source.name, request.workDir, request.limits),
    };
  }
  const text =
    source.substitute === undefined
      ? rendered.output
      : substituteVariables(rendered.output, source.substitute);
  const outcome = await request.parser.run(
    {
      kind: 'text',
      text,
      label: rendered.label,
      argocd: source.argocd !== undefined,
      persist: request.persist,
    },
    onDocuments,
    request.limits.timeoutMs,
  );
  if (!outcome.ok) throw manifestFailure(source.name, outcome.problems);
  request.onNotes?.(outcome.notes);
  return outcome.files;
}

/** What renderChanges needs: a render request without a checkout, and the changed files. */
export interface ChangesRenderRequest extends Omit<
  RenderRequest,
  'checkout' | 'delta' | 'workDir'
> {
  readonly token: string;
  /** The render these changes apply to (its token). */
  readonly base: string;
  /** Every file under the source's path that changed since `base`, read from Git. */
  readonly changed: readonly ChangedFile[];
}

/**
 * A plain source rendered again without a checkout: its parse cache is `base`'s, and only the
 * changed files, read from Git objects, are parsed and sent (a delta, as from renderSource).
 * Only for a source that `base` rendered as plain files and that nothing in the changes turns
 * into another kind. Undefined, having sent nothing, when the parser no longer holds `base`:
 * render from a checkout then.
 */
export async function renderChanges(
  request: ChangesRenderRequest,
): Promise<RenderOutcome | undefined> {
  const { source } = request;
  const outcome = await request.parser.run(
    {
      kind: 'changes',
      ...fileSelection(request),
      token: request.token,
      base: request.base,
      changed: request.changed,
    },
    desiredOnly(source, request.onDocuments),
    request.limits.timeoutMs,
  );
  if (!outcome.ok) {
    if (outcome.stale === true) return undefined;
    throw manifestFailure(source.name, outcome.problems);
  }
  request.onNotes?.(outcome.notes);
  return filesOutcome(outcome);
}

/** How a plain source's files are picked, limited, persisted and cached in the parse worker. */
function fileSelection(request: Omit<RenderRequest, 'checkout' | 'workDir'>) {
  const { source, limits } = request;
  return {
    directory: source.path,
    include: source.include,
    exclude: source.exclude,
    maxFileBytes: limits.maxFileBytes,
    maxFiles: limits.maxFiles,
    argocd: source.argocd ?? null,
    persist: request.persist,
    cache: source.name,
  };
}

function filesOutcome(outcome: Extract<ParseOutcome, { ok: true }>): RenderOutcome {
  return {
    ...outcome.files,
    ...(outcome.delta === null ? {} : { delta: outcome.delta }),
    ...(outcome.copied === 0 ? {} : { copied: outcome.copied }),
  };
}

/** Objects Flux never applies or corrects are not Flux's desired state (see isLeftAloneByFlux). */
function desiredOnly(
  source: SourceConfig,
  onDocuments: (documents: readonly RenderedDocument[]) => void,
): (documents: readonly RenderedDocument[]) => void {
  if (source.fluxAnnotations !== true) return onDocuments;
  return (documents) => {
    onDocuments(documents.filter((document) => !isLeftAloneByFlux(document)));
  };
}

/** A render's documents by manifest file, each file's in the order the render gave them. */
export type DocumentsByFile = ReadonlyMap<string, readonly RenderedDocument[]>;

/**
 * A render's documents, file after file in the map's order, read from the map itself: a commit
 * that changes one file of 20,000 copies the map, not 100,000 documents into a new list.
 */
export class DocumentsOfFiles implements DocumentLists {
  constructor(
    readonly byFile: DocumentsByFile,
    readonly length: number,
  ) {}

  lists(): Iterable<readonly RenderedDocument[]> {
    return this.byFile.values();
  }

  *[Symbol.iterator](): Iterator<RenderedDocument> {
    for (const own of this.byFile.values()) yield* own;
  }
}

/** `documents` by file, in slices (see Slices). */
export async function documentsByFile(
  documents: Iterable<RenderedDocument>,
  slices = new Slices(),
): Promise<Map<string, RenderedDocument[]>> {
  const byFile = new Map<string, RenderedDocument[]>();
  for (const document of documents) {
    const list = byFile.get(document.file);
    if (list === undefined) byFile.set(document.file, [document]);
    else list.push(document);
    if (slices.due()) await slices.pause();
  }
  return byFile;
}

/** A render taken as a delta of another, applied (see applyDeltaByFile). */
export interface AppliedDelta {
  /** Equal to the documents a full render would have sent, in its order. */
  readonly documents: DocumentsOfFiles;
  /** The base's documents of the files read again or gone: no longer in the render. */
  readonly replaced: readonly RenderedDocument[];
}

/**
 * The documents of a render that sent a delta: for each manifest file in order, the documents
 * just sent when it was read again, else those the base (the render the delta was taken from)
 * holds for it. The documents of unchanged files stay the same objects, and are not copied into
 * a list (see DocumentsOfFiles). In slices (see Slices): reviews wait for none of 20,000 files.
 */
export async function applyDeltaByFile(
  base: DocumentsByFile,
  sent: readonly RenderedDocument[],
  delta: RenderDelta,
  slices = new Slices(),
): Promise<AppliedDelta> {
  const reread = new Set(delta.reread);
  const fresh = await documentsByFile(sent, slices);
  const byFile = new Map<string, readonly RenderedDocument[]>();
  let count = 0;
  // How many of the base's files the render still lists: all of them (the common commit, which
  // edits files), and no file is gone.
  let kept = 0;
  for (const file of delta.files) {
    const read = reread.has(file);
    const own = read ? fresh.get(file) : base.get(file);
    if (read ? base.has(file) : own !== undefined) kept += 1;
    if (own !== undefined) {
      byFile.set(file, own);
      count += own.length;
    }
    if (slices.due()) await slices.pause();
  }
  // Files read again, and files that are gone.
  const replaced: RenderedDocument[] = [];
  if (kept === base.size) {
    for (const file of reread) for (const document of base.get(file) ?? []) replaced.push(document);
  } else {
    for (const [file, own] of base) {
      if (reread.has(file) || !byFile.has(file)) for (const d of own) replaced.push(d);
      if (slices.due()) await slices.pause();
    }
  }
  return { documents: new DocumentsOfFiles(byFile, count), replaced };
}

/** applyDeltaByFile on the base's documents as a list: the documents a full render would send. */
export async function applyDelta(
  base: readonly RenderedDocument[],
  sent: readonly RenderedDocument[],
  delta: RenderDelta,
  slices = new Slices(),
): Promise<RenderedDocument[]> {
  return [
    ...(await applyDeltaByFile(await documentsByFile(base, slices), sent, delta, slices)).documents,
  ];
}

/** The names kustomize looks for in a directory, in its order. */
export const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];

/**
 * What renders the source. `auto` decides by the files at the path as Argo CD does: a chart
 * (when the source has Helm options: Flux sources have none), then a kustomization, else plain
 * manifests.
 */
export function renderKindAt(
  source: SourceConfig,
  directory: string,
): Exclude<SourceConfig['render'], 'auto'> {
  if (source.render !== 'auto') return source.render;
  if (source.helm !== undefined && existsSync(join(directory, 'Chart.yaml'))) return 'helm';
  if (KUSTOMIZATION_FILES.some((file) => existsSync(join(directory, file)))) return 'kustomize';
  return 'plain';
}

function needBinary(binary: string, source: string, why: string): void {
  if (!onPath(binary, process.env['PATH'] ?? '')) {
    throw new DriftgateError(
      errorCodes.render,
      `source ${source}: ${why} needs the ${binary} binary on PATH, which is not installed`,
      { source },
    );
  }
}

/** `helm template` of the chart at the path, with the source's value files and values. */
async function renderHelm(
  request: RenderRequest,
  directory: string,
): Promise<{ output: string; label: string }> {
  const { source, checkout } = request;
  const helm = source.helm;
  if (helm === undefined) {
    throw new DriftgateError(errorCodes.render, `source ${source.name}: no Helm options`, {
      source: source.name,
    });
  }
  needBinary('helm', source.name, 'a Helm chart');
  const valueFiles: string[] = [];
  for (const file of helm.valueFiles) {
    // As in Argo CD: relative to the chart, or to the repository root when it starts with `/`.
    const wanted = file.startsWith('/') ? join(checkout, file) : join(directory, file);
    const shown = relative(checkout, wanted);
    let real: string;
    try {
      // Inside the checkout only: a value file may not read the pod's files.
      real = resolveInside(checkout, shown, shown);
    } catch (error) {
      if (helm.ignoreMissingValueFiles && !existsSync(wanted)) continue;
      throw new DriftgateError(
        errorCodes.unsafeSource,
        `source ${source.name}: value file ${shown} ${error instanceof ManifestError ? error.problem.message : 'is not usable'}`,
        { source: source.name, file: shown },
      );
    }
    valueFiles.push(real);
  }
  await mkdir(request.workDir, { recursive: true });
  const inline = helm.values === null ? null : join(request.workDir, `values-${randomUUID()}.yaml`);
  try {
    if (inline !== null && helm.values !== null)
      await writeFile(inline, helm.values, { mode: 0o600 });
    const argv = helmTemplateArgv(helm, valueFiles, inline);
    return {
      label: `output of helm template in ${source.path}`,
      output: await runRenderer(argv, directory, source.name, request.workDir, request.limits),
    };
  } finally {
    if (inline !== null) await rm(inline, { force: true });
  }
}

/**
 * Argo CD runs `kustomize edit` in its checkout before building; the checkout here is shared and
 * read-only, so the edits and the build run in a scratch copy of it (without .git).
 */
async function renderEditedKustomization(
  request: RenderRequest,
): Promise<{ output: string; label: string }> {
  const { source, checkout } = request;
  needBinary('kustomize', source.name, 'kustomize images, prefixes, replicas and namespaces');
  const copy = join(request.workDir, `kustomize-${randomUUID()}`);
  try {
    await mkdir(request.workDir, { recursive: true });
    await cp(checkout, copy, {
      recursive: true,
      verbatimSymlinks: true,
      filter: (from) => !from.split('/').includes('.git'),
    });
    const directory = join(copy, source.path);
    for (const argv of kustomizeEditArgvs(source.kustomize ?? emptyEdits)) {
      await runRenderer(argv, directory, source.name, request.workDir, request.limits);
    }
    return {
      label: `output of kustomize build in ${source.path}`,
      output: await runRenderer(
        ['kustomize', 'build', '.'],
        directory,
        source.name,
        request.workDir,
        request.limits,
      ),
    };
  } finally {
    await rm(copy, { recursive: true, force: true });
  }
}

const emptyEdits = {
  images: [],
  namePrefix: null,
  nameSuffix: null,
  namespace: null,
  replicas: [],
};

/** The plain manifests as one YAML stream, for substitution before parsing. */
async function readManifests(request: RenderRequest): Promise<{ output: string; label: string }> {
  const { source, checkout, limits } = request;
  const files = listManifestFiles({
    root: checkout,
    directory: source.path,
    include: source.include,
    exclude: source.exclude,
  });
  if (files.length > limits.maxFiles) {
    throw new DriftgateError(
      errorCodes.renderOutputLimit,
      `source ${source.name}: more than ${limits.maxFiles} manifest files`,
      { source: source.name },
    );
  }
  const parts: string[] = [];
  let bytes = 0;
  for (const file of files) {
    const content = await readFile(file.real, 'utf8');
    bytes += content.length;
    if (content.length > limits.maxFileBytes || bytes > limits.maxOutputBytes) {
      throw new DriftgateError(
        errorCodes.renderOutputLimit,
        `source ${source.name}: ${file.file} is over the size limit`,
        { source: source.name, file: file.file },
      );
    }
    // JSON manifests are YAML too; each file starts a new document.
    parts.push(`---\n${content}\n`);
  }
  return {
    output: parts.join(''),
    label: `manifests in ${source.path} after postBuild substitution`,
  };
}

function manifestFailure(
  source: string,
  problems: readonly { file: string; line: number; message: string }[],
): DriftgateError {
  const [first] = problems;
  const lines = problems.map((problem) =>
    problem.line > 0
      ? `${problem.file}:${problem.line}: ${problem.message}`
      : `${problem.file}: ${problem.message}`,
  );
  return new DriftgateError(errorCodes.manifest, `source ${source}: ${lines.join('; ')}`, {
    source,
    ...(first === undefined ? {} : { file: first.file, line: first.line }),
  });
}

function onPath(binary: string, path: string): boolean {
  return path.split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, binary)));
}

/** `kustomize build` when kustomize is installed, else the copy built into kubectl. */
export function kustomizeCommand(path = process.env['PATH'] ?? ''): string[] {
  if (onPath('kustomize', path)) return ['kustomize', 'build'];
  if (onPath('kubectl', path)) return ['kubectl', 'kustomize'];
  throw new DriftgateError(
    errorCodes.render,
    'render: kustomize needs the kustomize or kubectl binary on PATH',
  );
}

/**
 * The whole environment a renderer sees. No service-account token, TLS key, cloud or Git
 * credential variables: a kustomize remote base or Helm plugin from Git runs with only these.
 * Files the process can read are the pod's concern (mount nothing secret where renderers run).
 */
export function rendererEnvironment(workDir: string): Record<string, string> {
  return {
    PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: workDir,
    TMPDIR: workDir,
    LANG: 'C.UTF-8',
    // kustomize runs exec and container plugins only when asked; point its plugin home at
    // nothing so a plugin cannot be picked up from a shared directory either.
    KUSTOMIZE_PLUGIN_HOME: join(workDir, 'no-plugins'),
    XDG_CONFIG_HOME: join(workDir, 'config'),
    XDG_CACHE_HOME: join(workDir, 'cache'),
    XDG_DATA_HOME: join(workDir, 'data'),
    HELM_PLUGINS: join(workDir, 'no-plugins'),
  };
}

/** Runs `argv` in `cwd`; stdout as text, or a DriftgateError (exit code, timeout, size). */
export async function runRenderer(
  argv: readonly string[],
  cwd: string,
  source: string,
  workDir: string,
  limits: Pick<RenderLimits, 'timeoutMs' | 'maxOutputBytes'>,
): Promise<string> {
  const [program, ...args] = argv;
  if (program === undefined) {
    throw new DriftgateError(errorCodes.render, `source ${source}: empty render command`, {
      source,
    });
  }
  await mkdir(workDir, { recursive: true });
  const shown = argv.join(' ');
  return new Promise((resolve, reject) => {
    // Its own process group, so a timeout also ends whatever the renderer started.
    const child = spawn(program, args, {
      cwd,
      env: rendererEnvironment(workDir),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = '';
    let failure: DriftgateError | undefined;
    const kill = (reason: DriftgateError): void => {
      failure ??= reason;
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }
    };
    const timer = setTimeout(() => {
      kill(
        new DriftgateError(
          errorCodes.renderTimeout,
          `source ${source}: ${shown} did not finish within ${limits.timeoutMs} ms and was stopped`,
          { source },
        ),
      );
    }, limits.timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > limits.maxOutputBytes) {
        kill(
          new DriftgateError(
            errorCodes.renderOutputLimit,
            `source ${source}: ${shown} printed more than ${limits.maxOutputBytes} bytes`,
            { source },
          ),
        );
        return;
      }
      stdout.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      // Keep the end: that is where tools print the error.
      stderr = (stderr + chunk.toString('utf8')).slice(-4000);
    });
    child.on('error', (error) => {
      kill(
        new DriftgateError(
          errorCodes.render,
          `source ${source}: cannot run ${program}: ${error.message}`,
          { source },
        ),
      );
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (failure !== undefined) {
        reject(failure);
        return;
      }
      if (code !== 0) {
        const detail = stderr.trim().split('\n').slice(-5).join('; ');
        reject(
          new DriftgateError(
            errorCodes.render,
            `source ${source}: ${shown} failed (${signal ?? `exit ${code}`}): ${detail}`,
            { source },
          ),
        );
        return;
      }
      resolve(Buffer.concat(stdout).toString('utf8'));
    });
  });
}
