// Main-thread side of the parse worker: what a task asks for, and a runner that feeds the
// streamed documents to a callback and settles with the outcome, with a time limit.
import { Worker } from 'node:worker_threads';
import type { ManifestProblem, ParsedDocument } from './manifest-parser.js';

export interface PersistRequest {
  /** Snapshot file to write atomically when, and only when, parsing succeeded. */
  readonly file: string;
  readonly header: unknown;
}

export type ParseTask =
  | {
      readonly kind: 'files';
      readonly root: string;
      readonly directory: string;
      readonly include: readonly string[];
      readonly exclude: readonly string[];
      readonly maxFileBytes: number;
      readonly maxFiles: number;
      readonly persist: PersistRequest | null;
    }
  | {
      readonly kind: 'text';
      readonly text: string;
      /** Names the output in errors: `output of kustomize build apps/shop`. */
      readonly label: string;
      readonly persist: PersistRequest | null;
    }
  | { readonly kind: 'restore'; readonly file: string };

export type WorkerMessage =
  | { readonly type: 'documents'; readonly documents: readonly ParsedDocument[] }
  | { readonly type: 'done'; readonly header: unknown; readonly count: number }
  | { readonly type: 'failed'; readonly problems: readonly ManifestProblem[] };

export type ParseOutcome =
  | { readonly ok: true; readonly header: unknown; readonly count: number }
  | { readonly ok: false; readonly problems: readonly ManifestProblem[] };

const workerURL = new URL(
  import.meta.url.endsWith('.ts') ? './parse-worker.ts' : './parse-worker.js',
  import.meta.url,
);

/** Runs one task in a fresh worker; `onDocuments` sees every chunk before the promise settles. */
export function runParseTask(
  task: ParseTask,
  onDocuments: (documents: readonly ParsedDocument[]) => void,
  timeoutMs: number,
): Promise<ParseOutcome> {
  return new Promise((resolve) => {
    const worker = new Worker(workerURL, { workerData: task });
    let settled = false;
    const settle = (outcome: ParseOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      resolve(outcome);
    };
    const label =
      task.kind === 'files' ? task.directory : task.kind === 'text' ? task.label : task.file;
    const timer = setTimeout(() => {
      settle({
        ok: false,
        problems: [{ file: label, line: 0, message: `parsing took longer than ${timeoutMs} ms` }],
      });
    }, timeoutMs);
    worker.on('message', (message: WorkerMessage) => {
      if (settled) return;
      if (message.type === 'documents') onDocuments(message.documents);
      else if (message.type === 'done')
        settle({ ok: true, header: message.header, count: message.count });
      else settle({ ok: false, problems: message.problems });
    });
    worker.on('error', (error: Error) => {
      settle({ ok: false, problems: [{ file: label, line: 0, message: error.message }] });
    });
    worker.on('exit', (code) => {
      settle({
        ok: false,
        problems: [{ file: label, line: 0, message: `parser stopped unexpectedly (exit ${code})` }],
      });
    });
  });
}
