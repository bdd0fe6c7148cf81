// Writing generated certificates and keys to a directory: private keys readable by their owner
// only, and never a half-written or silently replaced file.
import { randomUUID } from 'node:crypto';
import { link, lstat, mkdir, open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { GeneratedCertificates } from './generate.js';

/** The names Kubernetes gives these files in a `kubernetes.io/tls` Secret, plus the CA's. */
export const certificateFiles = [
  { field: 'caCert', name: 'ca.crt', mode: 0o644 },
  { field: 'caKey', name: 'ca.key', mode: 0o600 },
  { field: 'cert', name: 'tls.crt', mode: 0o644 },
  { field: 'key', name: 'tls.key', mode: 0o600 },
] as const satisfies readonly {
  field: keyof GeneratedCertificates;
  name: string;
  mode: number;
}[];

export interface WrittenFile {
  readonly path: string;
  readonly mode: number;
}

export interface WriteOptions {
  /** Replace files that already exist. */
  readonly force?: boolean;
}

export const certificateErrorCodes = {
  exists: 'DRIFTGATE_ERR_CERTS_EXIST',
} as const;

/** Some of the files are already there and replacing them was not asked for. */
export class CertificateFilesExistError extends Error {
  override readonly name = 'CertificateFilesExistError';
  readonly code = certificateErrorCodes.exists;

  constructor(readonly paths: readonly string[]) {
    super(`${paths.join(', ')} already exist${paths.length === 1 ? 's' : ''}`);
  }
}

/**
 * Writes ca.crt, ca.key, tls.crt and tls.key into `dir`, creating it if needed. Without `force`
 * nothing is written when any of them exists, so an existing CA is never half replaced.
 */
export async function writeCertificates(
  dir: string,
  certificates: GeneratedCertificates,
  options: WriteOptions = {},
): Promise<WrittenFile[]> {
  const force = options.force ?? false;
  await mkdir(dir, { recursive: true });
  if (!force) {
    const existing: string[] = [];
    for (const file of certificateFiles) {
      const path = join(dir, file.name);
      if (await exists(path)) existing.push(path);
    }
    if (existing.length > 0) throw new CertificateFilesExistError(existing);
  }
  const written: WrittenFile[] = [];
  for (const file of certificateFiles) {
    const path = join(dir, file.name);
    await writeAtomically(path, certificates[file.field], file.mode, force);
    written.push({ path, mode: file.mode });
  }
  return written;
}

// The content goes to a temporary file in the same directory, which then takes the final name in
// one step: a reader never sees a partial key, and a crash leaves the old file intact.
async function writeAtomically(
  path: string,
  content: string,
  mode: number,
  replace: boolean,
): Promise<void> {
  const temporary = `${path}.${randomUUID()}.tmp`;
  try {
    const handle = await open(temporary, 'wx', mode);
    try {
      // open() applies the umask; the mode must be exactly what was asked for.
      await handle.chmod(mode);
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (replace) {
      await rename(temporary, path);
    } else {
      // link() fails if the name was taken since the check, where rename() would replace it.
      try {
        await link(temporary, path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new CertificateFilesExistError([path]);
        }
        throw error;
      }
    }
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
