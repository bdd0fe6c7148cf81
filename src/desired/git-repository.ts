// One cached clone per repository URL: fetches a revision (shallow where the server allows),
// resolves it to a commit and checks that commit out read-only for the renderers.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, realpath, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { simpleGit, type SimpleGit } from 'simple-git';
import type { SourceAuth } from '../config/config.js';
import { DriftgateError, errorCodes, messageOf } from './errors.js';
import {
  ALLOWED_PROTOCOLS,
  checkRepoURL,
  checkRevision,
  isCommitSHA,
  redactURL,
} from './repo-url.js';

export interface GitRepositoryOptions {
  readonly repoURL: string;
  readonly cacheDir: string;
  readonly auth: SourceAuth | null;
  readonly logger: Logger;
  /** A git process that prints nothing for this long is killed. */
  readonly timeoutMs: number;
  /** Aborting kills running git processes (shutdown). */
  readonly signal?: AbortSignal;
}

// git asks GIT_ASKPASS for the username and then the password; the answers come from the files
// named in the config, so tokens never appear in a URL, an argv, a log line or .git/config.
const ASKPASS_SCRIPT = `#!/bin/sh
case "$1" in
  Username*)
    if [ -n "$DRIFTGATE_GIT_USERNAME_FILE" ]; then cat -- "$DRIFTGATE_GIT_USERNAME_FILE"; else echo git; fi ;;
  *) cat -- "$DRIFTGATE_GIT_PASSWORD_FILE" ;;
esac
`;

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

function hashOf(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

interface GitClients {
  /** git in the cached clone. */
  readonly repository: SimpleGit;
  /** The same git, set up the same way, working in one checkout. */
  readonly checkout: (dir: string) => SimpleGit;
  /** How the clients run git, for the one command that needs its standard input. */
  readonly process: { readonly env: Record<string, string>; readonly config: readonly string[] };
}

/** A path that differs between two commits, and what it holds at the second. */
export interface ChangedPath {
  readonly path: string;
  /** Its mode at the second commit: `100644` or `100755` a file, `000000` gone. */
  readonly mode: string;
  /** Its object at the second commit (all zeros when gone). */
  readonly object: string;
}

/** An object as `git cat-file --batch` gives it, or `missing`. */
export type GitObject = { readonly type: string; readonly content: Buffer } | 'missing';

export class GitRepository {
  readonly dir: string;
  readonly displayURL: string;
  private lastDiff:
    { readonly key: string; readonly changes: Promise<ChangedPath[] | undefined> } | undefined;
  private readonly treesDir: string;
  /** When each checkout was made or reused, in the order of checkouts: the last one is kept. */
  private readonly checkedOut = new Map<string, number>();
  private checkouts = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private clients: GitClients | undefined;
  private auth: SourceAuth | null;

  constructor(private readonly options: GitRepositoryOptions) {
    const checked = checkRepoURL(options.repoURL);
    this.displayURL = redactURL(options.repoURL);
    if (!checked.ok) {
      throw new DriftgateError(
        errorCodes.unsafeSource,
        `repository ${this.displayURL} is refused: ${checked.message}`,
      );
    }
    const id = hashOf(options.repoURL);
    this.dir = join(options.cacheDir, 'repos', `${id}.git`);
    this.treesDir = join(options.cacheDir, 'trees', id);
    this.auth = options.auth;
  }

  /**
   * Credentials for the next git commands: discovered sources learn theirs (Argo CD's repository
   * Secrets) after the clone may already exist, and Secrets change.
   */
  useAuth(auth: SourceAuth | null): void {
    if (JSON.stringify(auth) === JSON.stringify(this.auth)) return;
    void this.exclusive(() => {
      this.auth = auth;
      this.clients = undefined;
      return Promise.resolve();
    });
  }

  /** Fetches `revision` (null: the remote's HEAD) and returns the commit SHA it names now. */
  fetch(revision: string | null): Promise<string> {
    if (revision !== null) {
      const checked = checkRevision(revision);
      if (!checked.ok) {
        return Promise.reject(
          new DriftgateError(errorCodes.unsafeSource, `revision is refused: ${checked.message}`),
        );
      }
    }
    return this.exclusive(() => this.fetchNow(revision));
  }

  /**
   * The files that differ between two fetched commits (paths from the repository's root), or
   * undefined when Git cannot tell (a commit no longer held, say): then assume everything did.
   */
  async changedFiles(from: string, to: string): Promise<string[] | undefined> {
    return (await this.changes(from, to))?.map((change) => change.path);
  }

  /**
   * The paths that differ between two fetched commits, with their mode and object at `to`, or
   * undefined when Git cannot tell (a commit no longer held, say): then assume everything did.
   */
  changes(from: string, to: string): Promise<ChangedPath[] | undefined> {
    if (!isCommitSHA(from) || !isCommitSHA(to)) return Promise.resolve(undefined);
    // The sources of one repository (Applications of a monorepo) ask about the same two commits.
    const key = `${from}..${to}`;
    if (this.lastDiff?.key === key) return this.lastDiff.changes;
    const changes = this.exclusive(async () => {
      try {
        const git = await this.client();
        const output = await git.raw([
          'diff',
          '--raw',
          '--no-abbrev',
          '--no-renames',
          '-z',
          from,
          to,
        ]);
        return parseRawDiff(output);
      } catch {
        return undefined;
      }
    });
    this.lastDiff = { key, changes };
    return changes;
  }

  /**
   * Each of `names` read with one git process however many there are: a full object name, or
   * `<commit>:<path>` (no line feed in it).
   */
  readObjects(names: readonly string[]): Promise<Map<string, GitObject>> {
    if (names.some((name) => !/^[0-9a-f]{40}([0-9a-f]{24})?(:[^\n]*)?$/.test(name))) {
      return Promise.reject(new Error('readObjects takes full object names, or commit:path'));
    }
    return this.exclusive(async () => {
      const { process: settings } = await this.gitClients();
      const output = await runWithInput(
        'git',
        [...settings.config.flatMap((entry) => ['-c', entry]), 'cat-file', '--batch'],
        {
          cwd: this.dir,
          env: settings.env,
          timeoutMs: this.options.timeoutMs,
          signal: this.options.signal,
        },
        names.map((name) => `${name}\n`).join(''),
      );
      return parseBatch(output, names);
    });
  }

  /**
   * Whether a symbolic link lies under one of `dirs` (`.` for the whole tree) at `commit`, or is
   * one of them or a directory they lie in: a render follows links that stay inside the
   * repository, so what it read may lie elsewhere. Undefined when Git cannot tell.
   */
  hasSymbolicLinks(commit: string, dirs: readonly string[]): Promise<boolean | undefined> {
    if (!isCommitSHA(commit)) return Promise.resolve(undefined);
    const paths = dirs.includes('.') ? [] : [...dirs];
    // Each directory a path lies in, and the path itself: a link among them is listed as such
    // by a listing that does not recurse, and a recursive one under the path lists nothing.
    const along = [
      ...new Set(
        paths.flatMap((path) =>
          path.split('/').map((_, index, parts) => parts.slice(0, index + 1).join('/')),
        ),
      ),
    ];
    return this.exclusive(async () => {
      try {
        const git = await this.client();
        const listings = [
          await git.raw(['ls-tree', '-r', '-z', '--full-tree', commit, '--', ...paths]),
        ];
        if (along.length > 0) {
          listings.push(await git.raw(['ls-tree', '-z', '--full-tree', commit, '--', ...along]));
        }
        // Entries are `<mode> <type> <object>\t<path>`; 120000 is a symbolic link.
        return listings.some((output) =>
          output.split('\0').some((entry) => entry.startsWith('120000 ')),
        );
      } catch {
        return undefined;
      }
    });
  }

  /**
   * A checkout of `commit` (real path), created once and reused while it is in use. `busy` names
   * the commits whose checkouts are being read now: any other checkout of this repository may be
   * turned into the new one, which rewrites only the files that differ (a one-file commit in a
   * repository of 10,000 files then costs a few files, not 10,000).
   */
  checkout(commit: string, busy: () => ReadonlySet<string> = () => new Set()): Promise<string> {
    if (!isCommitSHA(commit)) {
      return Promise.reject(new DriftgateError(errorCodes.gitCheckout, `not a commit: ${commit}`));
    }
    return this.exclusive(async () => {
      const dir = join(this.treesDir, commit);
      this.checkedOut.set(commit, ++this.checkouts);
      if (existsSync(join(dir, '.git'))) return realpath(dir);
      const git = await this.client();
      await rm(dir, { recursive: true, force: true });
      await mkdir(this.treesDir, { recursive: true });
      if (await this.reuseCheckout(git, commit, dir, busy())) return realpath(dir);
      try {
        await git.raw(['worktree', 'prune']);
        await git.raw(['worktree', 'add', '--detach', '--force', dir, commit]);
      } catch (error) {
        throw new DriftgateError(
          errorCodes.gitCheckout,
          `cannot check out ${commit} of ${this.displayURL}: ${this.clean(error)}`,
          {},
          { cause: error },
        );
      }
      return realpath(dir);
    });
  }

  /**
   * Moves an idle checkout to `dir` and switches it to `commit`: forced, and cleaned of anything
   * untracked, so it holds exactly the commit. False (and no checkout left behind) when there is
   * no idle checkout or git fails, and a fresh one is made instead.
   */
  private async reuseCheckout(
    git: SimpleGit,
    commit: string,
    dir: string,
    busy: ReadonlySet<string>,
  ): Promise<boolean> {
    const idle = (await readdir(this.treesDir)).find(
      (name) => !busy.has(name) && existsSync(join(this.treesDir, name, '.git')),
    );
    if (idle === undefined) return false;
    try {
      await git.raw(['worktree', 'move', join(this.treesDir, idle), dir]);
      this.checkedOut.delete(idle);
      const tree = (await this.gitClients()).checkout(dir);
      await tree.raw(['checkout', '--force', '--detach', '--quiet', commit]);
      await tree.raw(['clean', '-ffdxq']);
      return true;
    } catch (error) {
      this.options.logger.warn(
        { repoURL: this.displayURL, commit, error: this.clean(error) },
        'cannot reuse a checkout; checking out afresh',
      );
      await rm(dir, { recursive: true, force: true });
      await rm(join(this.treesDir, idle), { recursive: true, force: true });
      return false;
    }
  }

  /**
   * Removes the checkouts no render uses any more, all but the last one made: a later commit that
   * needs a checkout turns that one into its own (a few files rewritten, not every file). git
   * removes them, in a process of its own: `fs.rm` of a checkout of 20,000 files is 40,000
   * callbacks on the event loop, which held reviews up for up to 190 ms at a time.
   */
  removeCheckoutsExcept(inUse: () => ReadonlySet<string>): Promise<void> {
    return this.exclusive(async () => {
      if (!existsSync(this.treesDir)) return;
      const git = await this.client();
      // Asked only now, inside the queue, so a checkout made just before is seen as in use.
      const keep = inUse();
      const idle = (await readdir(this.treesDir)).filter((commit) => !keep.has(commit));
      const made = (commit: string) => this.checkedOut.get(commit) ?? 0;
      const spare = idle
        .filter((commit) => existsSync(join(this.treesDir, commit, '.git')))
        .reduce<string | undefined>(
          (last, commit) => (last === undefined || made(commit) > made(last) ? commit : last),
          undefined,
        );
      const removed = idle.filter((commit) => commit !== spare);
      for (const commit of removed) {
        const dir = join(this.treesDir, commit);
        this.checkedOut.delete(commit);
        // Twice forced: also when files were changed in it, or it is locked.
        await git.raw(['worktree', 'remove', '--force', '--force', dir]).catch(() => undefined);
        // What git does not know as a worktree (an interrupted checkout) is removed here.
        await rm(dir, { recursive: true, force: true });
      }
      // After most commits there is nothing to remove, and no git to start in a large process.
      if (removed.length > 0) await git.raw(['worktree', 'prune']);
    });
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    // Fetches and checkouts of one clone run one at a time: git locks its refs and index, and two
    // concurrent fetches into the same shallow clone can fail each other.
    const result = this.queue.then(work, work);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async client(): Promise<SimpleGit> {
    return (await this.gitClients()).repository;
  }

  private async gitClients(): Promise<GitClients> {
    if (this.clients !== undefined) return this.clients;
    const { cacheDir, timeoutMs } = this.options;
    const auth = this.auth;
    const home = join(cacheDir, 'home');
    await mkdir(home, { recursive: true });
    const env: Record<string, string> = {
      PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: home,
      LANG: 'C',
      LC_ALL: 'C',
      GIT_TERMINAL_PROMPT: '0',
      GIT_CONFIG_NOSYSTEM: '1',
      // Transport helpers (ext::, fd::) run arbitrary programs: only these protocols may be used,
      // also for redirects and submodules.
      GIT_ALLOW_PROTOCOL: ALLOWED_PROTOCOLS.join(':'),
    };
    // A Git server whose certificate a private CA signed: the admin mounts the CA bundle and
    // names it in driftgate's own GIT_SSL_CAINFO.
    const caInfo = process.env['GIT_SSL_CAINFO'];
    if (caInfo !== undefined && caInfo !== '') env['GIT_SSL_CAINFO'] = caInfo;
    const allowEnvironment = [
      'GIT_TERMINAL_PROMPT',
      'GIT_CONFIG_NOSYSTEM',
      'GIT_ALLOW_PROTOCOL',
      'GIT_SSH_COMMAND',
      'GIT_ASKPASS',
      'GIT_SSL_CAINFO',
    ];
    // git runs in the clone, and so do ssh and the askpass script: credential files named
    // relative to driftgate's working directory (as the cache directory may be) are resolved here.
    if (auth?.kind === 'ssh') {
      env['GIT_SSH_COMMAND'] = [
        'ssh',
        '-i',
        shellQuote(resolve(auth.sshKeyFile)),
        '-o IdentitiesOnly=yes',
        `-o UserKnownHostsFile=${shellQuote(resolve(auth.knownHostsFile))}`,
        '-o StrictHostKeyChecking=yes',
        '-o BatchMode=yes',
      ].join(' ');
    } else {
      // Never an interactive prompt, never the agent or keys of whoever runs driftgate.
      env['GIT_SSH_COMMAND'] = 'ssh -o BatchMode=yes -o IdentitiesOnly=yes -F /dev/null';
    }
    if (auth?.kind === 'https') {
      const askpass = join(cacheDir, 'askpass.sh');
      await writeFile(askpass, ASKPASS_SCRIPT, { mode: 0o700 });
      await chmod(askpass, 0o700);
      env['GIT_ASKPASS'] = askpass;
      env['DRIFTGATE_GIT_PASSWORD_FILE'] = resolve(auth.passwordFile);
      if (auth.usernameFile !== null)
        env['DRIFTGATE_GIT_USERNAME_FILE'] = resolve(auth.usernameFile);
    }
    await mkdir(this.dir, { recursive: true });
    const config = [
      'protocol.allow=never',
      ...ALLOWED_PROTOCOLS.map((protocol) => `protocol.${protocol}.allow=always`),
      'core.symlinks=true',
      'submodule.recurse=false',
      'advice.detachedHead=false',
    ];
    const at = (baseDir: string): SimpleGit =>
      simpleGit({
        baseDir,
        timeout: { block: timeoutMs },
        ...(this.options.signal === undefined ? {} : { abort: this.options.signal }),
        allowEnvironment,
        // simple-git guards these because they can widen what git runs; here they only narrow it
        // (protocol.allow=never plus the four transports) or point at our own files.
        unsafe: {
          allowUnsafeSshCommand: true,
          allowUnsafeAskPass: true,
          allowUnsafeProtocolOverride: true,
        },
        config,
      }).env(env);
    const git = at(this.dir);
    if (!existsSync(join(this.dir, 'HEAD'))) {
      await git.raw(['init', '--bare', '--quiet']);
      await git.raw(['remote', 'add', 'origin', this.options.repoURL]);
    }
    this.clients = { repository: git, checkout: at, process: { env, config } };
    return this.clients;
  }

  private async fetchNow(revision: string | null): Promise<string> {
    const git = await this.client();
    const wanted = revision ?? 'HEAD';
    // A private ref per revision keeps what was fetched reachable and independent of FETCH_HEAD,
    // which concurrent fetches of other revisions would overwrite.
    const ref = `refs/driftgate/${hashOf(wanted)}`;
    const started = Date.now();
    try {
      await git.raw([
        'fetch',
        '--depth=1',
        '--no-tags',
        '--force',
        '--no-write-fetch-head',
        '--end-of-options',
        'origin',
        `+${wanted}:${ref}`,
      ]);
    } catch (error) {
      if (!(revision !== null && isCommitSHA(revision) && !this.isAuthProblem(error))) {
        throw this.fetchError(wanted, error);
      }
      // Servers that refuse to serve an unadvertised commit by SHA: fetch every branch and tag
      // with full history, then look the commit up locally.
      await this.fetchEverything(wanted);
      try {
        await git.raw(['cat-file', '-e', '--end-of-options', `${revision}^{commit}`]);
      } catch (missing) {
        throw new DriftgateError(
          errorCodes.gitRevision,
          `revision ${revision} not found in ${this.displayURL}: no branch or tag contains that commit`,
          {},
          { cause: missing },
        );
      }
      await git.raw(['update-ref', ref, revision]);
    }
    let commit: string;
    try {
      commit = (
        await git.raw(['rev-parse', '--verify', '--end-of-options', `${ref}^{commit}`])
      ).trim();
    } catch (error) {
      throw this.fetchError(wanted, error);
    }
    this.options.logger.debug(
      { repoURL: this.displayURL, revision: wanted, commit, ms: Date.now() - started },
      'fetched',
    );
    return commit;
  }

  private async fetchEverything(wanted: string): Promise<void> {
    const git = await this.client();
    const args = ['fetch', '--no-tags', '--force', '--no-write-fetch-head'];
    if (existsSync(join(this.dir, 'shallow'))) args.push('--unshallow');
    args.push(
      '--end-of-options',
      'origin',
      '+refs/heads/*:refs/remotes/origin/*',
      '+refs/tags/*:refs/tags/*',
    );
    try {
      await git.raw(args);
    } catch (error) {
      throw this.fetchError(wanted, error);
    }
  }

  private isAuthProblem(error: unknown): boolean {
    return /Authentication failed|could not read (Username|Password)|Permission denied|Host key verification failed|terminal prompts disabled|HTTP Basic: Access denied/i.test(
      messageOf(error),
    );
  }

  private fetchError(revision: string, error: unknown): DriftgateError {
    const detail = this.clean(error);
    if (this.isAuthProblem(error)) {
      return new DriftgateError(
        errorCodes.gitCredentials,
        `cannot authenticate to ${this.displayURL}: ${detail} (check the source's auth files and, for ssh, known_hosts)`,
        {},
        { cause: error },
      );
    }
    if (
      /couldn't find remote ref|not our ref|unadvertised object|bad object|Needed a single revision|unknown revision/i.test(
        detail,
      )
    ) {
      return new DriftgateError(
        errorCodes.gitRevision,
        `revision ${revision} not found in ${this.displayURL}: ${detail}`,
        {},
        { cause: error },
      );
    }
    return new DriftgateError(
      errorCodes.gitFetch,
      `cannot fetch ${revision} from ${this.displayURL}: ${detail}`,
      {},
      { cause: error },
    );
  }

  /** git's own message, one line, without any credentials a server echoed back. */
  private clean(error: unknown): string {
    const text = messageOf(error)
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('hint:'))
      .join('; ');
    return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1').slice(0, 500);
  }
}

/** `git diff --raw -z` output: `:<mode> <mode> <object> <object> <status>` NUL `<path>` NUL. */
function parseRawDiff(output: string): ChangedPath[] {
  // By position, not with a split per entry: a commit that touches every one of 10,000 files
  // gives 10,000 entries, read on the event loop, and splitting each made five strings of which
  // two are kept (three times as long, BENCHMARKS.md).
  const changes: ChangedPath[] = [];
  for (let at = 0; at < output.length;) {
    const headerEnd = output.indexOf('\0', at);
    const pathEnd = headerEnd === -1 ? -1 : output.indexOf('\0', headerEnd + 1);
    const modeStart = output.indexOf(' ', at) + 1;
    const modeEnd = output.indexOf(' ', modeStart);
    const objectStart = output.indexOf(' ', modeEnd + 1) + 1;
    const objectEnd = output.indexOf(' ', objectStart);
    if (pathEnd === -1 || modeStart === 0 || !(objectStart <= objectEnd && objectEnd < headerEnd))
      throw new Error(`unexpected diff entry ${output.slice(at, at + 200)}`);
    changes.push({
      path: output.slice(headerEnd + 1, pathEnd),
      mode: output.slice(modeStart, modeEnd),
      object: output.slice(objectStart, objectEnd),
    });
    at = pathEnd + 1;
  }
  return changes;
}

/**
 * `git cat-file --batch` output for `names`, asked in that order: `<object> <type> <size>` LF,
 * the content, LF; or `<name> missing` LF.
 */
function parseBatch(output: Buffer, names: readonly string[]): Map<string, GitObject> {
  const objects = new Map<string, GitObject>();
  let at = 0;
  for (const name of names) {
    const end = output.indexOf(0x0a, at);
    if (end === -1) throw new Error('git cat-file --batch ended early');
    const header = output.toString('latin1', at, end);
    at = end + 1;
    // Not found: the name asked (spaces and all) and why, with no content after it.
    if (header.endsWith(' missing') || header.endsWith(' ambiguous')) {
      objects.set(name, 'missing');
      continue;
    }
    const [, type = '', size = ''] = header.split(' ');
    const bytes = Number(size);
    if (!Number.isSafeInteger(bytes) || at + bytes > output.length)
      throw new Error(`unexpected git cat-file --batch header ${header}`);
    objects.set(name, { type, content: output.subarray(at, at + bytes) });
    at += bytes + 1;
  }
  return objects;
}

/** Runs `command` with `input` on its standard input; its standard output, or an error. */
function runWithInput(
  command: string,
  args: readonly string[],
  options: {
    readonly cwd: string;
    readonly env: Record<string, string>;
    readonly timeoutMs: number;
    readonly signal: AbortSignal | undefined;
  },
  input: string,
): Promise<Buffer> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolvePromise(Buffer.concat(out));
      else {
        const why = Buffer.concat(err).toString('utf8').trim() || `exit ${code ?? signal}`;
        reject(new Error(`${command} ${args.at(-2) ?? ''} ${args.at(-1) ?? ''}: ${why}`));
      }
    });
    // A git that exits early closes its input: the error comes from `close` above.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}
