// Decisions on AdmissionReviews recorded by other projects (Pepr, Kyverno, Kubewarden) from
// their own clusters: the wire format is read as it comes, and the rules hold.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseReview } from '../src/admission/review.js';
import type { AdmissionRequest } from '../src/kube/admission.js';
import type { KubeObject } from '../src/kube/object.js';
import { decide } from '../src/policy/decide.js';
import { fixturePath } from './support/fixtures.js';
import { config, facts, snapshot } from './support/policy.js';

const NOW = new Date('2026-11-22T03:00:00Z');
const read = (file: string): unknown =>
  JSON.parse(readFileSync(fixturePath(`public/${file}`), 'utf8'));
/** A bare AdmissionRequest, as Pepr and Kyverno store them. */
const request = (file: string) => read(file) as AdmissionRequest;

/** What Git would hold for an object: its identity, labels, annotations and spec. */
function asManifest(object: KubeObject, changes: Record<string, unknown> = {}): KubeObject {
  const { apiVersion, kind, metadata } = object;
  return {
    apiVersion,
    kind,
    metadata: { name: metadata?.name, namespace: metadata?.namespace, labels: metadata?.labels },
    ...Object.fromEntries(
      Object.entries(object).filter(
        ([key]) => !['apiVersion', 'kind', 'metadata', 'status'].includes(key),
      ),
    ),
    ...changes,
  } as KubeObject;
}

describe('reviews recorded by other projects', () => {
  it('Kubewarden: a full AdmissionReview is read as it is; a Pod Git does not declare is not judged', () => {
    const parsed = parseReview(
      readFileSync(fixturePath('public/kubewarden-create-pod-review.json')),
    );
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(decide(parsed.request, snapshot([]), facts(), config(), NOW)).toMatchObject({
      allowed: true,
      silent: true,
      reason: 'out-of-scope',
    });
  });

  it('Pepr: kubectl label adds an undeclared label: allowed when declared, denied when strict', () => {
    const label = request('pepr-update-deployment-label.json');
    const git = snapshot([], [asManifest(label.oldObject!)]);
    const cfg = (fieldPolicy: string) =>
      config({
        fieldPolicy,
        sources: [
          { name: 'shop', repoURL: 'https://git.example.com/ops.git', namespace: 'pepr-demo' },
        ],
      });
    expect(decide(label, git, facts(), cfg('declared'), NOW)).toMatchObject({
      kind: 'allowed',
      reason: 'no-drift',
    });
    const strict = decide(label, git, facts(), cfg('strict'), NOW);
    expect(strict.kind).toBe('denied');
    expect(strict.drift).toEqual([
      { path: 'metadata.labels.color', pointer: '/metadata/labels/color', live: 'blue' },
    ]);
  });

  it('Pepr: deleting a ClusterRole that Git declares is denied', () => {
    const deletion = request('pepr-delete-clusterrole.json');
    const git = snapshot([], [asManifest(deletion.oldObject!)]);
    const decision = decide(deletion, git, facts(), config(), NOW);
    expect(decision).toMatchObject({ kind: 'denied', reason: 'delete' });
    expect(decision.message).toContain(
      'DELETE of rbac.authorization.k8s.io/ClusterRole pod-creator',
    );
  });

  it('Kyverno: the kubelet’s pod status update is exempt, managed or not', () => {
    const status = request('kyverno-kubelet-pod-status.json');
    const git = snapshot([], [asManifest(status.oldObject!)]);
    expect(
      decide(
        status,
        git,
        facts(),
        config({
          sources: [
            { name: 'shop', repoURL: 'https://git.example.com/ops.git', namespace: 'default' },
          ],
        }),
        NOW,
      ),
    ).toMatchObject({
      kind: 'exempt',
      allowed: true,
    });
  });

  it('Kyverno: a Secret created with other values than Git’s is denied without showing any value', () => {
    const create = request('kyverno-create-secret.json');
    const git = snapshot(
      [],
      [
        asManifest(create.object!, {
          data: undefined,
          stringData: { username: 'admin', password: 'from-git' },
        }),
      ],
    );
    const cfg = config({
      sources: [{ name: 'shop', repoURL: 'https://git.example.com/ops.git', namespace: 'default' }],
    });
    const decision = decide(create, git, facts(), cfg, NOW);
    expect(decision.kind).toBe('denied');
    expect(decision.drift.map((d) => d.path)).toEqual(['data.password']);
    const everything = JSON.stringify(decision);
    // The values as base64, as text, and inside kubectl's last-applied annotation.
    for (const secret of ['MWYyZDFlMmU2N2Rm', '1f2d1e2e67df', 'from-git', 'ZnJvbS1naXQ=']) {
      expect(everything).not.toContain(secret);
    }
  });
});
