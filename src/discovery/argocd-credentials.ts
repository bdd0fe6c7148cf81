// Argo CD's repository credentials, as Argo CD itself picks them: a `repository` Secret for exactly
// one URL, else the `repo-creds` template whose URL is the longest prefix of the repository's.
// Pure: Secrets in, credentials out; writing them where git can read them is the caller's.
import { createHash } from 'node:crypto';
import { isRecord, mapping, objectName, type DiscoveryProblem } from './result.js';

export const SECRET_TYPE_LABEL = 'argocd.argoproj.io/secret-type';
/** The label selector for the Secrets Argo CD reads repository credentials from. */
export const REPOSITORY_SECRETS_SELECTOR = `${SECRET_TYPE_LABEL} in (repository,repo-creds)`;
/** Argo CD's SSH known hosts, the only ones an SSH clone may trust. */
export const KNOWN_HOSTS_CONFIGMAP = 'argocd-ssh-known-hosts-cm';

export type RepoCredential =
  | {
      readonly kind: 'https';
      /** `namespace/name` of the Secret, for logs; never a value. */
      readonly secret: string;
      readonly username: string | null;
      readonly password: string;
    }
  | {
      readonly kind: 'ssh';
      readonly secret: string;
      readonly sshPrivateKey: string;
      readonly knownHosts: string;
    };

export interface RepoCredentials {
  /** The credentials Argo CD would use for `repoURL`; undefined: clone without. */
  forURL(repoURL: string): RepoCredential | undefined;
  /** Secrets that hold credentials driftgate cannot use, and why. */
  readonly problems: readonly DiscoveryProblem[];
  /** Changes whenever anything that may change a match changes. */
  readonly version: string;
  /** `namespace/name` of every Secret that provides a usable credential. */
  readonly secrets: ReadonlySet<string>;
}

interface Entry {
  readonly secret: string;
  readonly url: string;
  readonly credential: RepoCredential | undefined;
}

// Ways of logging in that Argo CD supports and a git command line with a password cannot.
const UNSUPPORTED = [
  'githubAppPrivateKey',
  'tlsClientCertData',
  'gcpServiceAccountKey',
  'bearerToken',
  'azureServicePrincipalClientSecret',
] as const;

export function readRepoCredentials(
  secrets: readonly unknown[],
  knownHosts: string | undefined,
): RepoCredentials {
  const repositories: Entry[] = [];
  const templates: Entry[] = [];
  const problems: DiscoveryProblem[] = [];
  const version = createHash('sha256');
  version.update(knownHosts ?? '');
  for (const secret of secrets) {
    const id = objectName(secret);
    if (id === undefined) continue;
    const name = `${id.namespace}/${id.name}`;
    const labels = mapping(mapping(secret, 'metadata'), 'labels');
    const type = labels?.[SECRET_TYPE_LABEL];
    const data = decodedData(secret);
    version.update(`\0${name}\0${JSON.stringify(data)}`);
    const url = data.url;
    if (url === undefined || url === '') continue;
    // Helm and OCI repositories hold charts, not the Git sources driftgate clones.
    if (data.type !== undefined && data.type !== 'git') continue;
    const problem = (reason: string) =>
      problems.push({ object: `Secret ${name}`, source: null, effect: 'partial', reason });
    let credential: RepoCredential | undefined;
    const unsupported = UNSUPPORTED.find((field) => data[field] !== undefined);
    if (unsupported !== undefined) {
      problem(`${unsupported} credentials are not supported: ${url} is cloned without them`);
    } else if (data.sshPrivateKey !== undefined) {
      if (knownHosts === undefined || knownHosts.trim() === '') {
        problem(`no SSH known hosts in ${KNOWN_HOSTS_CONFIGMAP}: ${url} is cloned without a key`);
      } else {
        if (data.insecure === 'true') {
          problem(`insecure: "true" is not honoured: the host key of ${url} is still checked`);
        }
        credential = {
          kind: 'ssh',
          secret: name,
          sshPrivateKey: data.sshPrivateKey,
          knownHosts,
        };
      }
    } else if (data.password !== undefined) {
      credential = {
        kind: 'https',
        secret: name,
        username: data.username ?? null,
        password: data.password,
      };
    }
    const entry = { secret: name, url: normalizeGitURL(url), credential };
    if (type === 'repository') repositories.push(entry);
    else if (type === 'repo-creds') templates.push(entry);
  }
  // Secrets arrive in no particular order: the same set must always pick the same credential.
  const byName = (a: Entry, b: Entry) => a.secret.localeCompare(b.secret);
  repositories.sort(byName);
  templates.sort(byName);
  return {
    problems,
    version: version.digest('hex'),
    secrets: new Set(
      [...repositories, ...templates]
        .filter((entry) => entry.credential !== undefined)
        .map((entry) => entry.secret),
    ),
    forURL(repoURL) {
      const wanted = normalizeGitURL(repoURL);
      // A repository Secret without credentials of its own inherits the template's, as in Argo CD.
      const own = repositories.find((entry) => entry.url === wanted && entry.credential);
      if (own !== undefined) return own.credential;
      let best: Entry | undefined;
      for (const entry of templates) {
        if (entry.credential === undefined || !wanted.startsWith(entry.url)) continue;
        if (best === undefined || entry.url.length > best.url.length) best = entry;
      }
      return best?.credential;
    },
  };
}

/**
 * Argo CD's `git.NormalizeGitURL`: lower case, `user@host:path` as `user@host/path`, no `.git`
 * at the end, no `ssh://` in front; so that the spellings of one repository compare equal.
 */
export function normalizeGitURL(repoURL: string): string {
  let url = repoURL.trim().toLowerCase();
  const scp = /^(?:ssh:\/\/)?[^/:]*?@[^@]+$/.test(url);
  if (scp && !url.startsWith('ssh://')) url = `ssh://${url.replace(':', '/')}`;
  if (url.endsWith('.git')) url = url.slice(0, -'.git'.length);
  return url.startsWith('ssh://') ? url.slice('ssh://'.length) : url;
}

/** A Secret's `data`, decoded from base64; the API server never returns `stringData`. */
function decodedData(secret: unknown): Record<string, string> {
  const data = mapping(secret, 'data');
  const decoded: Record<string, string> = {};
  if (!isRecord(data)) return decoded;
  for (const [key, value] of Object.entries(data)) {
    if (typeof value === 'string') decoded[key] = Buffer.from(value, 'base64').toString('utf8');
  }
  return decoded;
}
