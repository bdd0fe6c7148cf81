// mutate() on captured mutating-stage reviews, with its patch applied as the API server
// applies it, then the validating decision on the result.
import { describe, expect, it } from 'vitest';
import type { AdmissionRequest } from '../src/kube/admission.js';
import { decide } from '../src/policy/decide.js';
import { mutate } from '../src/policy/mutate.js';
import { edited, review } from './support/fixtures.js';
import { applyPatch } from './support/json-patch.js';
import { asUser, COMMIT, config, facts, snapshot } from './support/policy.js';

const NOW = new Date('2026-11-22T03:00:00Z');
const git = snapshot();
const annotationsOf = (request: AdmissionRequest) => request.object?.metadata?.annotations ?? {};

/** What the API server does: run the mutating webhook, apply its patch, hand the result on. */
function mutated(request: AdmissionRequest, cfg = config(), now = NOW): AdmissionRequest {
  const patch = mutate(request, git, facts(), cfg, now);
  return { ...request, object: applyPatch(request.object!, patch) };
}

const STAMPS = {
  'driftgate.io/break-glass-by': 'bob@example.com',
  'driftgate.io/break-glass-at': '2026-11-22T03:00:00Z',
  'driftgate.io/break-glass-expires': '2026-11-22T07:00:00Z',
};

describe('break-glass stamps', () => {
  const setReason = review('40-annotate-break-glass-deployment-by-bob', 'mutating');

  it('an authorised user setting the reason gets by, at and expires (at + ttl)', () => {
    const result = mutated(setReason);
    expect(annotationsOf(result)).toMatchObject({
      'driftgate.io/break-glass': 'INC-42 rollback',
      ...STAMPS,
    });
    // The validating webhook accepts the stamps it sees, because they were made for this request.
    expect(decide(result, git, facts(), config(), NOW).kind).toBe('allowed');
  });

  it('is idempotent when the API server calls it again', () => {
    const once = mutated(setReason);
    expect(mutate(once, git, facts(), config(), new Date(NOW.getTime() + 2000))).toEqual([]);
  });

  it('no stamps for someone outside the break-glass groups (the validating webhook then denies)', () => {
    const alice = asUser(setReason, 'alice@example.com', ['developers']);
    const result = mutated(alice);
    expect(
      Object.keys(annotationsOf(result)).filter((k) => k.startsWith('driftgate.io/break-glass-')),
    ).toEqual([]);
    expect(decide(result, git, facts(), config(), NOW)).toMatchObject({
      kind: 'denied',
      reason: 'break-glass-unauthorised',
    });
  });

  it('stamps written by hand are replaced by the old object’s', () => {
    const old = edited(setReason.oldObject!, (o) =>
      Object.assign(o.metadata.annotations, {
        'driftgate.io/break-glass': 'INC-42 rollback',
        ...STAMPS,
      }),
    );
    const forged = {
      ...setReason,
      oldObject: old,
      object: edited(
        old,
        (o) =>
          (o.metadata.annotations['driftgate.io/break-glass-expires'] = '2030-01-01T00:00:00Z'),
      ),
    };
    expect(annotationsOf(mutated(forged))['driftgate.io/break-glass-expires']).toBe(
      '2026-11-22T07:00:00Z',
    );
  });

  it('a write that drops the stamps (kubectl replace) gets the old object’s back', () => {
    const old = edited(setReason.oldObject!, (o) =>
      Object.assign(o.metadata.annotations, {
        'driftgate.io/break-glass': 'INC-42 rollback',
        ...STAMPS,
      }),
    );
    const replaced = {
      ...setReason,
      oldObject: old,
      object: edited(old, (o) => {
        for (const key of Object.keys(STAMPS)) delete o.metadata.annotations[key];
      }),
    };
    expect(annotationsOf(mutated(replaced))).toMatchObject(STAMPS);
  });

  it('removing the reason removes the stamps', () => {
    const withStamps = edited(setReason.oldObject!, (o) =>
      Object.assign(o.metadata.annotations, {
        'driftgate.io/break-glass': 'INC-42 rollback',
        ...STAMPS,
      }),
    );
    const ended = {
      ...setReason,
      oldObject: withStamps,
      object: edited(withStamps, (o) => delete o.metadata.annotations['driftgate.io/break-glass']),
    };
    const patch = mutate(ended, git, facts(), config(), NOW);
    expect(patch).toEqual([
      { op: 'remove', path: '/metadata/annotations/driftgate.io~1break-glass-by' },
      { op: 'remove', path: '/metadata/annotations/driftgate.io~1break-glass-at' },
      { op: 'remove', path: '/metadata/annotations/driftgate.io~1break-glass-expires' },
    ]);
  });
});

describe('the drift record', () => {
  const setImage = review('20-set-image-deployment-by-alice', 'mutating');

  it('drift allowed in warn mode is recorded on the object', () => {
    const result = mutated(setImage, config({ mode: 'warn' }));
    expect(annotationsOf(result)).toMatchObject({
      'driftgate.io/drift': '["spec.template.spec.containers[name=app].image"]',
      'driftgate.io/drift-by': 'alice@example.com',
      'driftgate.io/drift-at': '2026-11-22T03:00:00Z',
      'driftgate.io/revision': COMMIT,
    });
  });

  it('nothing is recorded for a denied write in enforce mode', () => {
    expect(mutate(setImage, git, facts(), config(), NOW)).toEqual([]);
  });

  it('the sync identity’s next write removes the record', () => {
    const sync = review('11-apply-unchanged-deployment-by-argocd', 'mutating');
    const record = {
      'driftgate.io/drift': '["spec.replicas"]',
      'driftgate.io/drift-by': 'alice@example.com',
      'driftgate.io/drift-at': '2026-11-22T02:00:00Z',
      'driftgate.io/revision': COMMIT,
    };
    const withRecord = {
      ...sync,
      object: edited(sync.object!, (o) => Object.assign(o.metadata.annotations, record)),
    };
    const result = mutated(withRecord);
    expect(Object.keys(annotationsOf(result)).filter((k) => k.startsWith('driftgate.io/'))).toEqual(
      [],
    );
  });

  it('an object with no annotations gets the whole map added, which the API server accepts', () => {
    const bare = {
      ...setImage,
      object: edited(setImage.object!, (o) => delete o.metadata.annotations),
      oldObject: edited(setImage.oldObject!, (o) => delete o.metadata.annotations),
    };
    const patch = mutate(bare, git, facts(), config({ mode: 'warn' }), NOW);
    expect(patch).toHaveLength(1);
    expect(patch[0]).toMatchObject({ op: 'add', path: '/metadata/annotations' });
    expect(
      annotationsOf({ ...bare, object: applyPatch(bare.object, patch) })['driftgate.io/drift-by'],
    ).toBe('alice@example.com');
  });

  it('scale writes and DELETEs have no object to annotate', () => {
    expect(
      mutate(
        review('27-scale-deployment-by-alice', 'mutating'),
        git,
        facts(),
        config({ mode: 'warn' }),
        NOW,
      ),
    ).toEqual([]);
    expect(
      mutate(
        review('58-delete-deployment-by-alice', 'mutating'),
        git,
        facts(),
        config({ mode: 'warn' }),
        NOW,
      ),
    ).toEqual([]);
  });
});
