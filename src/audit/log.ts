// The log of `driftgate serve`: pino on standard output, and the decision lines, the audit
// trail's record of each review, written into the same stream.
import { hostname } from 'node:os';
import pino, { type Logger } from 'pino';
import type { DecisionLogLine } from './record.js';

/** Records one decision line; `logger.info(line)` where nothing faster is set up. */
export type DecisionLog = (line: DecisionLogLine) => void;

export interface ServiceLog {
  readonly logger: Logger;
  readonly decisions: DecisionLog;
  /** Lines dropped because standard output did not drain (`driftgate_log_lines_dropped_total`). */
  readonly droppedLines: () => number;
}

// About 70,000 decision lines: minutes of a busy cluster's writes, while a ready driftgate with
// 10,000 objects holds about 250 MB of its 1 GiB memory limit (deploy/base).
export const MAX_BUFFERED_LOG_BYTES = 64 * 1024 * 1024;

// Lines are written out once this many bytes wait (about eight decision lines), or when the
// flush interval has passed since the first of them, whichever comes first: one write and its
// completion per line cost a busy webhook several microseconds a review (BENCHMARKS.md). A quiet
// webhook's lines appear within the interval.
export const LOG_BATCH_BYTES = 8 * 1024;
export const LOG_FLUSH_INTERVAL_MS = 200;
// At most this much in one write. Twice sonic-boom's default: under review load, lines queued
// behind 16 KB writes long enough to outlive two scavenges (BENCHMARKS.md). No more: sonic-boom
// appends each line to a string of up to this size and measures its length anew: while the
// output does not drain, a decision line cost 16 to 99 µs at 32 KB but 345 to 510 µs at 256 KB,
// on every review (BENCHMARKS.md).
export const LOG_MAX_WRITE_BYTES = 32 * 1024;

/**
 * Lines leave through a buffer that a libuv thread writes out (pino's asynchronous destination),
 * so a standard output that stops draining (a full pipe to a stuck container runtime) holds up
 * lines, never reviews: a webhook blocked on its log times out every write in the cluster. The
 * buffer is written out in batches of `LOG_BATCH_BYTES`, or `LOG_FLUSH_INTERVAL_MS` after a
 * line that fills none. What is buffered is written out when the process exits, on a signal
 * or an error; only a process killed outright (SIGKILL, the OOM killer) can lose its last
 * lines, whose decisions the API server's audit log (the audit annotations) and the Events of denials also hold. The buffer is
 * bounded: past `maxBufferedBytes` new lines are dropped and counted, where growing would end
 * in the OOM killer taking the whole buffer and the webhook with it.
 */
export function serviceLog(
  level: string,
  fd = 1,
  { maxBufferedBytes = MAX_BUFFERED_LOG_BYTES }: { maxBufferedBytes?: number } = {},
): ServiceLog {
  const destination = pino.destination({
    dest: fd,
    sync: false,
    maxLength: maxBufferedBytes,
    minLength: LOG_BATCH_BYTES,
    maxWrite: LOG_MAX_WRITE_BYTES,
  });
  let dropped = 0;
  // Bytes taken and not yet written out, so that a batch that does not fill is written out by a
  // timer, which runs only while lines wait: an idle webhook writes nothing.
  let waiting = 0;
  let timer: NodeJS.Timeout | undefined;
  // Ended at exit by pino's exit hook: a flush after that would throw.
  let closed = false;
  destination.on('close', () => {
    closed = true;
  });
  const flushSoon = (): void => {
    timer ??= setTimeout(() => {
      timer = undefined;
      // While a write is under way this does nothing; its end (`drain`) calls again.
      if (waiting > 0 && !closed) destination.flush();
    }, LOG_FLUSH_INTERVAL_MS).unref();
  };
  destination.on('write', (bytes: number) => {
    waiting -= bytes;
  });
  destination.on('drain', () => {
    if (waiting > 0) flushSoon();
  });
  destination.on('drop', (text: string) => {
    dropped += 1;
    waiting -= Buffer.byteLength(text);
  });
  const write = (text: string): void => {
    waiting += Buffer.byteLength(text);
    destination.write(text);
    flushSoon();
  };
  const base = { pid: process.pid, hostname: hostname() };
  const logger = pino({ level, base }, { write });
  // Every field pino would add to `logger.info(line)` before the line's own fields.
  const bindings = `,"pid":${String(base.pid)},"hostname":${JSON.stringify(base.hostname)},`;
  return {
    logger,
    // The same bytes `logger.info(line)` writes, serialised by one JSON.stringify: pino builds a
    // line field by field in JavaScript, which for these 24 fields costs twice as much, on
    // every review (BENCHMARKS.md).
    decisions: (line) => {
      if (!logger.isLevelEnabled('info')) return;
      const fields = JSON.stringify(line).slice(1);
      write(`{"level":30,"time":${String(Date.now())}${bindings}${fields}\n`);
    },
    droppedLines: () => dropped,
  };
}
