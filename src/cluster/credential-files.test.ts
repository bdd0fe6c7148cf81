import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CredentialFiles } from './credential-files.js';

describe('credential files', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const files = () => {
    const dir = mkdtempSync(join(tmpdir(), 'driftgate-credentials-'));
    dirs.push(dir);
    return { dir, files: new CredentialFiles(join(dir, 'credentials')) };
  };
  const mode = (path: string) => statSync(path).mode & 0o777;

  it('writes a password and a username only its owner can read', () => {
    const { files: credentials } = files();
    const auth = credentials.authFor({
      kind: 'https',
      secret: 'argocd/shop-repo',
      username: 'deploy',
      password: 'token-1',
    });
    if (auth.kind !== 'https' || auth.usernameFile === null) throw new Error('https auth expected');
    expect(readFileSync(auth.passwordFile, 'utf8')).toBe('token-1');
    expect(readFileSync(auth.usernameFile, 'utf8')).toBe('deploy');
    expect(mode(auth.passwordFile)).toBe(0o600);
    expect(mode(auth.usernameFile)).toBe(0o600);
    expect(mode(join(auth.passwordFile, '..'))).toBe(0o700);
  });

  it('a rotated password replaces the old one in the same file', () => {
    const { files: credentials } = files();
    const first = credentials.authFor({
      kind: 'https',
      secret: 'argocd/shop-repo',
      username: null,
      password: 'token-1',
    });
    const second = credentials.authFor({
      kind: 'https',
      secret: 'argocd/shop-repo',
      username: null,
      password: 'token-2',
    });
    expect(second).toEqual(first);
    if (second.kind !== 'https') throw new Error('https auth expected');
    expect(second.usernameFile).toBeNull();
    expect(readFileSync(second.passwordFile, 'utf8')).toBe('token-2');
  });

  it('an SSH key gets the final newline ssh insists on, beside its known hosts', () => {
    const { files: credentials } = files();
    const auth = credentials.authFor({
      kind: 'ssh',
      secret: 'argocd/infra',
      sshPrivateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----',
      knownHosts: 'github.com ssh-ed25519 AAAA\n',
    });
    if (auth.kind !== 'ssh') throw new Error('ssh auth expected');
    expect(readFileSync(auth.sshKeyFile, 'utf8')).toMatch(/PRIVATE KEY-----\n$/);
    expect(readFileSync(auth.knownHostsFile, 'utf8')).toBe('github.com ssh-ed25519 AAAA\n');
    expect(mode(auth.sshKeyFile)).toBe(0o600);
  });

  it('removes the files of Secrets that are gone', () => {
    const { files: credentials } = files();
    const kept = credentials.authFor({
      kind: 'https',
      secret: 'argocd/kept',
      username: null,
      password: 'a',
    });
    const gone = credentials.authFor({
      kind: 'https',
      secret: 'argocd/gone',
      username: null,
      password: 'b',
    });
    credentials.keepOnly(new Set(['argocd/kept']));
    if (kept.kind !== 'https' || gone.kind !== 'https') throw new Error('https auth expected');
    expect(existsSync(kept.passwordFile)).toBe(true);
    expect(existsSync(gone.passwordFile)).toBe(false);
  });
});
