// `driftgate certs` as a user runs it, and its certificates in a real TLS handshake: a client that
// trusts ca.crt reaches a server using tls.crt and tls.key by the Service's name.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDriftgate } from './support/cli.js';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { generateCertificates } from '../src/certs/generate.js';

const dir = mkdtempSync(join(tmpdir(), 'driftgate-certs-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function driftgate(...argv: string[]) {
  return runDriftgate(dir, ...argv);
}

let outputs = 0;
/** Runs `driftgate certs` into a new directory and reads back what it wrote. */
async function certs(...args: string[]) {
  const out = `out-${++outputs}`;
  const result = await driftgate('certs', '--out', out, ...args);
  expect(result).toMatchObject({ code: 0, stderr: '' });
  const read = (name: string) => readFileSync(join(dir, out, name), 'utf8');
  return {
    out,
    stdout: result.stdout,
    caCert: read('ca.crt'),
    caKey: read('ca.key'),
    cert: read('tls.crt'),
    key: read('tls.key'),
  };
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => {
            resolve();
          });
        }),
    ),
  );
});

async function serve(cert: string, key: string): Promise<number> {
  const server = createServer({ cert, key }, (_, response) => {
    response.end('ok');
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** One HTTPS GET that verifies the server's certificate as the API server does. */
function get(port: number, ca: string, servername?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        ca,
        rejectUnauthorized: true,
        agent: false,
        ...(servername === undefined ? {} : { servername }),
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => {
          resolve(body);
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('driftgate certs', () => {
  it('writes the four files and prints them with the caBundle line', async () => {
    const { out, stdout, caCert } = await certs();
    const modes = Object.fromEntries(
      ['ca.crt', 'ca.key', 'tls.crt', 'tls.key'].map((name) => [
        name,
        statSync(join(dir, out, name)).mode & 0o777,
      ]),
    );
    expect(modes).toEqual({ 'ca.crt': 0o644, 'ca.key': 0o600, 'tls.crt': 0o644, 'tls.key': 0o600 });
    expect(stdout).toContain(`Wrote ${out}/ca.crt (CA certificate, valid for 3650 days)\n`);
    expect(stdout).toContain(`Wrote ${out}/ca.key (CA private key: keep it secret`);
    expect(stdout).toContain(`Wrote ${out}/tls.crt (serving certificate, valid for 365 days)\n`);
    expect(stdout).toContain(`Wrote ${out}/tls.key (serving private key)\n`);
    expect(stdout).toContain(
      'valid for: driftgate, driftgate.driftgate, driftgate.driftgate.svc, driftgate.driftgate.svc.cluster.local, localhost, 127.0.0.1\n',
    );
    const caBundle = /^caBundle: (\S+)$/m.exec(stdout)?.[1];
    expect(Buffer.from(caBundle ?? '', 'base64').toString()).toBe(caCert);
  });

  it.each(['rsa', 'ecdsa'])(
    'with --key-type %s, a client trusting ca.crt completes a TLS handshake',
    async (keyType) => {
      const { caCert, cert, key } = await certs('--key-type', keyType);
      const port = await serve(cert, key);
      expect(await get(port, caCert, 'driftgate.driftgate.svc')).toBe('ok');
      // No server name: the client checks the address against the IP SAN.
      expect(await get(port, caCert)).toBe('ok');
    },
  );

  it('a client that trusts another CA refuses the server', async () => {
    const { cert, key } = await certs();
    const port = await serve(cert, key);
    const otherCa = generateCertificates().caCert;
    await expect(get(port, otherCa, 'driftgate.driftgate.svc')).rejects.toMatchObject({
      code: expect.stringMatching(/^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|CERT_SIGNATURE_FAILURE)$/),
    });
  });

  it('a client asking for a name the certificate lacks refuses the server', async () => {
    const { caCert, cert, key } = await certs();
    const port = await serve(cert, key);
    await expect(get(port, caCert, 'driftgate.other.svc')).rejects.toMatchObject({
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
  });

  it('takes the Service, namespace, extra names and validity from the options', async () => {
    const { cert, caCert, stdout } = await certs(
      ...['--service', 'gate', '--namespace', 'ops', '--dns', 'Gate.Example.com'],
      ...['--ip', '10.0.0.7', '--ip', '::1', '--days', '30', '--ca-days', '60'],
    );
    const x509 = new X509Certificate(cert);
    for (const host of ['gate', 'gate.ops', 'gate.ops.svc', 'gate.ops.svc.cluster.local']) {
      expect(x509.checkHost(host)).toBe(host);
    }
    expect(x509.checkHost('gate.example.com')).toBe('gate.example.com');
    expect(x509.checkHost('localhost')).toBe('localhost');
    expect(x509.checkHost('driftgate.driftgate.svc')).toBeUndefined();
    expect(x509.checkIP('10.0.0.7')).toBe('10.0.0.7');
    expect(x509.checkIP('::1')).toBe('::1');
    expect(x509.checkIP('127.0.0.1')).toBe('127.0.0.1');
    const days = (c: X509Certificate) =>
      Math.round((c.validToDate.getTime() - c.validFromDate.getTime()) / 86_400_000);
    expect(days(x509)).toBe(30);
    expect(days(new X509Certificate(caCert))).toBe(60);
    expect(stdout).toContain('kubectl -n ops create secret tls gate-tls');
  });

  it('refuses to replace existing files, and replaces them with --force', async () => {
    const first = await certs();
    const again = await driftgate('certs', '--out', first.out);
    expect(again.code).toBe(2);
    expect(again.stdout).toBe('');
    expect(again.stderr).toMatch(
      /^driftgate certs: (out-\d+)\/ca\.crt, \1\/ca\.key, \1\/tls\.crt, \1\/tls\.key already exist: pass --force to replace them\n$/,
    );
    expect(readFileSync(join(dir, first.out, 'ca.crt'), 'utf8')).toBe(first.caCert);

    const forced = await driftgate('certs', '--out', first.out, '--force');
    expect(forced.code).toBe(0);
    const replaced = readFileSync(join(dir, first.out, 'ca.crt'), 'utf8');
    expect(replaced).not.toBe(first.caCert);
    expect(forced.stdout).toContain(`caBundle: ${Buffer.from(replaced).toString('base64')}\n`);
  });

  it('prints its options with --help, and is listed by driftgate --help', async () => {
    const help = await driftgate('certs', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--key-type TYPE      rsa (RSA 2048, default) or ecdsa');
    const usage = await driftgate('--help');
    expect(usage.stdout).toMatch(/^ {2}certs {6}create the CA and serving certificate/m);
  });

  it.each([
    {
      name: 'an unknown key type',
      args: ['--key-type', 'dsa'],
      message: /--key-type must be rsa or ecdsa, not 'dsa'/,
    },
    {
      name: 'zero days',
      args: ['--days', '0'],
      message: /--days must be a whole number of days from 1 to 36500, not '0'/,
    },
    {
      name: 'days that are not a number',
      args: ['--ca-days', '10y'],
      message: /--ca-days must be a whole number/,
    },
    {
      name: 'more than a hundred years',
      args: ['--ca-days', '36501'],
      message: /--ca-days must be/,
    },
    {
      name: 'a certificate outliving its CA',
      args: ['--days', '400', '--ca-days', '300'],
      message:
        /--days 400 is longer than --ca-days 300: the serving certificate would outlive its CA/,
    },
    {
      name: 'a bad Service name',
      args: ['--service', 'Drift_Gate'],
      message: /--service 'Drift_Gate' is not a Service name/,
    },
    {
      name: 'a bad namespace',
      args: ['--namespace', 'ops.'],
      message: /--namespace 'ops\.' is not a namespace name/,
    },
    { name: 'a bad DNS name', args: ['--dns', 'a b'], message: /--dns 'a b' is not a DNS name/ },
    {
      name: 'a bad IP address',
      args: ['--ip', '10.0.0'],
      message: /--ip '10\.0\.0' is not an IPv4 or IPv6 address/,
    },
    { name: 'an unknown option', args: ['--pkcs12'], message: /Unknown option '--pkcs12'/ },
    { name: 'a stray argument', args: ['certs'], message: /Unexpected argument 'certs'/ },
  ])('exits 2 with a clear message for $name', async ({ args, message }) => {
    const out = `bad-${++outputs}`;
    const result = await driftgate('certs', '--out', out, ...args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^driftgate certs: /);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    // Bad input writes nothing.
    expect(() => statSync(join(dir, out))).toThrow(/ENOENT/);
  });
});
