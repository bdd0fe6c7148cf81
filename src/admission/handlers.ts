// The two webhooks as functions from a request to a response: /validate decides, /mutate only
// stamps and records. The HTTP layer around them is in app.ts.
import type { Logger } from 'pino';
import type { Config, SourceConfig } from '../config/config.js';
import type { DesiredProvider } from '../desired/provider.js';
import type { AdmissionRequest, AdmissionResponse } from '../kube/admission.js';
import { auditAnnotations, decisionLogLine } from '../audit/record.js';
import { decisionEvent } from '../audit/event.js';
import type { DecisionLog } from '../audit/log.js';
import type { EventRecorder } from '../cluster/events.js';
import { decide } from '../policy/decide.js';
import type { Decision } from '../policy/decision.js';
import type { ClusterFacts } from '../policy/facts.js';
import { mutate } from '../policy/mutate.js';
import type { Metrics } from './metrics.js';
import { allowed, denied, patched } from './review.js';

export interface WebhookDeps {
  readonly config: Config;
  readonly provider: Pick<DesiredProvider, 'current' | 'refreshIfOlderThan'>;
  readonly facts: () => ClusterFacts;
  readonly now: () => Date;
  readonly logger: Logger;
  /** Where decision lines go; `logger.info` when absent. */
  readonly decisionLog?: DecisionLog;
  readonly metrics: Metrics;
  /** Kubernetes Events for denials and break-glass uses; none when absent. */
  readonly events?: EventRecorder;
  /** Every source, discovered ones included; the config's when absent. */
  readonly sources?: () => readonly SourceConfig[];
}

/** Thrown when no answer can be given; the HTTP layer turns it into a 500 so failurePolicy decides. */
export class FailClosed extends Error {
  override readonly name = 'FailClosed';
}

// A commit pushed seconds ago must be honoured before a write that matches it is denied.
const REFRESH_BEFORE_DENY_MS = 5_000;

export async function validate(
  request: AdmissionRequest,
  deps: WebhookDeps,
): Promise<AdmissionResponse> {
  const { config, provider, logger } = deps;
  const facts = deps.facts();
  let snapshot = provider.current();
  if (snapshot.origin === 'empty') {
    // Not an internal error: Git has not been rendered since start (still cloning, or failing).
    return failure(request, deps, 'validate', new Error(NO_SNAPSHOT), NO_SNAPSHOT);
  }
  let decision: Decision;
  try {
    const sources = deps.sources?.() ?? config.sources;
    decision = decide(request, snapshot, facts, config, deps.now(), sources);
    if (
      decision.kind === 'denied' &&
      (decision.reason === 'drift' || decision.reason === 'delete')
    ) {
      await provider.refreshIfOlderThan(REFRESH_BEFORE_DENY_MS);
      if (provider.current() !== snapshot) {
        snapshot = provider.current();
        decision = decide(request, snapshot, facts, config, deps.now(), sources);
      }
    }
  } catch (error) {
    return failure(request, deps, 'validate', error);
  }
  record(request, decision, deps, 'validate');
  if (!decision.silent) logger.debug({ uid: request.uid }, decision.message);
  return validationResponse(request, decision);
}

/** The response the validating webhook gives for a decision (also `driftgate check`'s output). */
export function validationResponse(
  request: AdmissionRequest,
  decision: Decision,
): AdmissionResponse {
  const extras = { warnings: decision.warnings, auditAnnotations: auditAnnotations(decision) };
  return decision.allowed
    ? allowed(request.uid, extras)
    : denied(request.uid, decision.message, extras);
}

export function mutateReview(request: AdmissionRequest, deps: WebhookDeps): AdmissionResponse {
  const snapshot = deps.provider.current();
  if (snapshot.origin === 'empty') return allowed(request.uid);
  try {
    const sources = deps.sources?.() ?? deps.config.sources;
    return patched(
      request.uid,
      mutate(request, snapshot, deps.facts(), deps.config, deps.now(), sources),
    );
  } catch (error) {
    // Stamping and recording are never worth failing a user's write over: validation decides.
    deps.metrics.errors.inc({ webhook: 'mutate' });
    deps.logger.error(
      { uid: request.uid, err: error },
      'mutating webhook failed; answering without a patch',
    );
    return allowed(request.uid);
  }
}

function record(
  request: AdmissionRequest,
  decision: Decision,
  deps: WebhookDeps,
  webhook: 'validate',
): void {
  if (decision.silent) return;
  deps.metrics.decisions.inc({
    decision: decision.kind,
    operation: request.operation,
    kind: decision.key?.kind ?? request.kind.kind,
    webhook,
  });
  if (decision.kind === 'not-judged') deps.metrics.notJudged.inc({ reason: decision.reason });
  const line = decisionLogLine(request, decision, webhook);
  if (deps.decisionLog === undefined) deps.logger.info(line);
  else deps.decisionLog(line);
  // Only the validating webhook records Events: the mutating one sees writes that may never
  // happen. decisionEvent() leaves out dry-runs and everything but denials and break-glass.
  if (deps.events !== undefined) {
    const event = decisionEvent(request, decision);
    if (event !== undefined) deps.events.record(event);
  }
}

/** Said in the log, the readiness body and the warning while Git has not been rendered yet. */
export const NO_SNAPSHOT = 'no desired snapshot yet';

function failure(
  request: AdmissionRequest,
  deps: WebhookDeps,
  webhook: 'validate',
  error: unknown,
  cause = 'internal error',
): AdmissionResponse {
  deps.metrics.errors.inc({ webhook });
  deps.logger.error(
    { uid: request.uid, ...(cause === NO_SNAPSHOT ? {} : { err: error }) },
    `could not decide: ${cause}`,
  );
  // In audit or warn mode, or when configured to fail open, an error must not block anyone.
  if (deps.config.failureMode === 'open' || deps.config.mode !== 'enforce') {
    return allowed(request.uid, {
      warnings: [`driftgate: could not judge this write (${cause}); allowed`],
      auditAnnotations: { decision: 'error' },
    });
  }
  throw new FailClosed(error instanceof Error ? error.message : String(error));
}
