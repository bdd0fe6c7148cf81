// Worker thread that reads, parses and persists manifests, so a large repository never stalls
// the event loop that answers admission reviews. Results stream back in small chunks.
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import type * as GlobModule from './argocd-glob.js';
import type * as ParserModule from './manifest-parser.js';
import type { ManifestProblem, RenderedDocument } from './manifest-parser.js';
import type {
  FileCounts,
  ParseTask,
  PersistRequest,
  RenderDelta,
  WorkerMessage,
} from './parse-task.js';

// Under a TypeScript runner the sibling module is a .ts file; once built it is .js. The worker is
// started by Node itself, so it picks the one that exists next to it.
const parser = (await import(
  new URL(
    import.meta.url.endsWith('.ts') ? './manifest-parser.ts' : './manifest-parser.js',
    import.meta.url,
  ).href
)) as typeof ParserModule;
const glob = (await import(
  new URL(
    import.meta.url.endsWith('.ts') ? './argocd-glob.ts' : './argocd-glob.js',
    import.meta.url,
  ).href
)) as typeof GlobModule;

// Small enough that deserialising one chunk on the main thread takes a few milliseconds.
const CHUNK_DOCUMENTS = 100;
// Chunks posted but not yet handled by the main thread. Node hands every queued message to the
// main thread in one go, so without this window a fast worker would pile up chunks that are then
// deserialised back to back in one long pause; it also bounds memory held in the queue.
const WINDOW = 2;
const inFlight = new Int32Array((workerData as { inFlight: SharedArrayBuffer }).inFlight);
const MAX_PROBLEMS = 20;
const SNAPSHOT_FORMAT = 'driftgate.snapshot/v1';

/**
 * The documents of each file of a task's last successful parse, by repository path, with the
 * SHA-256 of the bytes they were parsed from. A commit that changes one file of 10,000 then
 * costs one YAML parse, not 10,000: reading and hashing a file is far cheaper than parsing it.
 * Each new parse replaces its task's cache whole, so it holds one render's documents at most.
 */
interface ParsedFile {
  readonly sha256: string;
  readonly documents: readonly RenderedDocument[];
  readonly notes: readonly string[];
}
interface ParseCache {
  /** The task's token: what the parse reflected (source config and commit). */
  readonly token: string | null;
  readonly files: ReadonlyMap<string, ParsedFile>;
}
const parseCaches = new Map<string, ParseCache>();

/**
 * Writes the persisted snapshot document by document as parsing goes, so the worker never holds
 * a whole repository as one string. temp file + rename: a restart sees the old file or the new
 * one, never half of one.
 */
class SnapshotWriter {
  private readonly request: PersistRequest;
  private readonly temp: string;
  private readonly fd: number;
  private first = true;

  // No parameter properties: Node's type stripping loads this file as it is.
  constructor(request: PersistRequest) {
    this.request = request;
    mkdirSync(dirname(request.file), { recursive: true });
    this.temp = `${request.file}.${randomBytes(6).toString('hex')}.tmp`;
    this.fd = openSync(this.temp, 'w', 0o600);
    writeSync(
      this.fd,
      `{"format":${JSON.stringify(SNAPSHOT_FORMAT)},"header":${JSON.stringify(request.header)},"documents":[`,
    );
  }

  add(document: RenderedDocument): void {
    writeSync(this.fd, `${this.first ? '' : ','}${JSON.stringify(document)}`);
    this.first = false;
  }

  commit(): void {
    writeSync(this.fd, ']}');
    closeSync(this.fd);
    renameSync(this.temp, this.request.file);
  }

  abandon(): void {
    closeSync(this.fd);
    rmSync(this.temp, { force: true });
  }
}

function problemOf(error: unknown, file: string): ManifestProblem {
  if (error instanceof parser.ManifestError) return error.problem;
  return { file, line: 0, message: error instanceof Error ? error.message : String(error) };
}

/**
 * One manifest file's objects. Under Argo CD's rules (argocd): a file with Argo CD's skip marker
 * is left out, a Jsonnet file is noted as not evaluated (no Jsonnet evaluator here), and YAML and
 * JSON are read as its repo server reads them.
 */
function parseFile(
  argocd: boolean,
  content: Buffer,
  file: string,
): { documents: readonly RenderedDocument[]; notes: readonly string[] } {
  const text = content.toString('utf8');
  if (!argocd) {
    return {
      documents: parser.parseManifests(text, file).map((document) => parser.toRendered(document)),
      notes: [],
    };
  }
  if (text.includes(parser.ARGOCD_SKIP_MARKER)) return { documents: [], notes: [] };
  if (file.endsWith('.jsonnet')) {
    return {
      documents: [],
      notes: [`${file}: Jsonnet is not evaluated; its objects are not judged`],
    };
  }
  const parsed = parser.parseArgoCDFile(text, file);
  return {
    documents: parsed.documents.map((document) => parser.toRendered(document)),
    notes: parsed.notes,
  };
}

function run(id: number, task: ParseTask): void {
  const post = (message: WorkerMessage): void => {
    parentPort?.postMessage({ id, message });
  };
  let chunk: RenderedDocument[] = [];
  let count = 0;
  let files: FileCounts = { parsed: 0, reused: 0 };
  const problems: ManifestProblem[] = [];
  const notes: string[] = [];
  const flush = (): void => {
    if (chunk.length > 0 && problems.length === 0) {
      // Bounded wait: should the main thread stop reading, parsing goes on rather than hangs.
      for (let tries = 0; tries < 100 && Atomics.load(inFlight, 0) >= WINDOW; tries++) {
        Atomics.wait(inFlight, 0, Atomics.load(inFlight, 0), 100);
      }
      Atomics.add(inFlight, 0, 1);
      post({ type: 'documents', documents: chunk });
    }
    chunk = [];
  };
  const writer =
    task.kind !== 'restore' && task.persist !== null ? new SnapshotWriter(task.persist) : null;
  // send false: persisted and counted, not sent (the main thread holds it from the last render).
  const emit = (document: RenderedDocument, send = true): void => {
    count += 1;
    writer?.add(document);
    if (!send) return;
    chunk.push(document);
    if (chunk.length >= CHUNK_DOCUMENTS) flush();
  };
  let delta: RenderDelta | null = null;

  try {
    if (task.kind === 'restore') {
      const parsed = JSON.parse(readFileSync(task.file, 'utf8')) as {
        format?: unknown;
        header?: unknown;
        documents?: unknown;
      };
      if (parsed.format !== SNAPSHOT_FORMAT || !Array.isArray(parsed.documents)) {
        post({
          type: 'failed',
          problems: [{ file: task.file, line: 0, message: 'unknown format' }],
        });
        return;
      }
      for (const document of parsed.documents as RenderedDocument[]) emit(document);
      flush();
      post({ type: 'done', header: parsed.header ?? null, count, files, notes, delta });
      return;
    }
    if (task.kind === 'files') {
      let manifests: ParserModule.ManifestFile[] = [];
      try {
        manifests = parser.listManifestFiles({ ...task, argoGlobMatch: glob.argoGlobMatch });
      } catch (error) {
        problems.push(problemOf(error, task.directory));
      }
      if (manifests.length > task.maxFiles) {
        problems.push({
          file: task.directory,
          line: 0,
          message: `holds ${manifests.length} manifest files, more than the limit of ${task.maxFiles}`,
        });
      }
      // A file reads differently under Argo CD's rules: each set of rules has its own cache.
      const cache =
        task.cache === null ? null : `${task.cache}|${task.argocd === null ? 'kubectl' : 'argocd'}`;
      const previous = cache === null ? undefined : parseCaches.get(cache);
      // Only when the cache is the parse the main thread's render came from are the files
      // Git left unchanged neither read nor sent.
      const changed =
        task.delta !== null && previous !== undefined && previous.token === task.delta.base
          ? new Set(task.delta.changed)
          : undefined;
      const reread: string[] = [];
      const next = new Map<string, ParsedFile>();
      let parsed = 0;
      for (const file of manifests) {
        if (problems.length > 0 && problems.length >= MAX_PROBLEMS) break;
        try {
          const known = previous?.files.get(file.file);
          if (changed !== undefined && known !== undefined && !changed.has(file.file)) {
            next.set(file.file, known);
            for (const document of known.documents) emit(document, false);
            notes.push(...known.notes);
            continue;
          }
          const content = parser.readManifestFile(file, task.maxFileBytes);
          const sha256 = createHash('sha256').update(content).digest('hex');
          let parsedFile: ParsedFile;
          if (known?.sha256 === sha256) parsedFile = known;
          else {
            parsed += 1;
            parsedFile = { sha256, ...parseFile(task.argocd !== null, content, file.file) };
          }
          if (cache !== null) next.set(file.file, parsedFile);
          reread.push(file.file);
          for (const document of parsedFile.documents) emit(document);
          notes.push(...parsedFile.notes);
        } catch (error) {
          // Keep going: one render reports every broken file, up to MAX_PROBLEMS.
          problems.push(problemOf(error, file.file));
        }
      }
      files = { parsed, reused: manifests.length - parsed };
      if (changed !== undefined) delta = { files: manifests.map((file) => file.file), reread };
      // Only a parse that succeeded becomes the base of the next one.
      if (cache !== null && problems.length === 0) {
        parseCaches.set(cache, { token: task.token, files: next });
      }
    } else {
      try {
        if (task.argocd) {
          const output = parser.parseArgoCDOutput(task.text, task.label);
          for (const document of output.documents) emit(parser.toRendered(document));
          notes.push(...output.notes);
        } else {
          for (const document of parser.parseManifests(task.text, task.label)) {
            emit(parser.toRendered(document));
          }
        }
      } catch (error) {
        problems.push(problemOf(error, task.label));
      }
    }
    if (problems.length > 0) {
      writer?.abandon();
      post({ type: 'failed', problems });
      return;
    }
    flush();
    writer?.commit();
    post({ type: 'done', header: null, count, files, notes, delta });
  } catch (error) {
    writer?.abandon();
    const file = task.kind === 'restore' ? task.file : task.kind === 'text' ? task.label : '';
    post({ type: 'failed', problems: [problemOf(error, file)] });
  }
}

/**
 * A full collection of this thread's heap that also gives memory back. The worker sits idle
 * between renders, and an idle isolate is not collected: without this, what a render of 10,000
 * files left behind (the file texts, the parsers' intermediate objects, the previous cache)
 * stays resident until the next commit. V8's last-resort flavour compacts the heap and shrinks
 * the young generation, so the pages that garbage filled are released, not kept for reuse.
 * Collecting here costs the worker's time, never the event loop's.
 */
const collectGarbage = ((): (() => void) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as unknown;
  if (typeof gc !== 'function') return () => undefined;
  return () => {
    (gc as (options: object) => void)({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  };
})();

parentPort?.on('message', (request: { id: number; task: ParseTask }) => {
  Atomics.store(inFlight, 0, 0);
  run(request.id, request.task);
  collectGarbage();
});
