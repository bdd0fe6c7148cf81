import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entriesOf, watchTlsFiles } from './tls-files.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'driftgate-tls-files-'));
  mkdirSync(join(dir, '..2026_11_22_03_00_00.000000001'));
  writeFileSync(join(dir, '..2026_11_22_03_00_00.000000001', 'tls.crt'), 'certificate');
  symlinkSync('..2026_11_22_03_00_00.000000001', join(dir, '..data'));
  mkdirSync(join(dir, 'elsewhere'));
  writeFileSync(join(dir, 'elsewhere', 'tls.crt'), 'certificate');
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('entriesOf', () => {
  it.each([
    { name: 'a plain file', link: null, expected: ['tls.crt'] },
    { name: 'a Secret volume link', link: '..data/tls.crt', expected: ['tls.crt', '..data'] },
    {
      name: 'an absolute link into the directory',
      link: 'ABS/..data/tls.crt',
      expected: ['tls.crt', '..data'],
    },
    { name: 'a link out of the directory', link: '../outside/tls.crt', expected: ['tls.crt'] },
  ])('$name', ({ link, expected }) => {
    const file = join(dir, 'tls.crt');
    if (link === null) writeFileSync(file, 'certificate');
    else symlinkSync(link.replace('ABS', dir), file);
    expect(entriesOf(file)).toEqual(expected);
  });
});

describe('watchTlsFiles', () => {
  it('a steady stream of writes to the file cannot put the call off', async () => {
    const file = join(dir, 'tls.crt');
    writeFileSync(file, 'certificate');
    let calls = 0;
    const watch = watchTlsFiles(
      [file],
      () => {
        calls += 1;
      },
      { settleMs: 200, failed: (error) => expect.fail(String(error)) },
    );
    try {
      // A write every 30 ms: a timer restarted on each event would never fire while they last.
      const deadline = Date.now() + 10_000;
      for (let round = 0; calls === 0 && Date.now() < deadline; round += 1) {
        writeFileSync(file, `certificate ${String(round)}`);
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
      expect(calls).toBeGreaterThan(0);
    } finally {
      watch.close();
    }
  });

  it('says so when it cannot watch, and does not throw', () => {
    const failures: unknown[] = [];
    const watch = watchTlsFiles([join(dir, 'gone', 'tls.crt')], () => undefined, {
      settleMs: 200,
      failed: (error) => failures.push(error),
    });
    watch.close();
    expect(failures).toHaveLength(1);
    expect((failures[0] as NodeJS.ErrnoException).code).toBe('ENOENT');
  });
});
