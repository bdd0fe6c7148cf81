import { describe, expect, it } from 'vitest';
import { edited, review } from '../../test/support/fixtures.js';
import { asUser, config, facts, snapshot } from '../../test/support/policy.js';
import type { AdmissionRequest } from '../kube/admission.js';
import { decide } from '../policy/decide.js';
import { boundNote, decisionEvent, EVENT_NOTE_LIMIT_BYTES } from './event.js';

const NOW = new Date('2026-11-22T03:00:00Z');
const git = snapshot();
const eventFor = (request: AdmissionRequest, cluster = facts()) =>
  decisionEvent(request, decide(request, git, cluster, config(), NOW));

const breakGlass = {
  'driftgate.io/break-glass': 'INC-42 rollback',
  'driftgate.io/break-glass-by': 'bob@example.com',
  'driftgate.io/break-glass-at': '2026-11-22T02:50:00Z',
  'driftgate.io/break-glass-expires': '2026-11-22T06:50:00Z',
};

describe('the Event a decision leaves', () => {
  it('a denial: DriftDenied, a Warning about the object, the paths but not the values', () => {
    const request = review('20-set-image-deployment-by-alice');
    expect(eventFor(request)).toEqual({
      reason: 'DriftDenied',
      type: 'Warning',
      action: 'DenyUpdate',
      regarding: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace: 'shop',
        name: 'web',
        uid: request.oldObject?.metadata?.uid,
      },
      note: expect.stringMatching(
        /^driftgate denied UPDATE of apps\/Deployment shop\/web by alice@example\.com: 1 field differs from Git \(source shop, file apps\/shop\/deploy-web\.yaml:\d+, commit [0-9a-f]{12}\)\. Fields: spec\.template\.spec\.containers\[name=app\]\.image$/,
      ),
    });
    expect(eventFor(request)?.note).not.toContain('web:1.5.0');
  });

  it('a denied write to a Secret names its keys, never their values', () => {
    const request = review('62-patch-secret-data-by-alice');
    const event = eventFor(request);
    expect(event).toMatchObject({ reason: 'DriftDenied', regarding: { kind: 'Secret' } });
    expect(event?.note).toContain('password');
    const passwords = [request.object, request.oldObject].map(
      (o) => (o as { data: { password: string } }).data.password,
    );
    for (const value of passwords) {
      expect(event?.note).not.toContain(value);
      expect(event?.note).not.toContain(Buffer.from(value, 'base64').toString('utf8'));
    }
  });

  it('a scale write is about the Deployment, not the Scale', () => {
    expect(eventFor(review('27-scale-deployment-by-alice'))).toMatchObject({
      action: 'DenyUpdate',
      regarding: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web' },
    });
  });

  it('a denied DELETE', () => {
    expect(eventFor(review('58-delete-deployment-by-alice'))).toMatchObject({
      reason: 'DriftDenied',
      action: 'DenyDelete',
      regarding: { kind: 'Deployment', name: 'web' },
    });
  });

  it('a cluster-scoped object has no namespace in regarding', () => {
    const labelled = review('77-label-clusterrole-by-alice');
    const request = {
      ...labelled,
      object: edited(labelled.object!, (o) => (o.rules[0].verbs = ['*'])),
    };
    expect(eventFor(request)).toMatchObject({
      regarding: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', namespace: '' },
    });
  });

  it('a write under break-glass: BreakGlass, with the reason and the paths', () => {
    const setImage = asUser(review('20-set-image-deployment-by-alice'), 'bob@example.com', [
      'oncall',
    ]);
    const request = {
      ...setImage,
      object: edited(setImage.object!, (o) => Object.assign(o.metadata.annotations, breakGlass)),
      oldObject: edited(setImage.oldObject!, (o) =>
        Object.assign(o.metadata.annotations, breakGlass),
      ),
    };
    expect(eventFor(request)).toMatchObject({
      reason: 'BreakGlass',
      type: 'Warning',
      action: 'AllowUpdate',
      regarding: { kind: 'Deployment', namespace: 'shop', name: 'web' },
      note: 'UPDATE of apps/Deployment shop/web by bob@example.com allowed under break-glass: INC-42 rollback. Fields: spec.template.spec.containers[name=app].image',
    });
  });

  it.each([
    {
      name: 'server-side dry-run of a denied apply',
      label: '31-apply-dryrun-server-deployment-by-alice',
    },
    { name: 'dry-run of a denied DELETE', label: '55-delete-dryrun-server-deployment-by-alice' },
    { name: 'an allowed write', label: '22-patch-merge-deployment-by-alice' },
    { name: 'the sync identity', label: '10-apply-create-deployment-by-argocd' },
    {
      name: 'a controller status write',
      label: 'controller-10-deployment-controller-deployments-status-update',
      stage: 'validating.2',
    },
  ])('none for $name', ({ label, stage }) => {
    expect(eventFor(review(label, stage))).toBeUndefined();
  });

  it('the dry-run apply is a denial all the same (so the Event is left out for dry-run alone)', () => {
    const request = review('31-apply-dryrun-server-deployment-by-alice');
    expect(request.dryRun).toBe(true);
    expect(decide(request, git, facts(), config(), NOW).kind).toBe('denied');
    expect(eventFor({ ...request, dryRun: false })).toMatchObject({ reason: 'DriftDenied' });
  });
});

describe('boundNote', () => {
  it('keeps a note within the limit in bytes, cut on a character and marked', () => {
    const note = boundNote('ü'.repeat(2000));
    expect(Buffer.byteLength(note)).toBeLessThanOrEqual(EVENT_NOTE_LIMIT_BYTES);
    expect(note.endsWith('ü…')).toBe(true);
    expect(boundNote('short')).toBe('short');
  });
});
