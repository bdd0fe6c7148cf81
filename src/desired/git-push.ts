// Push notifications from GitHub and GitLab: authenticity (HMAC or token, constant time), the
// repository and ref pushed, and which sources that concerns. No I/O: the provider acts on it.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { SourceConfig } from '../config/config.js';
import { isCommitSHA } from './repo-url.js';

export interface GitPushRequest {
  /** Node's lower-cased header map. */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The body exactly as received: the signature is computed over these bytes. */
  readonly rawBody: Buffer | string;
}

export interface GitPush {
  readonly provider: 'github' | 'gitlab';
  /** Every URL the payload gives for the repository (https, ssh, git). */
  readonly repoURLs: readonly string[];
  /** `refs/heads/main`, `refs/tags/v1.2.0`. */
  readonly ref: string;
  readonly defaultBranch: string | null;
}

/** What the HTTP layer maps to a status: triggered/ignored 202/200, unauthorized 401, bad 400. */
export type GitPushResult =
  | {
      readonly kind: 'triggered';
      readonly sources: readonly string[];
      readonly ref: string;
      /** Settles when the triggered fetches and renders are done; never rejects. */
      readonly completion: Promise<void>;
    }
  | { readonly kind: 'ignored'; readonly reason: string }
  | { readonly kind: 'unauthorized'; readonly reason: string }
  | { readonly kind: 'bad-request'; readonly reason: string };

function header(request: GitPushRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value : value?.[0];
}

function sameSecret(a: Buffer, b: Buffer): boolean {
  // Hash first so that the comparison takes the same time whatever the lengths are.
  return timingSafeEqual(
    createHash('sha256').update(a).digest(),
    createHash('sha256').update(b).digest(),
  );
}

/**
 * With a secret configured, a request must carry GitHub's `X-Hub-Signature-256` (HMAC-SHA256 of
 * the body) or GitLab's `X-Gitlab-Token`, matching it. Without a secret every request passes.
 */
export function verifyPush(
  request: GitPushRequest,
  secret: string | null,
): { readonly ok: true } | { readonly ok: false; readonly reason: string } {
  if (secret === null) return { ok: true };
  // An empty secret file would make every HMAC computable by anyone: refuse rather than accept.
  if (secret === '') return { ok: false, reason: 'the configured hook secret is empty' };
  const body = typeof request.rawBody === 'string' ? Buffer.from(request.rawBody) : request.rawBody;
  const signature = header(request, 'x-hub-signature-256');
  if (signature !== undefined) {
    if (!signature.startsWith('sha256=')) {
      return { ok: false, reason: 'X-Hub-Signature-256 is not sha256=<hex>' };
    }
    const expected = createHmac('sha256', secret).update(body).digest();
    const given = Buffer.from(signature.slice('sha256='.length), 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected)
      ? { ok: true }
      : { ok: false, reason: 'signature does not match the configured secret' };
  }
  const token = header(request, 'x-gitlab-token');
  if (token !== undefined) {
    return sameSecret(Buffer.from(token), Buffer.from(secret))
      ? { ok: true }
      : { ok: false, reason: 'X-Gitlab-Token does not match the configured secret' };
  }
  return { ok: false, reason: 'no X-Hub-Signature-256 or X-Gitlab-Token header' };
}

function stringAt(value: unknown, ...path: string[]): string | undefined {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return typeof current === 'string' && current !== '' ? current : undefined;
}

/** The push a request describes, `ignored` for other events (ping), or `invalid`. */
export function parsePush(
  request: GitPushRequest,
): { push: GitPush } | { ignored: string } | { invalid: string } {
  const github = header(request, 'x-github-event');
  const gitlab = header(request, 'x-gitlab-event');
  if (github === undefined && gitlab === undefined) {
    return { invalid: 'neither X-GitHub-Event nor X-Gitlab-Event is set' };
  }
  if (github !== undefined && github !== 'push') return { ignored: `GitHub event ${github}` };
  if (gitlab !== undefined && gitlab !== 'Push Hook' && gitlab !== 'Tag Push Hook') {
    return { ignored: `GitLab event ${gitlab}` };
  }
  let payload: unknown;
  try {
    payload = JSON.parse(
      typeof request.rawBody === 'string' ? request.rawBody : request.rawBody.toString('utf8'),
    );
  } catch {
    return { invalid: 'body is not JSON' };
  }
  const ref = stringAt(payload, 'ref');
  if (ref === undefined) return { invalid: 'payload has no ref' };
  const urls =
    github !== undefined
      ? ['clone_url', 'ssh_url', 'git_url', 'html_url', 'url'].map((key) =>
          stringAt(payload, 'repository', key),
        )
      : [
          stringAt(payload, 'project', 'git_http_url'),
          stringAt(payload, 'project', 'git_ssh_url'),
          stringAt(payload, 'project', 'web_url'),
          stringAt(payload, 'repository', 'git_http_url'),
          stringAt(payload, 'repository', 'git_ssh_url'),
          stringAt(payload, 'repository', 'homepage'),
        ];
  const repoURLs = urls.filter((url): url is string => url !== undefined);
  if (repoURLs.length === 0) return { invalid: 'payload names no repository URL' };
  const defaultBranch =
    stringAt(payload, 'repository', 'default_branch') ??
    stringAt(payload, 'project', 'default_branch') ??
    null;
  return {
    push: { provider: github !== undefined ? 'github' : 'gitlab', repoURLs, ref, defaultBranch },
  };
}

/**
 * `host/owner/repo` for every spelling of one repository: https, ssh://, scp-like, git://, with
 * or without credentials, port, `.git` or a trailing slash.
 */
export function normalizeRepoURL(url: string): string {
  let rest = url.trim();
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(rest);
  if (scheme !== null) {
    rest = rest.slice(scheme[0].length);
  } else {
    const scp = /^(?:[^@/:]+@)?([^@/:]+):(.*)$/.exec(rest);
    if (scp !== null) rest = `${scp[1] ?? ''}/${scp[2] ?? ''}`;
  }
  rest = rest.replace(/^[^@/]*@/, '');
  const slash = rest.indexOf('/');
  const host = (slash === -1 ? rest : rest.slice(0, slash)).replace(/:\d+$/, '').toLowerCase();
  const path = (slash === -1 ? '' : rest.slice(slash))
    .replace(/\/+$/, '')
    .replace(/\.git$/, '')
    .replace(/^\/+/, '');
  return `${host}/${path}`;
}

/** Whether `push` may have moved what `source` renders. Pinned commits never move. */
export function pushConcerns(push: GitPush, source: SourceConfig): boolean {
  const repo = normalizeRepoURL(source.repoURL);
  if (!push.repoURLs.some((url) => normalizeRepoURL(url) === repo)) return false;
  const revision = source.revision;
  if (revision === null) {
    return push.defaultBranch === null || push.ref === `refs/heads/${push.defaultBranch}`;
  }
  if (isCommitSHA(revision)) return false;
  return (
    push.ref === revision ||
    push.ref === `refs/heads/${revision}` ||
    push.ref === `refs/tags/${revision}`
  );
}
