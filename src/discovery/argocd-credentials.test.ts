import { describe, expect, it } from 'vitest';
import {
  normalizeGitURL,
  readRepoCredentials,
  REPOSITORY_SECRETS_SELECTOR,
} from './argocd-credentials.js';

/** A Secret as the API server returns it: `data` in base64, never `stringData`. */
function secret(
  name: string,
  type: 'repository' | 'repo-creds',
  values: Record<string, string>,
): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      namespace: 'argocd',
      labels: { 'argocd.argoproj.io/secret-type': type },
    },
    type: 'Opaque',
    data: Object.fromEntries(
      Object.entries(values).map(([key, value]) => [key, Buffer.from(value).toString('base64')]),
    ),
  };
}

const KNOWN_HOSTS =
  'github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n';

describe('Argo CD repository credentials', () => {
  it('asks the API server only for the two kinds of Secret Argo CD reads', () => {
    expect(REPOSITORY_SECRETS_SELECTOR).toBe(
      'argocd.argoproj.io/secret-type in (repository,repo-creds)',
    );
  });

  it('a repository Secret matches its URL however it is spelled, and no other', () => {
    const credentials = readRepoCredentials(
      [
        secret('shop-repo', 'repository', {
          type: 'git',
          url: 'https://git.example.com/acme/shop.git',
          username: 'deploy',
          password: 'token-1',
        }),
      ],
      undefined,
    );
    for (const url of [
      'https://git.example.com/acme/shop.git',
      'https://git.example.com/acme/shop',
      'https://GIT.example.com/acme/shop.git',
    ]) {
      expect(credentials.forURL(url), url).toEqual({
        kind: 'https',
        secret: 'argocd/shop-repo',
        username: 'deploy',
        password: 'token-1',
      });
    }
    expect(credentials.forURL('https://git.example.com/acme/shop-infra')).toBeUndefined();
    expect(credentials.forURL('https://git.example.com/acme')).toBeUndefined();
  });

  it('a credential template serves every URL under it; the longest prefix wins', () => {
    const credentials = readRepoCredentials(
      [
        secret('all-of-acme', 'repo-creds', {
          url: 'https://git.example.com/acme',
          password: 'org-token',
        }),
        secret('acme-platform', 'repo-creds', {
          url: 'https://git.example.com/acme/platform',
          username: 'platform-bot',
          password: 'platform-token',
        }),
      ],
      undefined,
    );
    expect(credentials.forURL('https://git.example.com/acme/shop.git')).toMatchObject({
      secret: 'argocd/all-of-acme',
      username: null,
      password: 'org-token',
    });
    expect(credentials.forURL('https://git.example.com/acme/platform/ingress')).toMatchObject({
      secret: 'argocd/acme-platform',
      password: 'platform-token',
    });
    expect(credentials.forURL('https://git.example.com/other/shop')).toBeUndefined();
  });

  it('a repository Secret without credentials takes the template’s, as in Argo CD', () => {
    const credentials = readRepoCredentials(
      [
        secret('shop-repo', 'repository', { url: 'https://git.example.com/acme/shop' }),
        secret('all-of-acme', 'repo-creds', {
          url: 'https://git.example.com/acme',
          password: 'org-token',
        }),
      ],
      undefined,
    );
    expect(credentials.forURL('https://git.example.com/acme/shop')?.secret).toBe(
      'argocd/all-of-acme',
    );
    expect([...credentials.secrets]).toEqual(['argocd/all-of-acme']);
  });

  it('SSH keys come with Argo CD’s known hosts, and scp-like URLs match', () => {
    const key = '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n';
    const credentials = readRepoCredentials(
      [secret('infra', 'repository', { url: 'git@github.com:acme/infra.git', sshPrivateKey: key })],
      KNOWN_HOSTS,
    );
    const expected = {
      kind: 'ssh',
      secret: 'argocd/infra',
      sshPrivateKey: key,
      knownHosts: KNOWN_HOSTS,
    };
    expect(credentials.forURL('git@github.com:acme/infra.git')).toEqual(expected);
    expect(credentials.forURL('ssh://git@github.com/acme/infra')).toEqual(expected);
    expect(credentials.problems).toEqual([]);
  });

  it('an SSH key without known hosts is not used: the host key could not be checked', () => {
    const credentials = readRepoCredentials(
      [secret('infra', 'repository', { url: 'git@github.com:acme/infra', sshPrivateKey: 'k' })],
      undefined,
    );
    expect(credentials.forURL('git@github.com:acme/infra')).toBeUndefined();
    expect(credentials.problems).toEqual([
      {
        object: 'Secret argocd/infra',
        source: null,
        effect: 'partial',
        reason:
          'no SSH known hosts in argocd-ssh-known-hosts-cm: git@github.com:acme/infra is cloned without a key',
      },
    ]);
  });

  it('says which Secrets hold credentials it cannot use, and never prints a value', () => {
    const credentials = readRepoCredentials(
      [
        secret('app-auth', 'repo-creds', {
          url: 'https://github.com/acme',
          githubAppID: '1',
          githubAppInstallationID: '2',
          githubAppPrivateKey: 'PRIVATE-KEY-VALUE',
        }),
        secret('charts', 'repository', {
          type: 'helm',
          url: 'https://charts.example.com',
          password: 'helm-password',
        }),
      ],
      undefined,
    );
    expect(credentials.forURL('https://github.com/acme/shop')).toBeUndefined();
    // A Helm repository is not a Git source: no credential, and nothing to report.
    expect(credentials.forURL('https://charts.example.com')).toBeUndefined();
    expect(credentials.problems.map((problem) => problem.reason)).toEqual([
      'githubAppPrivateKey credentials are not supported: https://github.com/acme is cloned without them',
    ]);
    expect(JSON.stringify(credentials.problems)).not.toContain('PRIVATE-KEY-VALUE');
  });

  it('picks the same credential whatever order the Secrets are listed in', () => {
    const a = secret('a', 'repo-creds', { url: 'https://git.example.com/acme', password: 'a' });
    const b = secret('b', 'repo-creds', { url: 'https://git.example.com/acme', password: 'b' });
    const url = 'https://git.example.com/acme/shop';
    expect(readRepoCredentials([a, b], undefined).forURL(url)?.secret).toBe('argocd/a');
    expect(readRepoCredentials([b, a], undefined).forURL(url)?.secret).toBe('argocd/a');
  });

  it('its version changes with a password, so a rotated Secret reaches the clones', () => {
    const with_ = (password: string) =>
      readRepoCredentials(
        [secret('r', 'repository', { url: 'https://git.example.com/acme/shop', password })],
        undefined,
      ).version;
    expect(with_('one')).toBe(with_('one'));
    expect(with_('one')).not.toBe(with_('two'));
  });

  it('normalises URLs as Argo CD does', () => {
    expect(normalizeGitURL('https://GitHub.com/Acme/Shop.git')).toBe(
      'https://github.com/acme/shop',
    );
    expect(normalizeGitURL('git@github.com:acme/shop.git')).toBe('git@github.com/acme/shop');
    expect(normalizeGitURL('ssh://git@github.com/acme/shop')).toBe('git@github.com/acme/shop');
  });
});
