// The Git DesiredProvider: fetches and renders each source, swaps in a new snapshot whole, keeps
// the last good one (in memory and on disk) when Git or a renderer fails, and reports staleness.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { SourceConfig } from '../config/config.js';
import type { DiscoveryProblem } from '../discovery/result.js';
import { DriftgateError, errorCodes, isDriftgateError, messageOf } from './errors.js';
import { GitRepository, type GitObject } from './git-repository.js';
import {
  parsePush,
  pushConcerns,
  verifyPush,
  type GitPushRequest,
  type GitPushResult,
} from './git-push.js';
import type { RenderedDocument } from './manifest-parser.js';
import { ParseWorkerPool, type ChangedFile } from './parse-task.js';
import type { DesiredProvider, SourceStatus } from './provider.js';
import { isLeftAloneByFlux } from './render-options.js';
import { renderInputs, touchesInputs } from './render-inputs.js';
import {
  applyDeltaByFile,
  defaultRenderLimits,
  documentsByFile,
  KUSTOMIZATION_FILES,
  renderChanges,
  renderKindAt,
  renderSource,
  type DocumentsByFile,
  type RenderLimits,
} from './render.js';
import { redactURL } from './repo-url.js';
import {
  buildSnapshotInSlices,
  emptySnapshot,
  formatConflict,
  listsOf,
  type DesiredSnapshot,
  type RenderDocuments,
  type SourceRender,
} from './snapshot.js';
import { Slices } from './slices.js';

export interface GitProviderOptions {
  readonly sources: readonly SourceConfig[];
  /** Clones, checkouts and the persisted snapshot; relative paths resolve against the cwd. */
  readonly cacheDir: string;
  readonly limits?: Partial<RenderLimits>;
  /** A git process silent for this long is killed (default 120 s). */
  readonly gitTimeoutMs?: number;
  /**
   * refreshIfOlderThan starts at most one refresh per this interval (default 3 s: shorter than
   * the age it is asked for, or a stream of denials would wait for every other fetch).
   */
  readonly minRefreshIntervalMs?: number;
  /** refreshIfOlderThan waits at most this long (default 1 s). */
  readonly refreshWaitMs?: number;
  /** Poll every source at its pollInterval (default true). */
  readonly poll?: boolean;
  /** Write the last good render of each source to the cache (default true). */
  readonly persist?: boolean;
  /** Serve the persisted snapshot at start (default true). */
  readonly restore?: boolean;
  /** A render that would drop more than this share of a source's objects is held (see Config). */
  readonly safety?: {
    readonly maxDeletionShare: number;
    readonly acceptDeletionsAt: string | null;
  };
}

export interface GitProviderDeps {
  readonly logger: Logger;
  /** Milliseconds since the epoch; tests may pass their own clock. */
  readonly now?: () => number;
  /**
   * Work on a new snapshot before it is swapped in (the policy's index of it), so that the
   * first decision on it finds it done.
   */
  readonly prepare?: (snapshot: DesiredSnapshot) => Promise<void>;
}

interface SourceState {
  /** Replaced when discovery changes the source (see setDiscoveredSources). */
  config: SourceConfig;
  repository: GitRepository;
  /** The config changed how the source renders: the next refresh renders even an unchanged commit. */
  rerender: boolean;
  discovered: boolean;
  render: SourceRender | undefined;
  /**
   * The served render's documents by file, and how many of them the deletion guard counts under
   * each key: kept for the next delta, worked out from the documents when undefined.
   */
  byFile: DocumentsByFile | undefined;
  guardKeys: Map<string, number> | undefined;
  restored: boolean;
  lastSuccessAt: number | undefined;
  lastAttemptAt: number | undefined;
  lastError: { code: string; message: string; at: number } | undefined;
  /** What the served render left out and could not judge (Argo CD: Jsonnet, generateName). */
  notes: readonly string[];
  /** The last failure or notes logged at warning level: a discovered source logs each once. */
  logged: string | undefined;
  /** Commit being rendered now: its checkout must survive pruning. */
  checkoutInUse: string | undefined;
  /** The directories and files the served render read (render-inputs.ts); undefined when unknown. */
  inputs: readonly string[] | undefined;
  /**
   * The parse the served render's documents came from (its source config and commit), while
   * the parse worker may still hold it: a later commit then sends only its changed files.
   */
  parsed:
    | {
        readonly token: string;
        readonly commit: string;
        /** Read as plain manifest files: a later commit's changes can be read from Git alone. */
        readonly plain: boolean;
      }
    | undefined;
  running: Promise<boolean> | undefined;
  queued: Promise<boolean> | undefined;
  timer: NodeJS.Timeout | undefined;
}

/**
 * A commit changing more of a plain source's files than this is rendered from a checkout: the
 * changed files are held in memory at once when read from Git.
 */
const MAX_CHANGES_FROM_GIT = 1_000;
// Git's modes of a regular file; a link is 120000, a submodule 160000.
const REGULAR_FILE_MODES = new Set(['100644', '100755']);

/** The share of refreshIfOlderThan's age past which it fetches ahead, without waiting. */
const REFRESH_AHEAD = 0.6;

/** Settles with `promise` or after `ms`, whichever is first, without keeping the process up. */
function within(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolvePromise) => {
    const timer = setTimeout(resolvePromise, ms);
    timer.unref();
    void promise.finally(() => {
      clearTimeout(timer);
      resolvePromise();
    });
  });
}

/** What a persisted render must match to be served for a source (its config, not its name). */
function fingerprintOf(source: SourceConfig): string {
  const { repoURL, revision, path, namespace, render, command, include, exclude } = source;
  // Options only discovered sources carry: absent ones leave a configured source's print as it was.
  const { helm, kustomize, substitute, fluxAnnotations, argocd } = source;
  return createHash('sha256')
    .update(
      JSON.stringify({
        repoURL,
        revision,
        path,
        namespace,
        render,
        command,
        include,
        exclude,
        helm,
        kustomize,
        substitute,
        fluxAnnotations,
        argocd,
      }),
    )
    .digest('hex');
}

/** A file or directory name for a source: discovered names hold `:` and `/`. */
function fileNameOf(source: string): string {
  if (/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(source)) return source;
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 12);
  return `${source.replace(/[^a-z0-9.-]+/g, '_')}-${hash}`;
}

interface PersistedHeader {
  readonly source: string;
  readonly fingerprint: string;
  readonly commit: string;
  readonly renderedAt: number;
}

function isPersistedHeader(value: unknown): value is PersistedHeader {
  if (typeof value !== 'object' || value === null) return false;
  const header = value as Record<string, unknown>;
  return (
    typeof header['source'] === 'string' &&
    typeof header['fingerprint'] === 'string' &&
    typeof header['commit'] === 'string' &&
    typeof header['renderedAt'] === 'number'
  );
}

export class GitDesiredProvider implements DesiredProvider {
  private snapshot: DesiredSnapshot;
  private states: SourceState[];
  /** Configured and discovered sources, one list per change (decide caches by its identity). */
  private allSources: readonly SourceConfig[];
  private started = false;
  private readonly repositories = new Map<string, GitRepository>();
  private readonly cacheDir: string;
  private readonly limits: RenderLimits;
  private readonly now: () => number;
  private readonly logger: Logger;
  private refreshingAll: Promise<void> | undefined;
  private lastOnDemandRefreshAt = Number.NEGATIVE_INFINITY;
  private lastConflicts = '';
  private stopped = false;
  private readonly pending = new Set<Promise<unknown>>();
  private readonly parser = new ParseWorkerPool();
  private readonly shutdown = new AbortController();
  /** Per source, the commit whose render the deletion guard holds back. */
  private readonly held = new Map<string, string>();
  /** Snapshot builds begun: only the latest one's snapshot is swapped in. */
  private builds = 0;
  private readonly prepare: GitProviderDeps['prepare'];

  constructor(
    private readonly options: GitProviderOptions,
    deps: GitProviderDeps,
  ) {
    this.logger = deps.logger;
    this.now = deps.now ?? Date.now;
    this.prepare = deps.prepare;
    this.cacheDir = resolve(options.cacheDir);
    this.limits = { ...defaultRenderLimits, ...options.limits };
    this.snapshot = emptySnapshot(new Date(this.now()));
    this.allSources = options.sources;
    this.states = options.sources.map((config) => this.newState(config, false));
  }

  /** One clone per repository URL, however many sources (paths, revisions, Applications) read it. */
  private repositoryFor(config: SourceConfig): GitRepository {
    let repository = this.repositories.get(config.repoURL);
    if (repository === undefined) {
      repository = new GitRepository({
        repoURL: config.repoURL,
        cacheDir: this.cacheDir,
        auth: config.auth,
        logger: this.logger,
        timeoutMs: this.options.gitTimeoutMs ?? 120_000,
        signal: this.shutdown.signal,
      });
      this.repositories.set(config.repoURL, repository);
    } else if (config.auth !== null) {
      // A discovered source's credentials may arrive or change after the clone was made.
      repository.useAuth(config.auth);
    }
    return repository;
  }

  private newState(config: SourceConfig, discovered: boolean): SourceState {
    return {
      config,
      repository: this.repositoryFor(config),
      rerender: false,
      discovered,
      render: undefined,
      byFile: undefined,
      guardKeys: undefined,
      inputs: undefined,
      parsed: undefined,
      restored: false,
      lastSuccessAt: undefined,
      lastAttemptAt: undefined,
      lastError: undefined,
      notes: [],
      logged: undefined,
      checkoutInUse: undefined,
      running: undefined,
      queued: undefined,
      timer: undefined,
    };
  }

  /** Every source objects come from: configured, then discovered. Pass it to decide. */
  sources(): readonly SourceConfig[] {
    return this.allSources;
  }

  /**
   * Replaces the discovered sources (Argo CD Applications, Flux Kustomizations) with `sources`:
   * a new one is fetched and rendered, a changed one (a new synced revision, other options) is
   * rendered again while its last render is served, a removed one's objects leave. Resolves once
   * the new snapshot, built from all of that, is swapped in whole. A name that a configured
   * source already uses, or that repeats, is ignored and logged.
   */
  async setDiscoveredSources(sources: readonly SourceConfig[]): Promise<void> {
    if (this.stopped) return;
    const configured = new Set(this.options.sources.map((source) => source.name));
    const wanted = new Map<string, SourceConfig>();
    for (const source of sources) {
      if (configured.has(source.name) || wanted.has(source.name)) {
        this.logger.warn({ source: source.name }, 'discovered source name already used; ignored');
        continue;
      }
      wanted.set(source.name, source);
    }
    const byName = new Map(this.states.map((state) => [state.config.name, state]));
    const refresh: SourceState[] = [];
    let removed = false;
    const next: SourceState[] = [];
    for (const state of this.states) {
      if (!state.discovered || wanted.has(state.config.name)) {
        next.push(state);
        continue;
      }
      clearTimeout(state.timer);
      state.timer = undefined;
      removed = true;
      this.logger.info({ source: state.config.name }, 'discovered source removed');
    }
    for (const [name, config] of wanted) {
      const existing = byName.get(name);
      if (existing === undefined) {
        const state = this.newState(config, true);
        next.push(state);
        refresh.push(state);
        if (this.started && (this.options.poll ?? true)) this.schedulePoll(state);
        this.logger.info({ source: name, revision: config.revision }, 'discovered source added');
        continue;
      }
      if (existing.config === config) continue;
      const rendersDifferently = fingerprintOf(existing.config) !== fingerprintOf(config);
      existing.config = config;
      existing.repository = this.repositoryFor(config);
      if (rendersDifferently) {
        existing.rerender = true;
        refresh.push(existing);
        this.logger.info({ source: name, revision: config.revision }, 'discovered source changed');
      }
    }
    this.states = next;
    this.allSources = [
      ...this.options.sources,
      ...next.filter((state) => state.discovered).map((state) => state.config),
    ];
    // After a restart, a discovered source serves its last render until Git answers.
    const added = refresh.filter((state) => state.render === undefined);
    if ((this.options.restore ?? true) && added.length > 0) {
      await Promise.all(added.map((state) => this.restoreState(state)));
      if (added.some((state) => state.restored)) await this.rebuild();
    }
    const changed = await this.track(
      Promise.all(refresh.map((state) => this.refreshSource(state, true))),
    );
    if (removed || changed.some(Boolean)) await this.rebuild(true);
  }

  current(): DesiredSnapshot {
    return this.snapshot;
  }

  async start(): Promise<void> {
    this.started = true;
    if (this.options.restore ?? true) await this.restore();
    const first = this.refreshAll();
    // With a persisted snapshot, serve it now and let Git catch up; without one, the first
    // render is all there is to serve.
    if (this.snapshot.origin === 'empty') await first;
    if (this.options.poll ?? true) {
      for (const state of this.states) this.schedulePoll(state);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const state of this.states) {
      clearTimeout(state.timer);
      state.timer = undefined;
    }
    // A fetch from a hung server would otherwise hold shutdown for the whole git timeout.
    this.shutdown.abort();
    await Promise.allSettled([...this.pending]);
    await this.parser.close();
  }

  status(): readonly SourceStatus[] {
    const now = this.now();
    const iso = (ms: number | undefined): string | null =>
      ms === undefined ? null : new Date(ms).toISOString();
    return this.states.map((state) => ({
      name: state.config.name,
      repoURL: redactURL(state.config.repoURL),
      revision: state.config.revision ?? 'HEAD',
      commit: state.render?.commit ?? null,
      objects: state.render?.documents.length ?? 0,
      restored: state.restored,
      stale: state.lastError !== undefined || state.restored || state.render === undefined,
      lastSuccessAt: iso(state.lastSuccessAt),
      lastAttemptAt: iso(state.lastAttemptAt),
      ageMs: state.lastSuccessAt === undefined ? null : now - state.lastSuccessAt,
      lastError:
        state.lastError === undefined
          ? null
          : {
              code: state.lastError.code,
              message: state.lastError.message,
              at: new Date(state.lastError.at).toISOString(),
            },
    }));
  }

  /**
   * Discovered sources that render with problems, as discovery problems of their Application or
   * Kustomization: a failed fetch or render (nothing judged, or the last good commit judged) and
   * what a render left out unjudged.
   */
  discoveryProblems(): DiscoveryProblem[] {
    const problems: DiscoveryProblem[] = [];
    for (const state of this.states) {
      const origin = state.config.origin;
      if (!state.discovered || origin === undefined || origin.kind === 'config') continue;
      const object = `${origin.kind === 'argocd' ? 'Application' : 'Kustomization'} ${origin.object}`;
      const source = state.config.name;
      if (state.lastError !== undefined) {
        const serving = state.render?.commit;
        problems.push({
          object,
          source,
          effect: serving === undefined ? 'skipped' : 'partial',
          reason:
            serving === undefined
              ? `cannot be fetched or rendered, its objects are not judged: ${state.lastError.message}`
              : `cannot be fetched or rendered, judged against commit ${serving.slice(0, 12)}: ${state.lastError.message}`,
        });
      }
      if (state.render !== undefined && state.notes.length > 0) {
        problems.push({ object, source, effect: 'partial', reason: notesReason(state.notes) });
      }
    }
    return problems;
  }

  /**
   * For a denial that Git may already have overtaken: when a source was last fetched more than
   * `maxAgeMs` ago, fetches (one fetch for all callers) and waits for it, at most refreshWaitMs.
   * Past REFRESH_AHEAD of that age it starts the fetch without waiting, so that a stream of
   * denials keeps the snapshot fresh instead of queueing behind a fetch every few seconds.
   */
  async refreshIfOlderThan(maxAgeMs: number): Promise<void> {
    if (this.stopped || this.states.length === 0) return;
    const now = this.now();
    const oldest = Math.min(
      ...this.states.map((state) => state.lastSuccessAt ?? Number.NEGATIVE_INFINITY),
    );
    const age = now - oldest;
    if (age <= maxAgeMs * REFRESH_AHEAD) return;
    let refresh = this.refreshingAll;
    if (refresh === undefined) {
      // Denials can come in bursts; a Git server must not see one fetch per denied request.
      if (now - this.lastOnDemandRefreshAt < (this.options.minRefreshIntervalMs ?? 3_000)) return;
      this.lastOnDemandRefreshAt = now;
      refresh = this.refreshAll();
    }
    if (age <= maxAgeMs) return;
    await within(refresh, this.options.refreshWaitMs ?? 1_000);
  }

  /** Fetches and renders every source now (shared by concurrent callers); never rejects. */
  refreshAll(): Promise<void> {
    if (this.refreshingAll !== undefined) return this.refreshingAll;
    const refresh = this.track(
      Promise.all(this.states.map((state) => this.refreshSource(state, false))).then((changed) =>
        changed.some(Boolean) ? this.rebuild() : undefined,
      ),
    ).finally(() => {
      this.refreshingAll = undefined;
    });
    this.refreshingAll = refresh;
    return refresh;
  }

  /**
   * Handles a push notification: verifies it against `secret` (null: not configured) and
   * fetches the sources it concerns now. Returns before the fetch completes.
   */
  handleGitPush(request: GitPushRequest, secret: string | null): GitPushResult {
    const verified = verifyPush(request, secret);
    if (!verified.ok) {
      this.logger.warn({ reason: verified.reason }, 'git push notification refused');
      return { kind: 'unauthorized', reason: verified.reason };
    }
    const parsed = parsePush(request);
    if ('invalid' in parsed) return { kind: 'bad-request', reason: parsed.invalid };
    if ('ignored' in parsed) return { kind: 'ignored', reason: parsed.ignored };
    const { push } = parsed;
    const concerned = this.states.filter((state) => pushConcerns(push, state.config));
    if (concerned.length === 0) {
      return {
        kind: 'ignored',
        reason: `no source follows ${push.ref} of ${redactURL(push.repoURLs[0] ?? '')}`,
      };
    }
    const sources = concerned.map((state) => state.config.name);
    this.logger.info({ sources, ref: push.ref }, 'git push: fetching now');
    // `force`: a fetch already running may have started before this push landed.
    const completion = this.track(
      Promise.all(concerned.map((state) => this.refreshSource(state, true))).then((changed) =>
        changed.some(Boolean) ? this.rebuild() : undefined,
      ),
    );
    return { kind: 'triggered', sources, ref: push.ref, completion };
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise));
    return promise;
  }

  private schedulePoll(state: SourceState): void {
    if (this.stopped) return;
    state.timer = setTimeout(() => {
      void this.track(
        this.refreshSource(state, false).then(async (changed) => {
          if (changed) await this.rebuild();
          this.schedulePoll(state);
        }),
      );
    }, state.config.pollIntervalMs);
    state.timer.unref();
  }

  /**
   * One refresh of one source at a time. `force` queues a second one after a running one instead
   * of sharing it. Resolves to whether the source's render changed.
   */
  private refreshSource(state: SourceState, force: boolean): Promise<boolean> {
    if (state.running !== undefined) {
      if (!force) return state.running;
      state.queued ??= state.running.then(() => {
        state.queued = undefined;
        return this.refreshSource(state, false);
      });
      return state.queued;
    }
    const running = this.refreshSourceNow(state).finally(() => {
      state.running = undefined;
    });
    state.running = running;
    return running;
  }

  private async refreshSourceNow(state: SourceState): Promise<boolean> {
    if (this.stopped) return false;
    const { config, repository } = state;
    state.lastAttemptAt = this.now();
    let commit: string | undefined;
    try {
      commit = await repository.fetch(config.revision);
      if (state.render?.commit === commit && !state.rerender) {
        const wasRestored = state.restored;
        state.restored = false;
        this.succeeded(state);
        return wasRestored;
      }
      // Already rendered and held back: it stays held until a newer commit or an acceptance.
      if (this.held.get(config.name) === commit) return false;
      if (state.render !== undefined && (await this.untouchedBy(state, commit))) {
        // Nothing the render read changed: the same objects, now declared at the new commit.
        state.render = { ...state.render, commit };
        this.succeeded(state);
        this.logger.debug(
          { source: config.name, commit },
          'source not rendered again: the commit changes none of its files',
        );
        return true;
      }
      const documents: RenderedDocument[] = [];
      // The deletion guard's counts and the documents by file, gathered as chunks arrive rather
      // than all at once after: a render taken whole keeps them for the next commit's delta.
      const arrivedCounts = new Map<string, number>();
      const arrivedByFile = new Map<string, RenderedDocument[]>();
      const persisting = this.options.persist ?? true;
      const token = `${fingerprintOf(config)}@${commit}`;
      // Documents that crossed from the parse worker: all of them, or a delta's.
      let sent = 0;
      const header: PersistedHeader = {
        source: config.name,
        fingerprint: fingerprintOf(config),
        commit,
        renderedAt: this.now(),
      };
      let notes: readonly string[] = [];
      const common = {
        onNotes: (found: readonly string[]) => {
          notes = found;
        },
        source: config,
        limits: this.limits,
        parser: this.parser,
        // Persisted aside, and in place only once served: a held render must not be what a
        // restart serves.
        persist: persisting
          ? {
              file: `${this.snapshotFile(config)}.candidate`,
              header,
              served: this.snapshotFile(config),
            }
          : null,
        onDocuments: (chunk: readonly RenderedDocument[]) => {
          sent += chunk.length;
          for (const document of chunk) {
            documents.push(document);
            const key = deletionKeyOf(document);
            arrivedCounts.set(key, (arrivedCounts.get(key) ?? 0) + 1);
            const ofFile = arrivedByFile.get(document.file);
            if (ofFile === undefined) arrivedByFile.set(document.file, [document]);
            else ofFile.push(document);
          }
        },
        token,
      };
      let inputs = state.inputs;
      let plain = true;
      const changed = await this.changesFromGit(state, commit);
      let rendered =
        changed === undefined || state.parsed === undefined
          ? undefined
          : await renderChanges({ ...common, base: state.parsed.token, changed });
      const readFrom = rendered === undefined ? 'checkout' : 'git';
      if (rendered === undefined) {
        state.checkoutInUse = commit;
        // Only checkouts being rendered now are busy: a served render lives in memory.
        const checkout = await repository.checkout(commit, () => this.checkoutsInUse(repository));
        inputs = renderInputs(config, checkout);
        // A render follows symbolic links anywhere in the repository: with one among its inputs,
        // what it read is not known, and every commit renders it again.
        if (inputs !== undefined && (await repository.hasSymbolicLinks(commit, inputs)) !== false)
          inputs = undefined;
        plain =
          config.substitute === undefined &&
          renderKindAt(config, join(checkout, config.path)) === 'plain';
        const delta = await this.deltaFor(state, commit, inputs);
        rendered = await renderSource({
          ...common,
          checkout,
          workDir: join(this.cacheDir, 'work', fileNameOf(config.name)),
          ...(delta === undefined ? {} : { delta }),
        });
      }
      const serving = state.render?.documents ?? [];
      let byFile: DocumentsByFile;
      let guard: { counts: Map<string, number>; change: Map<string, number> };
      let lost: number;
      let served: RenderDocuments = documents;
      if (rendered.delta === undefined) {
        lost = await lostFrom(serving, arrivedCounts);
        byFile = arrivedByFile;
        guard = { counts: arrivedCounts, change: new Map() };
      } else {
        // Only the changed files' documents came: the rest are the served render's, and only
        // the changed files can lose objects.
        const applied = await applyDeltaByFile(
          state.byFile ?? (await documentsByFile(serving)),
          documents,
          rendered.delta,
        );
        const counts = state.guardKeys ?? (await deletionCountsOf(serving));
        const change = await deletionChange(applied.replaced, documents);
        lost = await lostBy(counts, change);
        served = applied.documents;
        byFile = applied.documents.byFile;
        guard = { counts, change };
      }
      if (this.holdsBack(state, commit, lost)) {
        if (persisting) rmSync(`${this.snapshotFile(config)}.candidate`, { force: true });
        return false;
      }
      // The served render's counts, changed in place: worked out again should it not be served.
      await applyChange(guard.counts, guard.change);
      // From here on the render is served: no turn of the event loop until the state says so.
      if (persisting && existsSync(`${this.snapshotFile(config)}.candidate`)) {
        try {
          renameSync(`${this.snapshotFile(config)}.candidate`, this.snapshotFile(config));
        } catch (error) {
          state.guardKeys = undefined;
          throw error;
        }
        this.persistNotes(config, notes);
      }
      state.render = {
        source: config.name,
        commit,
        namespace: config.namespace,
        documents: served,
      };
      state.byFile = byFile;
      state.guardKeys = guard.counts;
      state.notes = notes;
      this.reportNotes(state);
      state.inputs = inputs;
      state.parsed = { token, commit, plain };
      state.rerender = false;
      state.restored = false;
      this.succeeded(state);
      this.logger.info(
        {
          source: config.name,
          commit,
          objects: served.length,
          objectsSent: sent,
          delta: rendered.delta !== undefined,
          readFrom,
          filesCopied: rendered.copied ?? 0,
        },
        'source rendered',
      );
      return true;
    } catch (error) {
      // Stopping aborts the git it was running: no failure of the source to report.
      if (this.shutdown.signal.aborted) return false;
      const failure = isDriftgateError(error)
        ? error
        : new DriftgateError(errorCodes.render, `source ${config.name}: ${messageOf(error)}`, {
            source: config.name,
          });
      const message = failure.message.startsWith(`source ${config.name}`)
        ? failure.message
        : `source ${config.name}: ${failure.message}`;
      state.lastError = { code: failure.code, message, at: this.now() };
      // A discovered source's failure is a discovery problem, logged when it first appears; the
      // same failure on every poll after that is at debug level.
      const again = state.discovered && state.logged === message;
      state.logged = state.discovered ? message : undefined;
      this.logger[again ? 'debug' : 'error'](
        {
          source: config.name,
          ...(state.config.origin === undefined || state.config.origin.kind === 'config'
            ? {}
            : { object: state.config.origin.object }),
          code: failure.code,
          commit,
          servingCommit: state.render?.commit ?? null,
        },
        message,
      );
      return false;
    } finally {
      state.checkoutInUse = undefined;
    }
  }

  /**
   * The deletion guard: a render that drops more than `safety.maxDeletionShare` of the objects
   * served for its source (a wrong path, a broken kustomization, a bad merge) would silently stop
   * protecting them. It is held, reported as the source's error, and served only once a later
   * commit comes back under the share or `safety.acceptDeletionsAt` names its commit.
   */
  private holdsBack(state: SourceState, commit: string, lost: number): boolean {
    const { maxDeletionShare, acceptDeletionsAt } = this.options.safety ?? {
      maxDeletionShare: 1,
      acceptDeletionsAt: null,
    };
    const served = state.render?.documents ?? [];
    const share = served.length === 0 ? 0 : lost / served.length;
    const accepted = acceptDeletionsAt !== null && commit.startsWith(acceptDeletionsAt);
    if (share <= maxDeletionShare || accepted) {
      if (this.held.delete(state.config.name) || accepted) {
        this.logger.warn(
          { source: state.config.name, commit, objectsLost: lost, objectsServed: served.length },
          accepted
            ? 'serving a render that drops many objects: its commit is safety.acceptDeletionsAt'
            : 'serving a newer render; the one held back is dropped',
        );
      }
      return false;
    }
    this.held.set(state.config.name, commit);
    const percent = (n: number) => `${Math.round(n * 100)}%`;
    const message =
      `source ${state.config.name}: commit ${commit.slice(0, 12)} would remove ${lost} of ${served.length} objects ` +
      `(${percent(share)}, more than safety.maxDeletionShare ${percent(maxDeletionShare)}); still serving commit ` +
      `${state.render?.commit.slice(0, 12) ?? '(none)'}. To serve it, set safety.acceptDeletionsAt: ${commit}`;
    state.lastError = { code: errorCodes.snapshotHeld, message, at: this.now() };
    this.logger.error(
      {
        source: state.config.name,
        code: errorCodes.snapshotHeld,
        commit,
        servingCommit: state.render?.commit ?? null,
        objectsLost: lost,
        objectsServed: served.length,
      },
      message,
    );
    return true;
  }

  /**
   * The files under a plain source's path that changed since the parse the served render came
   * from, read from Git at `commit`: that render is then taken again without a checkout. Undefined
   * where a checkout is needed: no such parse, a config that renders differently, a source
   * that is not plain files or might turn into another kind (a kustomization or chart appears),
   * a symbolic link or submodule among the changes (a walk of a checkout follows or skips them),
   * too many changed files, or Git cannot tell.
   */
  private async changesFromGit(
    state: SourceState,
    commit: string,
  ): Promise<ChangedFile[] | undefined> {
    const { config, parsed, repository } = state;
    if (parsed?.plain !== true || state.restored || state.rerender) return undefined;
    if (state.render === undefined || state.inputs === undefined) return undefined;
    const changes = await repository.changes(parsed.commit, commit);
    if (changes === undefined) return undefined;
    const prefix = config.path === '.' ? '' : `${config.path}/`;
    const under = changes.filter((change) => change.path.startsWith(prefix));
    if (under.length > MAX_CHANGES_FROM_GIT) return undefined;
    // The directory itself, or one it lies in, turned into a file or a link.
    if (changes.some((c) => c.path === config.path || config.path.startsWith(`${c.path}/`)))
      return undefined;
    const kindFiles = new Set([...KUSTOMIZATION_FILES, 'Chart.yaml'].map((f) => prefix + f));
    if (config.render === 'auto' && under.some((change) => kindFiles.has(change.path)))
      return undefined;
    const gone = (mode: string) => mode === '000000';
    if (under.some((change) => !gone(change.mode) && !REGULAR_FILE_MODES.has(change.mode)))
      return undefined;
    const present = under.filter((change) => !gone(change.mode));
    // The directory itself must still be one: a render of a checkout fails without it.
    const directory = config.path === '.' ? [] : [`${commit}:${config.path}`];
    if (directory.some((name) => name.includes('\n'))) return undefined;
    const objects = await repository.readObjects([
      ...directory,
      ...present.map((change) => change.object),
    ]);
    if (directory.some((name) => !isTree(objects.get(name)))) return undefined;
    const files: ChangedFile[] = [];
    for (const { path, mode, object } of under) {
      const read = gone(mode) ? undefined : objects.get(object);
      if (read === undefined) files.push({ path, state: 'gone' });
      else if (read === 'missing' || read.type !== 'blob') return undefined;
      else if (read.content.length > this.limits.maxFileBytes)
        files.push({ path, state: 'too large', bytes: read.content.length });
      // Copied out of git's output: a view would take all of it along to the parse worker.
      else files.push({ path, state: 'present', content: new Uint8Array(read.content) });
    }
    return files;
  }

  /**
   * What a render of `commit` may take as a delta: the files changed since the parse the served
   * render came from. Undefined, and every file is read and sent, when that is not known for
   * sure: no such parse (a restored render), a config that renders differently, symbolic links
   * (what a file reads may change with no change to it), or Git cannot tell what changed.
   */
  private async deltaFor(
    state: SourceState,
    commit: string,
    inputs: readonly string[] | undefined,
  ): Promise<{ base: string; changed: readonly string[] } | undefined> {
    const { render, parsed } = state;
    if (render === undefined || parsed === undefined || state.restored || state.rerender)
      return undefined;
    if (inputs === undefined || state.inputs === undefined) return undefined;
    const changed = await state.repository.changedFiles(parsed.commit, commit);
    return changed === undefined ? undefined : { base: parsed.token, changed };
  }

  /** Is `commit` one that changes no file the served render of `state` read? */
  private async untouchedBy(state: SourceState, commit: string): Promise<boolean> {
    const { render, inputs } = state;
    if (render === undefined || inputs === undefined || state.rerender) return false;
    const changed = await state.repository.changedFiles(render.commit, commit);
    return changed !== undefined && !touchesInputs(changed, inputs);
  }

  private succeeded(state: SourceState): void {
    state.lastSuccessAt = this.now();
    state.lastError = undefined;
    if (state.notes.length === 0) state.logged = undefined;
  }

  /** Logs once what a discovered source's render left out unjudged. */
  private reportNotes(state: SourceState): void {
    if (state.notes.length === 0) return;
    const reason = notesReason(state.notes);
    if (state.logged === reason) return;
    state.logged = reason;
    this.logger.warn(
      { source: state.config.name, notes: state.notes.length },
      `discovery: partly compared: ${reason}`,
    );
  }

  /**
   * Assembles a new snapshot aside, a slice at a time so that reviews are answered meanwhile,
   * and swaps it in with one assignment.
   */
  private async rebuild(allowEmpty = false): Promise<void> {
    const renders = this.states
      .map((state) => state.render)
      .filter((render): render is SourceRender => render !== undefined);
    // Empty only when discovery removed the last source: before any render there is none to serve.
    if (renders.length === 0 && !allowEmpty) return;
    const origin = this.states.some((state) => state.restored) ? 'restored' : 'rendered';
    const build = ++this.builds;
    const next = await buildSnapshotInSlices(renders, origin, new Date(this.now()), {
      previous: this.snapshot,
    });
    if (build === this.builds) await this.prepare?.(next);
    // A rebuild begun since read newer renders: this one's snapshot would put older ones back.
    if (build !== this.builds) return;
    this.snapshot = next;
    const conflicts = next.conflicts.map(formatConflict);
    const joined = conflicts.join('\n');
    if (joined !== this.lastConflicts) {
      for (const conflict of conflicts) this.logger.warn({ conflict }, 'conflicting declarations');
      this.lastConflicts = joined;
    }
    this.logger.info(
      {
        objects: next.size,
        conflicts: conflicts.length,
        commits: next.commits,
        origin,
        // Taken from the snapshot before and the documents a commit changed, not built whole.
        derived: next.derivedFrom() !== undefined,
      },
      'desired snapshot swapped',
    );
    this.pruneCheckouts();
  }

  private checkoutsInUse(repository: GitRepository): Set<string> {
    const busy = new Set<string>();
    for (const state of this.states) {
      if (state.repository === repository && state.checkoutInUse !== undefined)
        busy.add(state.checkoutInUse);
    }
    return busy;
  }

  private pruneCheckouts(): void {
    for (const repository of this.repositories.values()) {
      const users = this.states.filter((state) => state.repository === repository);
      void this.track(
        repository
          .removeCheckoutsExcept(() => {
            const keep = new Set<string>();
            for (const state of users) {
              if (state.render !== undefined) keep.add(state.render.commit);
              if (state.checkoutInUse !== undefined) keep.add(state.checkoutInUse);
            }
            return keep;
          })
          .catch((error: unknown) => {
            this.logger.warn({ error: messageOf(error) }, 'cannot remove old checkouts');
          }),
      );
    }
  }

  /**
   * What a persisted render left out, beside it: a restart that serves the render (a discovered
   * source's fixed revision is not rendered again) still reports it.
   */
  private persistNotes(source: SourceConfig, notes: readonly string[]): void {
    const file = `${this.snapshotFile(source)}.notes`;
    try {
      if (notes.length === 0) rmSync(file, { force: true });
      else writeFileSync(file, JSON.stringify(notes), { mode: 0o600 });
    } catch (error) {
      this.logger.warn({ source: source.name, error: messageOf(error) }, 'cannot persist notes');
    }
  }

  private restoreNotes(source: SourceConfig): readonly string[] {
    try {
      const notes = JSON.parse(
        readFileSync(`${this.snapshotFile(source)}.notes`, 'utf8'),
      ) as unknown;
      return Array.isArray(notes) ? notes.filter((note) => typeof note === 'string') : [];
    } catch {
      return [];
    }
  }

  private snapshotFile(source: SourceConfig): string {
    return join(this.cacheDir, 'snapshots', `${fileNameOf(source.name)}.json`);
  }

  /** Loads each source's persisted render when it was made with the same source config. */
  private async restore(): Promise<void> {
    await Promise.all(this.states.map((state) => this.restoreState(state)));
    if (this.states.some((state) => state.restored)) {
      await this.rebuild();
      this.logger.info({ objects: this.snapshot.size }, 'serving the persisted snapshot');
    }
  }

  /** Serves the source's persisted render when it was made with the same source config. */
  private async restoreState(state: SourceState): Promise<void> {
    const file = this.snapshotFile(state.config);
    if (!existsSync(file)) return;
    const documents: RenderedDocument[] = [];
    const outcome = await this.parser.run(
      { kind: 'restore', file },
      (chunk) => {
        for (const document of chunk) documents.push(document);
      },
      this.limits.timeoutMs,
    );
    if (!outcome.ok) {
      this.logger.warn(
        { source: state.config.name, code: errorCodes.cache, file },
        `persisted snapshot unusable: ${outcome.problems.map((p) => p.message).join('; ')}`,
      );
      return;
    }
    const header = outcome.header;
    if (!isPersistedHeader(header) || header.fingerprint !== fingerprintOf(state.config)) {
      this.logger.info(
        { source: state.config.name },
        'persisted snapshot was made for another source config; not served',
      );
      return;
    }
    state.render = {
      source: state.config.name,
      commit: header.commit,
      namespace: state.config.namespace,
      // Persisted as parsed: what the render left out must be left out again.
      documents:
        state.config.fluxAnnotations === true
          ? documents.filter((document) => !isLeftAloneByFlux(document))
          : documents,
    };
    state.byFile = undefined;
    state.guardKeys = undefined;
    state.restored = true;
    state.parsed = undefined;
    state.notes = this.restoreNotes(state.config);
    this.reportNotes(state);
    state.lastSuccessAt = header.renderedAt;
  }
}

function isTree(object: GitObject | undefined): boolean {
  return object !== undefined && object !== 'missing' && object.type === 'tree';
}

/** What the deletion guard compares renders by: group, kind, namespace and name. */
function deletionKeyOf(document: RenderedDocument): string {
  const slash = document.apiVersion.indexOf('/');
  const group = slash === -1 ? '' : document.apiVersion.slice(0, slash);
  return `${group}/${document.kind}/${document.namespace ?? ''}/${document.name}`;
}

/** How many of `served` a render whose keys are `kept` drops, in slices (see Slices). */
async function lostFrom(
  served: RenderDocuments,
  kept: ReadonlyMap<string, number>,
): Promise<number> {
  let lost = 0;
  const slices = new Slices();
  for (const list of listsOf(served)) {
    for (const document of list) {
      if (!kept.has(deletionKeyOf(document))) lost += 1;
      if (slices.due()) await slices.pause();
    }
  }
  return lost;
}

/** How many of `documents` have each deletion guard key, in slices (see Slices). */
async function deletionCountsOf(documents: RenderDocuments): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const slices = new Slices();
  for (const list of listsOf(documents)) {
    for (const document of list) {
      const key = deletionKeyOf(document);
      counts.set(key, (counts.get(key) ?? 0) + 1);
      if (slices.due()) await slices.pause();
    }
  }
  return counts;
}

/**
 * By key, how many documents a delta adds (positive) or removes (negative). This and the two
 * below run in slices (see Slices): a commit that changes every file changes every key.
 */
async function deletionChange(
  removed: readonly RenderedDocument[],
  added: readonly RenderedDocument[],
): Promise<Map<string, number>> {
  const change = new Map<string, number>();
  const slices = new Slices();
  for (const [documents, by] of [
    [removed, -1],
    [added, 1],
  ] as const) {
    for (const document of documents) {
      const key = deletionKeyOf(document);
      change.set(key, (change.get(key) ?? 0) + by);
      if (slices.due()) await slices.pause();
    }
  }
  return change;
}

/**
 * How many served documents a change drops: as lostFrom counts, each served document whose key
 * no document keeps. Only a key the change touches can come to be kept by none.
 */
async function lostBy(
  counts: ReadonlyMap<string, number>,
  change: ReadonlyMap<string, number>,
): Promise<number> {
  let lost = 0;
  const slices = new Slices();
  for (const [key, by] of change) {
    const before = counts.get(key) ?? 0;
    if (before > 0 && before + by <= 0) lost += before;
    if (slices.due()) await slices.pause();
  }
  return lost;
}

async function applyChange(
  counts: Map<string, number>,
  change: ReadonlyMap<string, number>,
): Promise<void> {
  const slices = new Slices();
  for (const [key, by] of change) {
    const after = (counts.get(key) ?? 0) + by;
    if (after > 0) counts.set(key, after);
    else counts.delete(key);
    if (slices.due()) await slices.pause();
  }
}

/** Notes of a render in one reason, the first few named. */
function notesReason(notes: readonly string[]): string {
  const shown = notes.slice(0, 5).join('; ');
  return notes.length > 5 ? `${shown}; and ${notes.length - 5} more` : shown;
}

export function createGitProvider(
  options: GitProviderOptions,
  deps: GitProviderDeps,
): GitDesiredProvider {
  return new GitDesiredProvider(options, deps);
}
