// The seam between where desired state comes from (Git today; Argo CD or Flux discovery later)
// and the admission path that reads it.
import type { DesiredSnapshot } from './snapshot.js';

export interface SourceStatus {
  readonly name: string;
  /** Repository URL without credentials. */
  readonly repoURL: string;
  /** As configured; `HEAD` when the source follows the default branch. */
  readonly revision: string;
  /** Commit of the objects served now, or null when the source never rendered. */
  readonly commit: string | null;
  readonly objects: number;
  /** Objects are served but not confirmed by Git since a restart (persisted snapshot). */
  readonly restored: boolean;
  /** The last fetch or render failed, or no fresh render exists yet. */
  readonly stale: boolean;
  /** When Git last confirmed this source's objects (ISO 8601), or null. */
  readonly lastSuccessAt: string | null;
  readonly lastAttemptAt: string | null;
  /** Milliseconds since `lastSuccessAt`; null when never. */
  readonly ageMs: number | null;
  readonly lastError: {
    readonly code: string;
    readonly message: string;
    readonly at: string;
  } | null;
}

export interface DesiredProvider {
  /** Serves the persisted snapshot at once if there is one, then keeps up with the sources. */
  start(): Promise<void>;
  /** Stops polling and waits for running fetches and renders to end. */
  stop(): Promise<void>;
  /** The snapshot to decide with now. Never undefined: `origin: 'empty'` before the first one. */
  current(): DesiredSnapshot;
  status(): readonly SourceStatus[];
  /**
   * Called before denying: when the snapshot is older than `maxAgeMs`, fetch now. Concurrent
   * callers share one refresh, refreshes are rate limited, and the wait is bounded (1 s by
   * default): it resolves when the refresh completes or the bound passes. A snapshot nearly
   * that old is refreshed ahead, without waiting.
   */
  refreshIfOlderThan(maxAgeMs: number): Promise<void>;
}
