// The HTTPS listener: TLS 1.2 minimum, and a rotated certificate is served without a restart.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ConnectionOptions } from 'node:tls';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../src/admission/server.js';
import { generateCertificates } from '../src/certs/generate.js';

const dir = mkdtempSync(join(tmpdir(), 'driftgate-tls-'));
const first = generateCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
const second = generateCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
let server: RunningServer;

// As kubelet updates a Secret volume: new files, then one rename makes them current.
function install(certs: { cert: string; key: string }): void {
  writeFileSync(join(dir, 'tls.crt.new'), certs.cert);
  writeFileSync(join(dir, 'tls.key.new'), certs.key);
  renameSync(join(dir, 'tls.key.new'), join(dir, 'tls.key'));
  renameSync(join(dir, 'tls.crt.new'), join(dir, 'tls.crt'));
}

function handshake(ca: string, options: ConnectionOptions = {}): Promise<string> {
  const port = Number(new URL(server.url).port);
  return new Promise((resolve) => {
    const socket = connect(
      { host: '127.0.0.1', port, ca, servername: 'localhost', ...options },
      () => {
        resolve(`ok ${socket.getProtocol() ?? ''}`);
        socket.end();
      },
    );
    socket.on('error', (error: NodeJS.ErrnoException) => {
      resolve(error.code ?? error.message);
    });
  });
}

beforeAll(async () => {
  install(first);
  server = await startServer((_req, res) => res.end('ok'), {
    port: 0,
    host: '127.0.0.1',
    tls: { kind: 'files', certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') },
    logger: pino({ level: 'silent' }),
  });
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('TLS', () => {
  it('serves the configured certificate', async () => {
    expect(await handshake(first.caCert)).toMatch(/^ok TLSv1\.[23]$/);
    expect(await handshake(second.caCert)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('refuses TLS older than 1.2', async () => {
    // The client offers TLS 1.1 (its own security level lowered so that it may): the server says no.
    const old = {
      minVersion: 'TLSv1',
      maxVersion: 'TLSv1.1',
      ciphers: 'DEFAULT@SECLEVEL=0',
    } as const;
    expect(await handshake(first.caCert, old)).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
  });

  it('picks up a rotated certificate without a restart', async () => {
    install(second);
    const deadline = Date.now() + 10_000;
    let result = await handshake(second.caCert);
    while (!result.startsWith('ok') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      result = await handshake(second.caCert);
    }
    expect(result).toMatch(/^ok/);
    expect(await handshake(first.caCert)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('keeps the working certificate when the new files are broken', async () => {
    writeFileSync(join(dir, 'tls.crt'), 'not a certificate');
    expect(await server.reloadTls()).toBe(false);
    expect(await handshake(second.caCert)).toMatch(/^ok/);
  });
});
