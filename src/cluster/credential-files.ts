// Repository credentials read from the cluster, written where git reads them: one directory per
// Secret (0700), one file per value (0600), replaced atomically when the Secret changes, removed
// when it goes. Values never reach an argv, an environment variable or a log line.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SourceAuth } from '../config/config.js';
import type { RepoCredential } from '../discovery/argocd-credentials.js';

export class CredentialFiles {
  constructor(private readonly dir: string) {}

  /** The files for `credential`, written now if they are missing or hold other values. */
  authFor(credential: RepoCredential): SourceAuth {
    const home = join(this.dir, directoryOf(credential.secret));
    mkdirSync(home, { recursive: true, mode: 0o700 });
    if (credential.kind === 'https') {
      const passwordFile = this.write(home, 'password', credential.password);
      const usernameFile =
        credential.username === null ? null : this.write(home, 'username', credential.username);
      return { kind: 'https', usernameFile, passwordFile };
    }
    // ssh refuses a key file without its final newline.
    const key = credential.sshPrivateKey.endsWith('\n')
      ? credential.sshPrivateKey
      : `${credential.sshPrivateKey}\n`;
    return {
      kind: 'ssh',
      sshKeyFile: this.write(home, 'ssh-key', key),
      knownHostsFile: this.write(home, 'known_hosts', credential.knownHosts),
    };
  }

  /** Removes the files of every Secret but these (`namespace/name`). */
  keepOnly(secrets: ReadonlySet<string>): void {
    const kept = new Set([...secrets].map(directoryOf));
    let present: string[];
    try {
      present = readdirSync(this.dir);
    } catch {
      return;
    }
    for (const name of present) {
      if (!kept.has(name)) rmSync(join(this.dir, name), { recursive: true, force: true });
    }
  }

  private write(home: string, name: string, value: string): string {
    const file = join(home, name);
    let current: string | undefined;
    try {
      current = readFileSync(file, 'utf8');
    } catch {
      current = undefined;
    }
    if (current !== value) {
      // A fetch reading the file meanwhile sees the old value or the new one, never half.
      const partial = `${file}.new`;
      writeFileSync(partial, value, { mode: 0o600 });
      renameSync(partial, file);
    }
    return file;
  }
}

function directoryOf(secret: string): string {
  return createHash('sha256').update(secret).digest('hex').slice(0, 16);
}
