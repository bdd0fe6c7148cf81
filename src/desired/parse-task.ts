// Main-thread side of the parse worker: what a task asks for, and the pool that runs tasks in
// one long-lived worker, feeding streamed documents to a callback, with a time limit per task.
import { Worker } from 'node:worker_threads';
import type { ArgoCDRendering } from '../config/config.js';
import type { ManifestProblem, RenderedDocument } from './manifest-parser.js';

export interface PersistRequest {
  /** Snapshot file to write atomically when, and only when, parsing succeeded. */
  readonly file: string;
  readonly header: unknown;
  /**
   * Where the file is served from once it is (it is renamed there): the bytes of files unchanged
   * since the parse that wrote it are copied from it rather than serialised again.
   */
  readonly served?: string;
}

/** What a file changed into, read from Git at the new commit (see the `changes` task). */
export type ChangedFile =
  | { readonly path: string; readonly state: 'present'; readonly content: Uint8Array }
  /** Larger than the task's maxFileBytes: not read. */
  | { readonly path: string; readonly state: 'too large'; readonly bytes: number }
  /** Deleted, or no longer a regular file. */
  | { readonly path: string; readonly state: 'gone' };

/** How a `files` or `changes` task picks, limits, persists and caches the manifest files. */
interface FileSelection {
  readonly directory: string;
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  readonly maxFileBytes: number;
  readonly maxFiles: number;
  /** Read the directory as Argo CD does (see ManifestFileOptions.argocd). */
  readonly argocd: ArgoCDRendering | null;
  readonly persist: PersistRequest | null;
}

export type ParseTask =
  | (FileSelection & {
      readonly kind: 'files';
      readonly root: string;
      /**
       * Names a cache of this task's last parse (a source name): files whose path and content
       * are unchanged since then are not parsed again. null: parse everything, keep nothing.
       */
      readonly cache: string | null;
      /** What this parse reflects (source config and commit), recorded with its cache. */
      readonly token: string | null;
      /**
       * The files changed since the parse recorded as `base`: when the cache is that parse's,
       * only these files (and files new to the cache) are read, and only their documents are
       * sent (see RenderDelta). Otherwise, or when null, every file is read and sent.
       */
      readonly delta: { readonly base: string; readonly changed: readonly string[] } | null;
    })
  | (FileSelection & {
      /**
       * A delta of the cached parse `base` with no checkout at all: the manifest files are the
       * cache's plus and minus `changed`, and only the changed ones are read, from `changed`.
       * Every file under `directory` that Git says changed since `base` must be there. Ends
       * `stale`, having sent nothing, when the cache is not that parse's.
       */
      readonly kind: 'changes';
      readonly cache: string;
      readonly token: string;
      readonly base: string;
      readonly changed: readonly ChangedFile[];
    })
  | {
      readonly kind: 'text';
      readonly text: string;
      /** Names the output in errors: `output of kustomize build apps/shop`. */
      readonly label: string;
      /** Read the output as Argo CD does: hooks and objects named by generateName left out. */
      readonly argocd: boolean;
      readonly persist: PersistRequest | null;
    }
  | { readonly kind: 'restore'; readonly file: string };

export type WorkerMessage =
  | { readonly type: 'documents'; readonly documents: readonly RenderedDocument[] }
  | {
      readonly type: 'done';
      readonly header: unknown;
      readonly count: number;
      readonly files: FileCounts;
      readonly notes: readonly string[];
      readonly delta: RenderDelta | null;
      readonly copied: number;
    }
  | { readonly type: 'failed'; readonly problems: readonly ManifestProblem[] }
  | { readonly type: 'stale' };

/**
 * A parse that sent only the documents of the files it read again: the previous render's
 * documents of every other file still stand. `files` lists every manifest file in render order,
 * `reread` those whose documents were sent (a file there that sent none now declares nothing).
 */
export interface RenderDelta {
  readonly files: readonly string[];
  readonly reread: readonly string[];
}

/** Of the manifest files a task read: how many were parsed, how many came from its cache. */
export interface FileCounts {
  readonly parsed: number;
  readonly reused: number;
}

export type ParseOutcome =
  | {
      readonly ok: true;
      readonly header: unknown;
      readonly count: number;
      readonly files: FileCounts;
      /** What the render left out and could not judge (Argo CD sources): for discovery problems. */
      readonly notes: readonly string[];
      /** Set when only the changed files' documents were sent. */
      readonly delta: RenderDelta | null;
      /** Manifest files whose documents the persisted snapshot copied from the previous one. */
      readonly copied: number;
    }
  | {
      readonly ok: false;
      readonly problems: readonly ManifestProblem[];
      /** A `changes` task whose base is not the cached parse: nothing was sent. */
      readonly stale?: true;
    };

const workerURL = new URL(
  import.meta.url.endsWith('.ts') ? './parse-worker.ts' : './parse-worker.js',
  import.meta.url,
);

interface Job {
  readonly id: number;
  readonly task: ParseTask;
  readonly onDocuments: (documents: readonly RenderedDocument[]) => void;
  readonly timeoutMs: number;
  readonly resolve: (outcome: ParseOutcome) => void;
}

function labelOf(task: ParseTask): string {
  return task.kind === 'files' || task.kind === 'changes'
    ? task.directory
    : task.kind === 'text'
      ? task.label
      : task.file;
}

/**
 * One long-lived parse worker that runs tasks one after another. Long-lived on purpose: when a
 * worker thread exits, the main thread waits for it to free its heap, a pause of hundreds of
 * milliseconds after a large repository. The worker is only replaced after a timeout or crash,
 * and ends with close().
 */
export class ParseWorkerPool {
  private worker: Worker | undefined;
  private readonly queue: Job[] = [];
  private active: (Job & { timer: NodeJS.Timeout }) | undefined;
  private nextId = 1;
  private closed = false;

  run(
    task: ParseTask,
    onDocuments: (documents: readonly RenderedDocument[]) => void,
    timeoutMs: number,
  ): Promise<ParseOutcome> {
    if (this.closed) {
      return Promise.resolve({
        ok: false,
        problems: [{ file: labelOf(task), line: 0, message: 'driftgate is shutting down' }],
      });
    }
    return new Promise((resolve) => {
      this.queue.push({ id: this.nextId++, task, onDocuments, timeoutMs, resolve });
      this.startNext();
    });
  }

  /** Ends the worker; queued tasks settle as failed. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) {
      job.resolve({
        ok: false,
        problems: [{ file: labelOf(job.task), line: 0, message: 'driftgate is shutting down' }],
      });
    }
    this.finish({ ok: false, problems: [{ file: '', line: 0, message: 'shutting down' }] });
    const worker = this.worker;
    this.worker = undefined;
    if (worker !== undefined) await worker.terminate();
  }

  private startNext(): void {
    if (this.active !== undefined) return;
    const job = this.queue.shift();
    if (job === undefined) return;
    const timer = setTimeout(() => {
      this.discardWorker();
      this.finish({
        ok: false,
        problems: [
          {
            file: labelOf(job.task),
            line: 0,
            message: `parsing took longer than ${job.timeoutMs} ms`,
          },
        ],
      });
    }, job.timeoutMs);
    this.active = { ...job, timer };
    const worker = this.ensureWorker();
    worker.ref();
    worker.postMessage({ id: job.id, task: job.task });
  }

  private finish(outcome: ParseOutcome): void {
    const job = this.active;
    if (job === undefined) return;
    clearTimeout(job.timer);
    this.active = undefined;
    // Busy, the worker keeps the process alive like any pending I/O; idle, it must not.
    if (this.queue.length === 0) this.worker?.unref();
    job.resolve(outcome);
    this.startNext();
  }

  private ensureWorker(): Worker {
    if (this.worker !== undefined) return this.worker;
    const inFlight = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(workerURL, {
      workerData: { inFlight: inFlight.buffer },
      // A small young generation keeps the worker's footprint down; it only holds one file's
      // parse at a time plus the chunk it is building.
      resourceLimits: { maxYoungGenerationSizeMb: 8 },
    });
    worker.on('message', ({ id, message }: { id: number; message: WorkerMessage }) => {
      if (message.type === 'documents') {
        Atomics.sub(inFlight, 0, 1);
        Atomics.notify(inFlight, 0);
      }
      const job = this.active;
      if (job?.id !== id) return;
      if (message.type === 'documents') job.onDocuments(message.documents);
      else if (message.type === 'done') {
        this.finish({
          ok: true,
          header: message.header,
          count: message.count,
          files: message.files,
          notes: message.notes,
          delta: message.delta,
          copied: message.copied,
        });
      } else if (message.type === 'stale') {
        const file = labelOf(job.task);
        const problem = 'the parse these changes apply to is no longer held';
        this.finish({ ok: false, stale: true, problems: [{ file, line: 0, message: problem }] });
      } else this.finish({ ok: false, problems: message.problems });
    });
    const fail = (message: string): void => {
      if (this.worker === worker) this.worker = undefined;
      const job = this.active;
      if (job !== undefined) {
        this.finish({ ok: false, problems: [{ file: labelOf(job.task), line: 0, message }] });
      }
    };
    worker.on('error', (error: Error) => {
      fail(error.message);
    });
    worker.on('exit', (code) => {
      fail(`parser stopped unexpectedly (exit ${code})`);
    });
    this.worker = worker;
    return worker;
  }

  private discardWorker(): void {
    const worker = this.worker;
    this.worker = undefined;
    if (worker !== undefined) {
      worker.removeAllListeners();
      void worker.terminate();
    }
  }
}
