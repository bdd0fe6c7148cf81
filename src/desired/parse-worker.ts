// Worker thread that reads, parses and persists manifests, so a large repository never stalls
// the event loop that answers admission reviews. Results stream back in small chunks.
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import type * as GlobModule from './argocd-glob.js';
import type * as ParserModule from './manifest-parser.js';
import type { ManifestProblem, RenderedDocument } from './manifest-parser.js';
import type {
  ChangedFile,
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
  readonly notes: readonly string[];
  /** How many documents the file declares. */
  readonly count: number;
  /**
   * The documents, until the persisted snapshot the parse wrote holds them: from then on they
   * are read back from its bytes when a render sends them, rather than held here as well as on
   * the main thread for as long as the worker lives (BENCHMARKS.md). Where the snapshot no
   * longer holds them, the file is parsed again.
   */
  documents: readonly RenderedDocument[] | undefined;
}
interface ParseCache {
  /** The task's token: what the parse reflected (source config and commit). */
  readonly token: string | null;
  readonly files: ReadonlyMap<string, ParsedFile>;
  /** The snapshot file the parse wrote, if any. */
  persisted?: PersistedSnapshot | undefined;
}
const parseCaches = new Map<string, ParseCache>();

/** Where one manifest file's documents lie in a persisted snapshot: bytes [start, end). */
interface PersistedRange {
  /** The parse the bytes were written from: only the same parse may reuse them. */
  readonly parsed: ParsedFile;
  readonly start: number;
  readonly end: number;
}

/**
 * A snapshot file this worker wrote, as it was when written: a later render copies the bytes of
 * its unchanged files from it, if the file at `served` is still that one (same inode, size and
 * modification time). Anything else (missing, replaced, held back and never served) is not used.
 */
interface PersistedSnapshot {
  readonly served: string;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ranges: ReadonlyMap<string, PersistedRange>;
}

/** The persisted snapshot `served` still is, opened for reading; undefined when it is not. */
function openPersisted(
  previous: PersistedSnapshot | undefined,
  served: string | undefined,
): { readonly fd: number; readonly ranges: ReadonlyMap<string, PersistedRange> } | undefined {
  if (previous === undefined || served === undefined || previous.served !== served) return;
  let fd: number | undefined;
  try {
    fd = openSync(served, 'r');
    const stat = fstatSync(fd);
    if (
      stat.ino === previous.ino &&
      stat.size === previous.size &&
      stat.mtimeMs === previous.mtimeMs
    ) {
      return { fd, ranges: previous.ranges };
    }
  } catch {
    // Missing or unreadable: written whole.
  }
  if (fd !== undefined) closeSync(fd);
  return undefined;
}

// Written in pieces of about this many characters: one write per document would be 100,000
// system calls for a large repository.
const WRITE_CHARS = 1 << 20;
const COPY_BYTES = 1 << 20;

/**
 * Writes the persisted snapshot document by document as parsing goes, so the worker never holds
 * a whole repository as one string. temp file + rename: a restart sees the old file or the new
 * one, never half of one. The documents of a file unchanged since the last snapshot written
 * (and served) are copied from it byte for byte.
 */
class SnapshotWriter {
  private readonly request: PersistRequest;
  private readonly temp: string;
  private readonly fd: number;
  private readonly previous:
    { readonly fd: number; readonly ranges: ReadonlyMap<string, PersistedRange> } | undefined;
  private first = true;
  private text: string[] = [];
  private textChars = 0;
  /** Bytes of the new file so far, written or waiting in `text` or `copy`. */
  private position = 0;
  /** Bytes of the previous file still to copy: adjacent files' ranges are copied in one go. */
  private copy: { start: number; end: number } | undefined;
  private fileStart: number | undefined;
  private readonly ranges = new Map<string, PersistedRange>();
  /** How many files' bytes were copied. */
  copied = 0;

  // No parameter properties: Node's type stripping loads this file as it is.
  constructor(request: PersistRequest, previous: PersistedSnapshot | undefined) {
    this.request = request;
    mkdirSync(dirname(request.file), { recursive: true });
    this.temp = `${request.file}.${randomBytes(6).toString('hex')}.tmp`;
    this.fd = openSync(this.temp, 'w', 0o600);
    this.previous = openPersisted(previous, request.served);
    this.write(
      `{"format":${JSON.stringify(SNAPSHOT_FORMAT)},"header":${JSON.stringify(request.header)},"documents":[`,
    );
  }

  add(document: RenderedDocument): void {
    if (!this.first) this.write(',');
    this.first = false;
    this.fileStart ??= this.position;
    this.write(JSON.stringify(document));
  }

  /** Ends a manifest file's documents: a later snapshot may copy them if `parsed` is unchanged. */
  endFile(file: string, parsed: ParsedFile): void {
    if (this.fileStart !== undefined) {
      this.ranges.set(file, { parsed, start: this.fileStart, end: this.position });
    }
    this.fileStart = undefined;
  }

  /** Where the previous snapshot holds a file's documents from `parsed`, if it does. */
  private heldRange(file: string, parsed: ParsedFile): PersistedRange | undefined {
    const range = this.previous?.ranges.get(file);
    return range?.parsed === parsed ? range : undefined;
  }

  /** A file's documents read back from the previous snapshot; undefined if it lacks them. */
  documentsOf(file: string, parsed: ParsedFile): RenderedDocument[] | undefined {
    const range = this.heldRange(file, parsed);
    if (this.previous === undefined || range === undefined) return undefined;
    const bytes = Buffer.allocUnsafe(range.end - range.start);
    for (let at = 0; at < bytes.length;) {
      const read = readSync(this.previous.fd, bytes, at, bytes.length - at, range.start + at);
      if (read === 0) return undefined;
      at += read;
    }
    // A file's documents lie side by side, separated by commas, as in the snapshot's list.
    return JSON.parse(`[${bytes.toString('utf8')}]`) as RenderedDocument[];
  }

  /** Whether the previous snapshot holds a file's documents from `parsed`. */
  holds(file: string, parsed: ParsedFile): boolean {
    return this.heldRange(file, parsed) !== undefined;
  }

  /** Copies a file's documents from the previous snapshot; false when it does not hold them. */
  copyFile(file: string, parsed: ParsedFile): boolean {
    const range = this.heldRange(file, parsed);
    if (range === undefined) return false;
    const adjacent = this.copy !== undefined && range.start === this.copy.end + 1;
    if (!this.first) {
      // Between adjacent ranges the previous file holds the same comma.
      if (adjacent) this.position += 1;
      else this.write(',');
    }
    this.first = false;
    if (adjacent && this.copy !== undefined) this.copy.end = range.end;
    else {
      this.flushText();
      this.copy = { start: range.start, end: range.end };
    }
    this.ranges.set(file, {
      parsed,
      start: this.position,
      end: this.position + range.end - range.start,
    });
    this.position += range.end - range.start;
    this.copied += 1;
    return true;
  }

  /** Writes the file in place; what a later render needs to copy from it. */
  commit(): PersistedSnapshot | undefined {
    this.write(']}');
    this.flushText();
    this.closePrevious();
    closeSync(this.fd);
    renameSync(this.temp, this.request.file);
    if (this.request.served === undefined) return undefined;
    const stat = statSync(this.request.file);
    return {
      served: this.request.served,
      ino: stat.ino,
      size: stat.size,
      mtimeMs: stat.mtimeMs,
      ranges: this.ranges,
    };
  }

  abandon(): void {
    this.closePrevious();
    closeSync(this.fd);
    rmSync(this.temp, { force: true });
  }

  private write(text: string): void {
    this.flushCopy();
    this.text.push(text);
    this.textChars += text.length;
    this.position += Buffer.byteLength(text);
    if (this.textChars >= WRITE_CHARS) this.flushText();
  }

  private flushText(): void {
    if (this.text.length === 0) return;
    this.writeAll(Buffer.from(this.text.join('')));
    this.text = [];
    this.textChars = 0;
  }

  private flushCopy(): void {
    const copy = this.copy;
    if (copy === undefined || this.previous === undefined) return;
    this.copy = undefined;
    const buffer = Buffer.allocUnsafe(Math.min(COPY_BYTES, copy.end - copy.start));
    for (let at = copy.start; at < copy.end;) {
      const read = readSync(
        this.previous.fd,
        buffer,
        0,
        Math.min(buffer.length, copy.end - at),
        at,
      );
      if (read === 0) throw new Error('the previous persisted snapshot ended early');
      this.writeAll(buffer.subarray(0, read));
      at += read;
    }
  }

  /** A write may take only part of what it is given (a full disk): the rest fails or follows. */
  private writeAll(bytes: Buffer): void {
    for (let at = 0; at < bytes.length;) at += writeSync(this.fd, bytes, at, bytes.length - at);
  }

  private closePrevious(): void {
    if (this.previous !== undefined) closeSync(this.previous.fd);
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

/**
 * The manifest files of a `changes` task: the cached parse's listing with the changed files
 * dropped or put in their place. They are read from the task, not from disk: no real path.
 */
function listedAfterChanges(
  task: Extract<ParseTask, { kind: 'changes' }>,
  before: readonly string[],
  fromGit: ReadonlyMap<string, ChangedFile>,
): ParserModule.ManifestFile[] {
  const present = new Map([...fromGit].map(([path, file]) => [path, file.state !== 'gone']));
  return parser
    .listingAfterChanges(before, present, { ...task, root: '', argoGlobMatch: glob.argoGlobMatch })
    .map((file) => ({ file, real: '' }));
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
  // A file reads differently under Argo CD's rules: each set of rules has its own cache.
  const cache =
    (task.kind !== 'files' && task.kind !== 'changes') || task.cache === null
      ? null
      : `${task.cache}|${task.argocd === null ? 'kubectl' : 'argocd'}`;
  const previous = cache === null ? undefined : parseCaches.get(cache);
  if (task.kind === 'changes' && previous?.token !== task.base) {
    post({ type: 'stale' });
    return;
  }
  const writer =
    task.kind !== 'restore' && task.persist !== null
      ? new SnapshotWriter(task.persist, previous?.persisted)
      : null;
  // send false: persisted and counted, not sent (the main thread holds it from the last render).
  // write false: already in the snapshot file, copied from the previous one.
  const emit = (document: RenderedDocument, send = true, write = true): void => {
    count += 1;
    if (write) writer?.add(document);
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
      post({
        type: 'done',
        header: parsed.header ?? null,
        count,
        files,
        notes,
        delta,
        copied: 0,
      });
      return;
    }
    if (task.kind === 'files' || task.kind === 'changes') {
      let manifests: readonly ParserModule.ManifestFile[] = [];
      // Only when the cache is the parse the main thread's render came from are the files
      // Git left unchanged neither read nor sent.
      let changed: ReadonlySet<string> | undefined;
      let read: (file: ParserModule.ManifestFile) => Buffer;
      if (task.kind === 'files') {
        try {
          manifests = parser.listManifestFiles({ ...task, argoGlobMatch: glob.argoGlobMatch });
        } catch (error) {
          problems.push(problemOf(error, task.directory));
        }
        changed =
          task.delta !== null && previous !== undefined && previous.token === task.delta.base
            ? new Set(task.delta.changed)
            : undefined;
        read = (file) => parser.readManifestFile(file, task.maxFileBytes);
      } else {
        const fromGit = new Map(task.changed.map((file) => [file.path, file]));
        manifests = listedAfterChanges(task, [...(previous?.files.keys() ?? [])], fromGit);
        changed = new Set(fromGit.keys());
        read = (file) => {
          const found = fromGit.get(file.file);
          // A Buffer crosses to a worker as a plain Uint8Array: viewed as one again, not copied.
          if (found?.state === 'present') {
            const { buffer, byteOffset, byteLength } = found.content;
            return Buffer.from(buffer, byteOffset, byteLength);
          }
          throw new parser.ManifestError({
            file: file.file,
            line: 0,
            message:
              found?.state === 'too large'
                ? `is larger than ${task.maxFileBytes} bytes`
                : 'is not a regular file',
          });
        };
      }
      if (manifests.length > task.maxFiles) {
        problems.push({
          file: task.directory,
          line: 0,
          message: `holds ${manifests.length} manifest files, more than the limit of ${task.maxFiles}`,
        });
      }
      // A file Git left unchanged is neither read nor sent: its bytes are copied from the last
      // snapshot, or its documents written from memory. Where neither is there (the snapshot
      // was replaced), a checkout's file is read again; a commit read from Git has no file to
      // read, and is rendered from a checkout instead, before anything is sent.
      const unavailable = (path: string, known: ParsedFile): boolean =>
        known.documents === undefined && writer?.holds(path, known) !== true;
      if (task.kind === 'changes' && changed !== undefined && previous !== undefined) {
        for (const [path, known] of previous.files) {
          if (!changed.has(path) && unavailable(path, known)) {
            writer?.abandon();
            post({ type: 'stale' });
            return;
          }
        }
      }
      const reread: string[] = [];
      const next = new Map<string, ParsedFile>();
      let parsed = 0;
      for (const file of manifests) {
        if (problems.length > 0 && problems.length >= MAX_PROBLEMS) break;
        try {
          const known = previous?.files.get(file.file);
          if (
            changed !== undefined &&
            known !== undefined &&
            !changed.has(file.file) &&
            !unavailable(file.file, known)
          ) {
            next.set(file.file, known);
            // One of the two is there: the file is not unavailable.
            if (writer?.copyFile(file.file, known) === true) count += known.count;
            else if (known.documents !== undefined) {
              for (const document of known.documents) emit(document, false);
              writer?.endFile(file.file, known);
            }
            notes.push(...known.notes);
            continue;
          }
          const content = read(file);
          const sha256 = createHash('sha256').update(content).digest('hex');
          let parsedFile = known?.sha256 === sha256 ? known : undefined;
          let documents =
            parsedFile === undefined
              ? undefined
              : (parsedFile.documents ?? writer?.documentsOf(file.file, parsedFile));
          if (parsedFile === undefined || documents === undefined) {
            parsed += 1;
            const fresh = parseFile(task.argocd !== null, content, file.file);
            documents = fresh.documents;
            parsedFile = { sha256, notes: fresh.notes, count: documents.length, documents };
          }
          if (cache !== null) next.set(file.file, parsedFile);
          reread.push(file.file);
          const copied = writer?.copyFile(file.file, parsedFile) === true;
          for (const document of documents) emit(document, true, !copied);
          if (!copied) writer?.endFile(file.file, parsedFile);
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
    const persisted = writer?.commit();
    // The cache set above is this parse's: the next render may copy from what it wrote, and
    // read back from it the documents it no longer holds.
    const current = cache === null ? undefined : parseCaches.get(cache);
    if (current !== undefined && current !== previous && persisted !== undefined) {
      current.persisted = persisted;
      for (const range of persisted.ranges.values()) range.parsed.documents = undefined;
    }
    post({
      type: 'done',
      header: null,
      count,
      files,
      notes,
      delta,
      copied: writer?.copied ?? 0,
    });
  } catch (error) {
    writer?.abandon();
    // What failed may be the copy from the previous snapshot: the next render writes it whole.
    if (previous !== undefined) previous.persisted = undefined;
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

/**
 * A task that left little behind (a commit's few files) is followed by the collection only once
 * the worker has been idle for COLLECT_AFTER_MS: collected at once, it ran while the main thread
 * took in the render just sent, and on a small pod took the CPU from it (a one-file commit at
 * 100,000 objects was decided some 100 ms later). A task that left much behind (a render of
 * many files) is collected at once, before the main thread's own peak of taking it in.
 */
const COLLECT_AFTER_MS = 1_000;
const COLLECT_AT_ONCE_BYTES = 16 * 1024 * 1024;
let collecting: NodeJS.Timeout | undefined;

parentPort?.on('message', (request: { id: number; task: ParseTask }) => {
  clearTimeout(collecting);
  Atomics.store(inFlight, 0, 0);
  const before = getHeapStatistics();
  run(request.id, request.task);
  const after = getHeapStatistics();
  // Grown either way: collections during the task may have kept what is used down, not the heap.
  const grown = Math.max(
    after.used_heap_size - before.used_heap_size,
    after.total_heap_size - before.total_heap_size,
  );
  if (grown > COLLECT_AT_ONCE_BYTES) collectGarbage();
  else {
    collecting = setTimeout(collectGarbage, COLLECT_AFTER_MS);
    // Not what keeps the worker alive: the pool ends it with terminate().
    collecting.unref();
  }
});
