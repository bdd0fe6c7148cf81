// The serving certificate is reloaded when it changes, and only then: a cache kept inside the
// certificate directory writes all the time, a Kubernetes Secret volume changes by swapping its
// `..data` symlink. A real driftgate, its cacheDir inside the certificate directory, over TLS.
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  utimesSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { generateCertificates } from '../src/certs/generate.js';
import { waitFor } from './desired/git-fixture.js';
import { startTestServer, type TestServer } from './support/server.js';

const first = generateCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
const second = generateCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });

let dir: string;
let server: TestServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

let generation = 0;
/**
 * Writes the files as kubelet's atomic writer updates a Secret volume: a new timestamped
 * directory, a `..data_tmp` symlink to it renamed over `..data`, the user-visible
 * `tls.crt -> ..data/tls.crt` links made once, and the previous directory removed.
 */
function secretVolume(certs: { cert: string; key: string }): void {
  generation += 1;
  const stamp = `..2026_11_22_03_00_0${String(generation)}.${String(100_000_000 + generation)}`;
  const previous = readdirSync(dir).filter((name) => /^\.\.\d{4}_/.test(name));
  mkdirSync(join(dir, stamp));
  writeFileSync(join(dir, stamp, 'tls.crt'), certs.cert, { mode: 0o644 });
  writeFileSync(join(dir, stamp, 'tls.key'), certs.key, { mode: 0o600 });
  symlinkSync(stamp, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  for (const file of ['tls.crt', 'tls.key']) {
    try {
      symlinkSync(join('..data', file), join(dir, file));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  for (const old of previous) rmSync(join(dir, old), { recursive: true });
}

/** Which CA the certificate served on 127.0.0.1 chains to: `first`, `second` or neither. */
function servedBy(url: string): Promise<'first' | 'second' | 'neither'> {
  const port = Number(new URL(url).port);
  const handshake = (ca: string) =>
    new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
        socket.end();
        resolve(true);
      });
      socket.setTimeout(5_000, () => socket.destroy(new Error('timed out')));
      socket.on('error', () => {
        resolve(false);
      });
    });
  return (async () => {
    if (await handshake(first.caCert)) return 'first';
    if (await handshake(second.caCert)) return 'second';
    return 'neither';
  })();
}

const reloads = (running: TestServer) =>
  running.logLines().filter((line) => line.msg === 'serving certificate reloaded').length;

const unchanged = (running: TestServer) =>
  running.logLines().filter((line) => String(line.msg).startsWith('certificate files touched'))
    .length;

/** Waits `ms`: only to give a wrong reload the time to happen, never to let a right one. */
const quiet = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the serving certificate, with the cache inside its directory', () => {
  it('is not reloaded for cache writes; a Secret volume swap reloads it once', async () => {
    dir = mkdtempSync(join(tmpdir(), 'driftgate-certs-'));
    secretVolume(first);
    const cacheDir = join(dir, 'cache');
    server = await startTestServer({
      config: {
        cacheDir,
        listen: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') },
      },
    });
    const { url } = server.driftgate;
    expect(await servedBy(url)).toBe('first');

    // Cache writes, and what the certificate directory's own watch sees of them.
    const seen: string[] = [];
    const observer = watch(dir, (_event, name) => seen.push(String(name)));
    try {
      for (let round = 0; round < 20; round += 1) {
        writeFileSync(join(cacheDir, `snapshot.json.tmp`), `{"round":${String(round)}}`);
        renameSync(join(cacheDir, 'snapshot.json.tmp'), join(cacheDir, 'snapshot.json'));
        mkdirSync(join(cacheDir, `work-${String(round)}`));
        writeFileSync(join(cacheDir, `work-${String(round)}`, 'objects'), 'x'.repeat(round));
        rmSync(join(cacheDir, `work-${String(round)}`), { recursive: true });
        utimesSync(cacheDir, new Date(), new Date());
        chmodSync(cacheDir, round % 2 === 0 ? 0o700 : 0o755);
        await quiet(20);
      }
      expect(await waitFor(() => seen.includes('cache'), 5_000)).toBe(true);
    } finally {
      observer.close();
    }
    await quiet(1_000);
    // Not even read again: nothing the certificate is made of was named.
    expect(unchanged(server)).toBe(0);
    expect(reloads(server)).toBe(0);
    expect(await servedBy(url)).toBe('first');

    secretVolume(second);
    const deadline = Date.now() + 10_000;
    while ((await servedBy(url)) !== 'second' && Date.now() < deadline) await quiet(50);
    expect(await servedBy(url)).toBe('second');
    await quiet(1_000);
    expect(reloads(server)).toBe(1);
  });

  it('a swap to the same certificate is looked at and not reloaded', async () => {
    dir = mkdtempSync(join(tmpdir(), 'driftgate-certs-'));
    secretVolume(first);
    server = await startTestServer({
      config: {
        cacheDir: join(dir, 'cache'),
        listen: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') },
      },
    });
    const running = server;
    secretVolume(first);
    expect(await waitFor(() => unchanged(running) > 0, 5_000)).toBe(true);
    expect(reloads(running)).toBe(0);
    expect(await servedBy(running.driftgate.url)).toBe('first');
  });
});
