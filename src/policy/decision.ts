// The outcome of judging one admission request: a plain value the HTTP layer turns into an
// AdmissionReview and the audit layer into a log line, annotations and an Event.
import type { FieldDrift } from '../drift/diff.js';
import type { ResourceKey } from '../kube/object.js';

/**
 * As written to the `decision` audit annotation (DESIGN.md §5). `not-judged`: allowed because
 * the write could not be compared with Git (reason `version`: Git's manifest is in an API
 * version driftgate cannot convert to the write's); recorded, never silent.
 */
export type DecisionKind =
  | 'allowed'
  | 'denied'
  | 'warned'
  | 'audited'
  | 'break-glass'
  | 'exempt'
  | 'sync'
  | 'not-judged'
  | 'error';

export type EffectiveMode = 'enforce' | 'warn' | 'audit' | 'off';

/**
 * What protects an object from a person's write: Git rendered (`git`), the sync tool's record on
 * the object (`sync-record`), or nothing (`none`).
 */
export type Protection = 'git' | 'sync-record' | 'none';

export interface DesiredOrigin {
  readonly source: string;
  readonly file: string;
  readonly line: number;
  readonly commit: string;
  /**
   * `sync-record`: not rendered from Git but read from what the sync tool left on the object
   * (`source` names the Application, Kustomization or HelmRelease; `file` the record).
   */
  readonly by?: 'sync-record';
}

export interface Decision {
  readonly kind: DecisionKind;
  readonly allowed: boolean;
  /** Nothing worth recording: out of scope, unmanaged and allowed, status writes. */
  readonly silent: boolean;
  /** Stable short reason, for logs and metrics: `drift`, `no-drift`, `delete`, `out-of-scope`… */
  readonly reason: string;
  /** For denials: the full message kubectl prints. Otherwise a one-line explanation. */
  readonly message: string;
  readonly key: ResourceKey | undefined;
  readonly origin: DesiredOrigin | undefined;
  /** The drift that decided (introduced by this write). */
  readonly drift: readonly FieldDrift[];
  /** Drift the write left alone; reported as warnings, healed by sync. */
  readonly preexisting: readonly FieldDrift[];
  readonly warnings: readonly string[];
  readonly mode: EffectiveMode;
  readonly breakGlassReason: string | undefined;
  readonly dryRun: boolean;
}
