import { spawn, spawnSync } from 'node:child_process';
import fs, { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LOG_BATCH_BYTES, serviceLog } from './log.js';
import type { DecisionLogLine } from './record.js';

const line: DecisionLogLine = {
  v: 1,
  msg: 'decision',
  webhook: 'validate',
  uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
  user: 'alice@example.com',
  groups: ['system:authenticated', 'team "a"'],
  operation: 'UPDATE',
  subresource: undefined,
  group: 'apps',
  kind: 'Deployment',
  namespace: 'shop',
  name: 'web',
  dryRun: false,
  decision: 'denied',
  allowed: false,
  reason: 'drift',
  mode: 'enforce',
  drift: ['spec.template.spec.containers[name=web].image'],
  preexisting: [],
  source: 'shop',
  file: 'apps/web.yaml',
  commit: '1f0c6d1c0e3d2b4a5968778695a4b3c2d1e0f9a8',
  protectedBy: 'git',
  breakGlassReason: undefined,
  message:
    'driftgate: Deployment shop/web differs from Git\n  spec.template.spec.containers[name=web].image: Git "nginx:1.27" \u2192 request "nginx:1.28\\"\u2028"',
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'driftgate-log-'));
});
afterEach(() => {
  vi.useRealTimers();
  rmSync(dir, { recursive: true, force: true });
});

/** The first `count` lines a service log writes through `use`, once they are in its file. */
async function written(
  level: string,
  count: number,
  use: (log: ReturnType<typeof serviceLog>) => void,
): Promise<string[]> {
  const file = join(dir, 'log');
  const fd = openSync(file, 'a');
  use(serviceLog(level, fd));
  // Lines are written out by another thread, in order: wait for them, 5 s at most.
  let lines: string[] = [];
  for (let waited = 0; waited < 5_000 && lines.length < count; waited += 10) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    lines = readFileSync(file, 'utf8').split('\n').slice(0, -1);
  }
  closeSync(fd);
  return lines.slice(0, count);
}

/**
 * A Node script that writes `count` decision lines to standard output through
 * `serviceLog(args)`, then runs `then` (where `log` is the service log).
 */
function writerScript(count: number, then: string, args = `'info'`): string {
  return [
    `const { serviceLog } = await import(${JSON.stringify(new URL('./log.ts', import.meta.url).href)});`,
    `const log = serviceLog(${args});`,
    `const { decisions } = log;`,
    `const line = ${JSON.stringify(line)};`,
    `for (let i = 0; i < ${String(count)}; i++) decisions({ ...line, uid: String(i) });`,
    then,
  ].join('\n');
}

const nodeRunning = (script: string) => [
  '--import',
  import.meta.resolve('tsx'),
  '--input-type=module',
  '-e',
  script,
];

/** The uids of the decision lines in a process's output, in the order written. */
function uidsIn(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((text) => text !== '')
    .map((text) => (JSON.parse(text) as { uid: string }).uid);
}

const numbered = (count: number) => Array.from({ length: count }, (_, i) => String(i));

describe('the service log', () => {
  it('writes a decision line with the same bytes as logger.info', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-12-06T10:00:00.123Z') });
    const [fast, pinos] = await written('info', 2, ({ logger, decisions }) => {
      decisions(line);
      logger.info(line);
    });
    expect(pinos).toBeDefined();
    expect(fast).toBe(pinos);
    expect(JSON.parse(fast ?? '')).toMatchObject({
      level: 30,
      time: Date.parse('2026-12-06T10:00:00.123Z'),
      pid: process.pid,
      decision: 'denied',
      message: line.message,
    });
  });

  it('writes the lines that queued behind a write 32 KB at a time, not 16 KB', async () => {
    // Lines left waiting outlive the young generation's collections, under load by the MB.
    const sizes: number[] = [];
    const write = fs.write.bind(fs) as (...args: unknown[]) => void;
    const spy = vi.spyOn(fs, 'write').mockImplementation((...args: unknown[]) => {
      const data = args[1];
      sizes.push(typeof data === 'string' ? Buffer.byteLength(data) : (data as Buffer).length);
      write(...args);
    });
    try {
      const lines = await written('info', 200, ({ decisions }) => {
        for (let i = 0; i < 200; i++) decisions({ ...line, uid: String(i) });
      });
      expect(lines.map((text) => (JSON.parse(text) as { uid: string }).uid)).toEqual(numbered(200));
    } finally {
      spy.mockRestore();
    }
    // About 160 KB in all: a first batch of 8 KB, then the rest, which queued meanwhile, in
    // writes of up to 32 KB (eleven or more at sonic-boom's default of 16 KB). No larger: each
    // line queued is appended to a string of up to that size, whose length is measured anew.
    expect(sizes.length).toBeLessThanOrEqual(8);
    expect(Math.max(...sizes)).toBeGreaterThan(16 * 1024);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(32 * 1024);
  });

  it('writes no decision line when its level is above info', async () => {
    const lines = await written('warn', 1, ({ logger, decisions }) => {
      decisions(line);
      logger.warn('still here');
    });
    expect(lines.map((text) => (JSON.parse(text) as { msg: string }).msg)).toEqual(['still here']);
  });

  // The destination buffers, and writes in batches; a process that ends must still write out
  // every line it took, the last partial batch too.
  it.each([
    ['exits', 5000, 'process.exit(0)'],
    ['throws', 5000, 'throw new Error("boom")'],
    ['exits', 3, 'process.exit(0)'],
    ['throws', 3, 'throw new Error("boom")'],
    ['ends by itself', 3, ''],
  ])('loses no decision line when the process %s right after writing %i', (_, count, end) => {
    const child = spawnSync(process.execPath, nodeRunning(writerScript(count, end)), {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      timeout: 30_000,
    });
    expect(uidsIn(child.stdout)).toEqual(numbered(count));
  });

  // A burst fills some batches and leaves a last one part-full, while a batch is being written.
  it('writes out the rest of a burst that ends between batches while the process goes on', async () => {
    const lines = await written('info', 25, ({ decisions }) => {
      for (let i = 0; i < 25; i++) decisions({ ...line, uid: String(i) });
    });
    expect(lines.map((text) => (JSON.parse(text) as { uid: string }).uid)).toEqual(numbered(25));
  });

  // Fewer bytes than a batch wait for the flush interval, not for more lines or the exit.
  it('writes out a line that fills no batch while the process goes on', async () => {
    expect(Buffer.byteLength(JSON.stringify(line))).toBeLessThan(LOG_BATCH_BYTES);
    const lines = await written('info', 1, ({ decisions }) => {
      decisions(line);
    });
    expect(lines.map((text) => (JSON.parse(text) as { uid: string }).uid)).toEqual([line.uid]);
  });

  // 20,000 lines (about 17 MB) fill the pipe many times over; a synchronous log would block
  // the event loop until the reader came back, and the timer would never fire.
  it.each([
    ['keeps every line', undefined, 0],
    ['drops and counts the lines past its buffer', 1024 * 1024, 1],
  ])(
    'goes on serving while standard output is not read, and %s',
    async (_, maxBufferedBytes, someDropped) => {
      const args =
        maxBufferedBytes === undefined
          ? `'info'`
          : `'info', 1, { maxBufferedBytes: ${String(maxBufferedBytes)} }`;
      const script = writerScript(
        20000,
        `setTimeout(() => process.stderr.write('event loop free, dropped ' + log.droppedLines() + '\\n'), 10);`,
        args,
      );
      const child = spawn(process.execPath, nodeRunning(script), {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = new Promise((resolve) => child.on('exit', resolve));
      try {
        child.stdout.pause();
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        for (let waited = 0; waited < 20_000 && !stderr.includes('\n'); waited += 20) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        const dropped = Number(/event loop free, dropped (\d+)/.exec(stderr)?.[1]);
        expect(Math.sign(dropped)).toBe(someDropped);
        let stdout = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stdout.resume();
        expect(await exited).toBe(0);
        // The lines kept are the first ones, whole and in order: the rest were dropped.
        expect(uidsIn(stdout)).toEqual(numbered(20000 - dropped));
        if (maxBufferedBytes !== undefined) {
          // Beyond the pipe's own buffer, the kept lines fit in the bound.
          expect(stdout.length).toBeLessThan(maxBufferedBytes + 4 * 1024 * 1024);
        }
      } finally {
        child.kill('SIGKILL');
      }
    },
    60_000,
  );
});
