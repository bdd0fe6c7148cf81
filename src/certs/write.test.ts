// Certificate files on disk: the names a TLS Secret uses, private keys for their owner only, and
// no existing file replaced unless asked.
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { GeneratedCertificates } from './generate.js';
import { CertificateFilesExistError, writeCertificates } from './write.js';

// The writer does not look inside the PEM text, so plain markers show which field went where.
const certificates: GeneratedCertificates = {
  caCert: 'CA CERTIFICATE\n',
  caKey: 'CA KEY\n',
  cert: 'SERVING CERTIFICATE\n',
  key: 'SERVING KEY\n',
};

const root = mkdtempSync(join(tmpdir(), 'driftgate-certs-write-'));
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

let count = 0;
function freshDir(): string {
  return join(root, `out-${++count}`);
}

function modeOf(path: string): number {
  return statSync(path).mode & 0o777;
}

describe('writeCertificates', () => {
  it('writes each file with its mode, creating the directory', async () => {
    const dir = join(freshDir(), 'nested');
    const written = await writeCertificates(dir, certificates);
    expect(written).toEqual([
      { path: join(dir, 'ca.crt'), mode: 0o644 },
      { path: join(dir, 'ca.key'), mode: 0o600 },
      { path: join(dir, 'tls.crt'), mode: 0o644 },
      { path: join(dir, 'tls.key'), mode: 0o600 },
    ]);
    expect(readdirSync(dir).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    for (const { path, mode } of written) expect(modeOf(path)).toBe(mode);
    expect(readFileSync(join(dir, 'ca.crt'), 'utf8')).toBe(certificates.caCert);
    expect(readFileSync(join(dir, 'ca.key'), 'utf8')).toBe(certificates.caKey);
    expect(readFileSync(join(dir, 'tls.crt'), 'utf8')).toBe(certificates.cert);
    expect(readFileSync(join(dir, 'tls.key'), 'utf8')).toBe(certificates.key);
  });

  it.each(['ca.crt', 'ca.key', 'tls.crt', 'tls.key'])(
    'writes nothing when %s is already there',
    async (name) => {
      const dir = freshDir();
      mkdirSync(dir);
      writeFileSync(join(dir, name), 'EXISTING\n');
      const error = await writeCertificates(dir, certificates).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CertificateFilesExistError);
      expect(error).toMatchObject({
        code: 'DRIFTGATE_ERR_CERTS_EXIST',
        paths: [join(dir, name)],
        message: `${join(dir, name)} already exists`,
      });
      expect(readdirSync(dir)).toEqual([name]);
      expect(readFileSync(join(dir, name), 'utf8')).toBe('EXISTING\n');
    },
  );

  it('names every file that is in the way', async () => {
    const dir = freshDir();
    await writeCertificates(dir, certificates);
    const error = await writeCertificates(dir, certificates).catch((e: unknown) => e);
    expect(error).toMatchObject({
      paths: ['ca.crt', 'ca.key', 'tls.crt', 'tls.key'].map((name) => join(dir, name)),
    });
    expect((error as Error).message).toMatch(/tls\.key already exist$/);
  });

  it('replaces existing files with force, and sets their modes again', async () => {
    const dir = freshDir();
    await writeCertificates(dir, certificates);
    chmodSync(join(dir, 'tls.key'), 0o666);
    const renewed = { ...certificates, key: 'NEW SERVING KEY\n', cert: 'NEW CERTIFICATE\n' };
    await writeCertificates(dir, renewed, { force: true });
    expect(readFileSync(join(dir, 'tls.key'), 'utf8')).toBe('NEW SERVING KEY\n');
    expect(readFileSync(join(dir, 'tls.crt'), 'utf8')).toBe('NEW CERTIFICATE\n');
    expect(modeOf(join(dir, 'tls.key'))).toBe(0o600);
    // No temporary file is left next to the real ones.
    expect(readdirSync(dir).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
  });

  it('fails on a directory path that is a file', async () => {
    const file = join(root, 'plain-file');
    writeFileSync(file, '');
    await expect(writeCertificates(file, certificates)).rejects.toMatchObject({
      code: expect.stringMatching(/^(EEXIST|ENOTDIR)$/),
    });
  });
});
