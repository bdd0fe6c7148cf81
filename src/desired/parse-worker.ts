// Worker thread that reads, parses and persists manifests, so a large repository never stalls
// the event loop that answers admission reviews. Results stream back in small chunks.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type * as ParserModule from './manifest-parser.js';
import type { ParsedDocument, ManifestProblem } from './manifest-parser.js';
import type { ParseTask, WorkerMessage } from './parse-task.js';

// Under a TypeScript runner the sibling module is a .ts file; once built it is .js. The worker is
// started by Node itself, so it picks the one that exists next to it.
const parser = (await import(
  new URL(
    import.meta.url.endsWith('.ts') ? './manifest-parser.ts' : './manifest-parser.js',
    import.meta.url,
  ).href
)) as typeof ParserModule;

// Small enough that deserialising one chunk on the main thread takes a few milliseconds.
const CHUNK_DOCUMENTS = 200;
const MAX_PROBLEMS = 20;
const SNAPSHOT_FORMAT = 'driftgate.snapshot/v1';

function post(message: WorkerMessage): void {
  parentPort?.postMessage(message);
}

function stream(documents: readonly ParsedDocument[]): void {
  for (let start = 0; start < documents.length; start += CHUNK_DOCUMENTS) {
    post({ type: 'documents', documents: documents.slice(start, start + CHUNK_DOCUMENTS) });
  }
}

/** temp file + rename: a reader (or a restart) sees the old file or the new one, never half. */
function writeAtomically(file: string, content: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(temp, content, { mode: 0o600 });
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

function problemOf(error: unknown, file: string): ManifestProblem {
  if (error instanceof parser.ManifestError) return error.problem;
  return { file, line: 0, message: error instanceof Error ? error.message : String(error) };
}

function run(task: ParseTask): void {
  if (task.kind === 'restore') {
    const parsed = JSON.parse(readFileSync(task.file, 'utf8')) as {
      format?: unknown;
      header?: unknown;
      documents?: unknown;
    };
    if (parsed.format !== SNAPSHOT_FORMAT || !Array.isArray(parsed.documents)) {
      post({ type: 'failed', problems: [{ file: task.file, line: 0, message: 'unknown format' }] });
      return;
    }
    stream(parsed.documents as ParsedDocument[]);
    post({ type: 'done', header: parsed.header ?? null, count: parsed.documents.length });
    return;
  }

  const documents: ParsedDocument[] = [];
  const problems: ManifestProblem[] = [];
  if (task.kind === 'files') {
    let files: string[] = [];
    try {
      files = parser.listManifestFiles(task);
    } catch (error) {
      problems.push(problemOf(error, task.directory));
    }
    let total = 0;
    for (const file of files) {
      if (problems.length >= MAX_PROBLEMS) break;
      try {
        const found = parser.parseManifestFile(task.root, file, task.maxFileBytes);
        for (const document of found) documents.push(document);
      } catch (error) {
        problems.push(problemOf(error, file));
      }
      total += 1;
      if (total > task.maxFiles) {
        problems.push({
          file: task.directory,
          line: 0,
          message: `holds more than ${task.maxFiles} manifest files`,
        });
        break;
      }
    }
  } else {
    try {
      for (const document of parser.parseManifests(task.text, task.label)) {
        documents.push(document);
      }
    } catch (error) {
      problems.push(problemOf(error, task.label));
    }
  }
  if (problems.length > 0) {
    post({ type: 'failed', problems });
    return;
  }
  // Persisted before streaming so that a snapshot served from memory is always also on disk.
  if (task.persist !== null) {
    writeAtomically(
      task.persist.file,
      JSON.stringify({ format: SNAPSHOT_FORMAT, header: task.persist.header, documents }),
    );
  }
  stream(documents);
  post({ type: 'done', header: null, count: documents.length });
}

try {
  run(workerData as ParseTask);
} catch (error) {
  post({
    type: 'failed',
    problems: [
      {
        file:
          (workerData as ParseTask).kind === 'restore' ? (workerData as { file: string }).file : '',
        line: 0,
        message: error instanceof Error ? error.message : String(error),
      },
    ],
  });
}
