// What a source may name: repository URLs, revisions and paths that cannot turn into a git
// option, a transport helper or a file outside the repository. Pure checks, used by config.

/** Transports git may use for a source. Anything else (ext::, fd::, helpers) runs programs. */
export const ALLOWED_PROTOCOLS = ['https', 'ssh', 'git', 'file'] as const;
export type RepoProtocol = (typeof ALLOWED_PROTOCOLS)[number];

export type Checked<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

// Control characters and whitespace never belong in a URL or ref, and a newline in a URL has
// been used to smuggle configuration into git's credential protocol.
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u0020\u007f]/;
const URL_SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;
// scp-like `[user@]host:path`: git reads it as ssh when no slash comes before the first colon.
const SCP_LIKE = /^(?:([^@/:]+)@)?([^@/:]+):(.*)$/;

/** The transport of `repoURL`, or why it is refused. */
export function checkRepoURL(repoURL: string): Checked<RepoProtocol> {
  if (repoURL === '') return { ok: false, message: 'must not be empty' };
  if (repoURL.startsWith('-')) return { ok: false, message: 'must not start with "-"' };
  if (UNPRINTABLE.test(repoURL)) {
    return { ok: false, message: 'must not contain spaces or control characters' };
  }
  const scheme = URL_SCHEME.exec(repoURL)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    if (repoURL.includes('::')) {
      return { ok: false, message: 'transport helpers such as "ext::" are not allowed' };
    }
    const scp = SCP_LIKE.exec(repoURL);
    if (scp === null) {
      return {
        ok: false,
        message: 'must be an https://, ssh://, git:// or file:// URL, or user@host:path',
      };
    }
    const host = scp[2] ?? '';
    const path = scp[3] ?? '';
    if (host.startsWith('-') || path.startsWith('-')) {
      return { ok: false, message: 'host and path must not start with "-"' };
    }
    if (path === '') return { ok: false, message: 'has no repository path after ":"' };
    return { ok: true, value: 'ssh' };
  }
  if (!(ALLOWED_PROTOCOLS as readonly string[]).includes(scheme)) {
    return {
      ok: false,
      message: `scheme "${scheme}" is not allowed (use one of ${ALLOWED_PROTOCOLS.join(', ')})`,
    };
  }
  let url: URL;
  try {
    url = new URL(repoURL);
  } catch {
    return { ok: false, message: 'is not a valid URL' };
  }
  if (url.hostname.startsWith('-')) return { ok: false, message: 'host must not start with "-"' };
  if (scheme !== 'file' && url.hostname === '') return { ok: false, message: 'has no host' };
  if (url.password !== '') {
    return {
      ok: false,
      message: 'must not carry a password or token; put it in auth.passwordFile',
    };
  }
  return { ok: true, value: scheme as RepoProtocol };
}

/** `repoURL` as it may be printed: user information removed. */
export function redactURL(repoURL: string): string {
  const scheme = URL_SCHEME.exec(repoURL);
  if (scheme === null) return repoURL.replace(/^[^@/:]+@/, '');
  const rest = repoURL.slice(scheme[0].length);
  const at = rest.indexOf('@');
  const slash = rest.indexOf('/');
  if (at === -1 || (slash !== -1 && slash < at)) return repoURL;
  return `${scheme[0]}${rest.slice(at + 1)}`;
}

// A conservative subset of git-check-ref-format that every branch, tag and SHA people use fits,
// and that git can never read as an option, a range, a reflog selector or a pathspec.
const REVISION = /^[A-Za-z0-9._/+=-]+$/;

export function checkRevision(revision: string): Checked<string> {
  if (revision === '') return { ok: false, message: 'must not be empty' };
  if (revision.length > 255) return { ok: false, message: 'is longer than 255 characters' };
  if (revision.startsWith('-')) return { ok: false, message: 'must not start with "-"' };
  if (!REVISION.test(revision)) {
    return {
      ok: false,
      message: 'may contain only letters, digits and . _ / + = - (a branch, tag or commit SHA)',
    };
  }
  if (
    revision.includes('..') ||
    revision.includes('//') ||
    revision.startsWith('/') ||
    revision.endsWith('/') ||
    revision.endsWith('.') ||
    revision.endsWith('.lock')
  ) {
    return { ok: false, message: 'is not a valid branch, tag or commit name' };
  }
  return { ok: true, value: revision };
}

export function isCommitSHA(revision: string): boolean {
  return /^[0-9a-f]{40}$/.test(revision) || /^[0-9a-f]{64}$/.test(revision);
}

/** A path inside the repository, normalised to `a/b` form ('.' for the root). */
export function checkSourcePath(path: string): Checked<string> {
  if (path.includes('\0')) return { ok: false, message: 'must not contain NUL' };
  if (path.startsWith('/') || path.startsWith('\\') || /^[A-Za-z]:/.test(path)) {
    return { ok: false, message: 'must be relative to the repository root' };
  }
  const segments = path.split(/[/\\]+/).filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) {
    return { ok: false, message: 'must not leave the repository (no ".." segments)' };
  }
  return { ok: true, value: segments.length === 0 ? '.' : segments.join('/') };
}
