// Writes to an object that waits on a finalizer, and the deletions the control plane carries
// out, replayed from a real kube-apiserver 1.31 (steps 90-96).
import { describe, expect, it } from 'vitest';
import type { AdmissionRequest } from '../src/kube/admission.js';
import { decide } from '../src/policy/decide.js';
import { review131, reviews131 } from './support/fixtures.js';
import { asUser, config, facts, snapshot131 } from './support/policy.js';

const NOW = new Date('2026-12-07T01:05:00Z');
// Git: ConfigMap held (data.state: live, finalizer capture.example.com/hold) in shop, and the
// objects of namespace shop-doomed.
const git = snapshot131([
  'cm-finalizer',
  'ns-shop-doomed',
  ['doomed-deploy', 'shop-doomed'],
  ['doomed-cm', 'shop-doomed'],
  ['doomed-fg-deploy', 'shop-doomed'],
]);
const enforce = config({ mode: 'enforce' });
const judge = (request: AdmissionRequest, cfg = enforce) => decide(request, git, facts(), cfg, NOW);
const alice = (request: AdmissionRequest) => asUser(request, 'alice@example.com', ['developers']);

describe('an object that waits on a finalizer', () => {
  const edit = review131('92-edit-configmap-terminating-by-alice');
  const release = review131('93-patch-merge-remove-finalizer-by-argocd');

  it('its DELETE is a DELETE of a managed object', () => {
    expect(judge(review131('91-delete-configmap-with-finalizer-by-alice'))).toMatchObject({
      kind: 'denied',
      reason: 'delete',
    });
  });

  it('editing its declared data is drift like on any other object', () => {
    expect(edit.object?.metadata?.deletionTimestamp).toBeDefined();
    const decision = judge(edit);
    expect(decision.kind).toBe('denied');
    expect(decision.drift).toEqual([
      {
        path: 'data.state',
        pointer: '/data/state',
        desired: 'live',
        live: 'edited-while-terminating',
      },
    ]);
    expect(judge(edit, config({ mode: 'warn' })).kind).toBe('warned');
  });

  it('removing its finalizer is the deletion’s own bookkeeping, whoever does it', () => {
    expect(judge(release).kind).toBe('sync');
    const byAlice = judge(alice(release));
    expect(byAlice).toMatchObject({ allowed: true, reason: 'deleting' });
    // The edit of step 92 is still there: not the release's doing, shown as a warning.
    expect(byAlice.preexisting.map((d) => d.path)).toEqual(['data.state']);
    expect(judge(alice(release), config({ fieldPolicy: 'strict' })).allowed).toBe(true);
  });
});

describe('foreground deletion and namespace deletion run to their end', () => {
  const deletion = [...reviews131('95e-'), ...reviews131('96-')];
  const controllers = [...reviews131('controller-95e-'), ...reviews131('controller-96-')];

  it('the capture holds both deletions and the controllers’ writes', () => {
    expect(deletion).toHaveLength(4);
    expect(controllers.length).toBeGreaterThanOrEqual(20);
  });

  it.each(controllers)('%s (%s) is allowed under enforce', (label, stage) => {
    expect(judge(review131(label, stage)).allowed).toBe(true);
  });

  it.each(deletion)('%s (%s): a person’s DELETE is judged as one', (label, stage) => {
    expect(judge(review131(label, stage))).toMatchObject({ kind: 'denied', reason: 'delete' });
    expect(judge(review131(label, stage), config({ mode: 'warn' }))).toMatchObject({
      kind: 'warned',
      allowed: true,
    });
  });

  it.each(controllers.filter(([label]) => label.endsWith('-update')))(
    '%s (%s) would pass even if the controller were not exempt',
    (label, stage) => {
      const notExempt = config({ mode: 'enforce', exemptIdentities: { users: [] } });
      expect(judge(review131(label, stage), notExempt).allowed).toBe(true);
    },
  );

  it('the collector’s removal of foregroundDeletion from a Deployment in Git is no drift', () => {
    const notExempt = config({ mode: 'enforce', exemptIdentities: { users: [] } });
    const update = review131('controller-95e-generic-garbage-collector-deployments-update');
    expect(judge(update, notExempt)).toMatchObject({ allowed: true, reason: 'deleting' });
  });
});
