// decide() for objects a sync tool deployed from sources driftgate does not render: judged
// against the sync tool's record on the object, on writes recorded on a real kube-apiserver 1.31.
import { describe, expect, it } from 'vitest';
import type { AdmissionRequest } from '../src/kube/admission.js';
import { auditAnnotations } from '../src/audit/record.js';
import { decide } from '../src/policy/decide.js';
import { withHelmReleases, type ClusterFacts } from '../src/policy/facts.js';
import { edited, manifest131, review131, stored131 } from './support/fixtures.js';
import { asUser, config, facts, snapshot } from './support/policy.js';

const NOW = new Date('2026-12-07T12:00:00Z');
const enforce = config({ mode: 'enforce' });
const nothingInGit = snapshot([], []);

function judged(request: AdmissionRequest, cfg = enforce, git = nothingInGit) {
  return decide(request, git, facts(), cfg, NOW);
}

describe('objects a sync tool deployed, where Git is not rendered', () => {
  it("a person's kubectl edit of a field Flux applied is denied, naming the Kustomization (61a)", () => {
    const decision = judged(review131('61a-edit-deployment-flux-app-image-by-alice'));
    expect(decision.kind).toBe('denied');
    expect(decision.drift.map((d) => d.path)).toEqual([
      'spec.template.spec.containers[name=app].image',
    ]);
    expect(decision.origin).toMatchObject({
      source: 'Flux Kustomization flux-system/apps',
      by: 'sync-record',
    });
    expect(decision.message).toContain('from what the sync tool applied');
    expect(decision.message).toContain('deployed by Flux Kustomization flux-system/apps');
    expect(decision.message).toContain('Git has "nginx:1.25", the request has "nginx:1.26"');
  });

  it('a forced server-side apply taking a Flux field is denied (62a)', () => {
    const decision = judged(
      review131('62a-apply-serverside-force-conflicts-deployment-flux-app-replicas-by-bob'),
    );
    expect(decision.kind).toBe('denied');
    expect(decision.drift.map((d) => d.path)).toContain('spec.replicas');
  });

  it("a person's kubectl apply over Argo CD's last-applied is denied (65b)", () => {
    const decision = judged(review131('65b-apply-edited-copy-deployment-argo-app-by-alice'));
    expect(decision.kind).toBe('denied');
    expect(decision.origin).toMatchObject({
      source: 'Argo CD Application shop',
      file: 'last-applied-configuration written by argocd-controller',
    });
    expect(decision.drift.map((d) => d.path)).toEqual([
      'spec.replicas',
      'spec.template.spec.containers[name=app].resources.limits.memory',
      'metadata.annotations[kubectl.kubernetes.io/last-applied-configuration]',
    ]);
  });

  it('deleting an object Argo CD deployed is judged like deleting one Git declares', () => {
    const deployed = stored131('65a-apply-create-deployment-argo-app-by-argocd');
    const request: AdmissionRequest = {
      ...asUser(review131('65c-edit-deployment-argo-app-replicas-by-alice'), 'alice@example.com', [
        'developers',
      ]),
      operation: 'DELETE',
      object: null,
      oldObject: deployed,
      options: { kind: 'DeleteOptions', apiVersion: 'meta.k8s.io/v1' },
    };
    const decision = judged(request);
    expect(decision).toMatchObject({ kind: 'denied', reason: 'delete' });
    expect(decision.message).toContain('which Argo CD Application shop deployed');
  });

  it('in warn mode the same edit is allowed with a warning and recorded', () => {
    const decision = judged(
      review131('61a-edit-deployment-flux-app-image-by-alice'),
      config({ mode: 'warn' }),
    );
    expect(decision.kind).toBe('warned');
    expect(decision.warnings.join('\n')).toContain('containers[name=app].image');
  });

  it('with syncRecords: off, the object is not judged', () => {
    const decision = judged(
      review131('61a-edit-deployment-flux-app-image-by-alice'),
      config({ mode: 'enforce', syncRecords: 'off' }),
    );
    expect(decision).toMatchObject({ kind: 'allowed', silent: true });
  });

  it('an object without tracking marks is not judged by a record', () => {
    const request = review131('61a-edit-deployment-flux-app-image-by-alice');
    const unmarked = (o: unknown) =>
      edited(o as never, (d) => {
        d.metadata.labels = { 'app.kubernetes.io/name': 'flux-app' };
      });
    const decision = judged({
      ...request,
      oldObject: unmarked(request.oldObject),
      object: unmarked(request.object),
    });
    expect(decision).toMatchObject({ kind: 'allowed', silent: true });
  });

  it('where Git declares the object, Git decides (fallback)', () => {
    const git = snapshot([], [manifest131('flux-app-deploy')]);
    const decision = judged(review131('61a-edit-deployment-flux-app-image-by-alice'), enforce, git);
    expect(decision.kind).toBe('denied');
    expect(decision.origin?.by).toBeUndefined();
  });
});

describe("a sync tool's field-manager name is not an identity", () => {
  it('a person creating an object Git declares under kustomize-controller is denied (42)', () => {
    const request = asUser(
      review131('42-apply-serverside-create-deployment-zeros-by-flux'),
      'alice@example.com',
      ['developers'],
    );
    const git = snapshot([], [manifest131('deploy-zeros-ssa')]);
    const decision = judged(request, enforce, git);
    expect(decision.kind).toBe('denied');
    expect(decision.drift[0]).toEqual({
      path: 'metadata.managedFields',
      pointer: '/metadata/managedFields',
      desired: 'written by a sync identity as kustomize-controller',
      live: 'written by alice@example.com as kustomize-controller',
    });
  });

  it('the sync identity itself may write under its own name (42)', () => {
    const git = snapshot([], [manifest131('deploy-zeros-ssa')]);
    const decision = judged(
      review131('42-apply-serverside-create-deployment-zeros-by-flux'),
      enforce,
      git,
    );
    expect(decision.kind).toBe('sync');
  });
});

describe("the deploying source's own sync identities", () => {
  it("a Kustomization's service account writing its objects is the sync tool, not a person", () => {
    const reconciler = 'system:serviceaccount:apps:reconciler';
    const base = enforce.sources[0]!;
    const kustomization = {
      ...base,
      name: 'flux:flux-system/apps',
      syncIdentities: { users: [reconciler], groups: [] },
    };
    const request = asUser(review131('61a-edit-deployment-flux-app-image-by-alice'), reconciler, [
      'system:serviceaccounts',
    ]);
    const decision = decide(request, nothingInGit, facts(), enforce, NOW, [kustomization]);
    expect(decision.kind).toBe('sync');
    // Anyone else is still judged against the record.
    const byAlice = decide(
      review131('61a-edit-deployment-flux-app-image-by-alice'),
      nothingInGit,
      facts(),
      enforce,
      NOW,
      [kustomization],
    );
    expect(byAlice.kind).toBe('denied');
  });
});

describe('allowances apply to fields taken from the sync tool', () => {
  it('an ignore rule for a field lets a controller take it over (62a, the rule on spec.replicas)', () => {
    const request = review131(
      '62a-apply-serverside-force-conflicts-deployment-flux-app-replicas-by-bob',
    );
    const withRule = config({
      mode: 'enforce',
      ignoreDifferences: [{ group: 'apps', kind: 'Deployment', jsonPointers: ['/spec/replicas'] }],
    });
    expect(judged(request).kind).toBe('denied');
    expect(judged(request, withRule)).toMatchObject({ kind: 'allowed', reason: 'no-drift' });
  });
});

describe('Flux HelmReleases found by discovery', () => {
  // helm-controller labels every object it deploys with the HelmRelease's name and namespace
  // (its origin-labels post-renderer); the capture's Helm-style writes carry the name only, so the
  // namespace label is added as helm-controller would have added it.
  const RELEASE = 'shop/helm-app';
  const DEPLOYER = 'system:serviceaccount:shop:helm-app-deployer';
  const OTHER_DEPLOYER = 'system:serviceaccount:team-b:deployer';
  const labelled = (object: unknown) =>
    edited(object as never, (d) => {
      d.metadata.labels['helm.toolkit.fluxcd.io/namespace'] = 'shop';
    });
  const helmUpgrade = (): AdmissionRequest => {
    const request = review131('64b-apply-update-deployment-helm-app-by-helm');
    return { ...request, object: labelled(request.object), oldObject: labelled(request.oldObject) };
  };
  const helmInstall = (): AdmissionRequest => {
    const request = review131('64a-apply-create-deployment-helm-app-by-helm');
    return { ...request, object: labelled(request.object) };
  };
  const released = withHelmReleases(
    facts(),
    new Map([
      [
        RELEASE,
        {
          name: RELEASE,
          syncIdentities: {
            users: ['system:serviceaccount:flux-system:helm-controller', DEPLOYER],
            groups: [],
          },
          revision: 'helm-app@1.2.0, Helm release shop/helm-app.v2',
        },
      ],
      [
        'team-b/other',
        {
          name: 'team-b/other',
          syncIdentities: {
            users: ['system:serviceaccount:flux-system:helm-controller', OTHER_DEPLOYER],
            groups: [],
          },
          revision: undefined,
        },
      ],
    ]),
  );
  const by = (request: AdmissionRequest, user: string, cfg = enforce, git = nothingInGit) =>
    decide(asUser(request, user, ['system:serviceaccounts']), git, released, cfg, NOW);
  // Git manages Deployments (another one), so a CREATE of one is judged by `unmanaged`.
  const deploymentsInGit = snapshot([], [manifest131('flux-app-deploy')]);

  it('the service account a HelmRelease names syncs its objects (64b)', () => {
    expect(by(helmUpgrade(), DEPLOYER).kind).toBe('sync');
  });

  it('is no sync identity for another release’s objects, nor elsewhere', () => {
    expect(by(helmUpgrade(), OTHER_DEPLOYER).kind).toBe('denied');
    // An object Flux's Kustomization deployed, written by the release's account.
    expect(by(review131('61a-edit-deployment-flux-app-image-by-alice'), DEPLOYER).kind).toBe(
      'denied',
    );
  });

  it('not without discovery: the account is no one’s sync identity then', () => {
    const decision = decide(
      asUser(helmUpgrade(), DEPLOYER, ['system:serviceaccounts']),
      nothingInGit,
      facts(),
      enforce,
      NOW,
    );
    expect(decision.kind).toBe('denied');
  });

  it('an object labelled with the release’s name alone is not attributed to a release', () => {
    const request = review131('64b-apply-update-deployment-helm-app-by-helm');
    expect(by(request, DEPLOYER).kind).toBe('denied');
  });

  it('a denial names the HelmRelease and what it last released, in the message and the audit', () => {
    const decision = by(helmUpgrade(), 'alice@example.com');
    expect(decision.kind).toBe('denied');
    expect(decision.drift.map((d) => d.path)).toContain(
      'spec.template.spec.containers[name=app].image',
    );
    expect(decision.message).toContain(
      'deployed by Flux HelmRelease shop/helm-app (helm-app@1.2.0, Helm release shop/helm-app.v2), record: last-applied-configuration written by helm-controller',
    );
    expect(auditAnnotations(decision)).toMatchObject({
      source:
        'Flux HelmRelease shop/helm-app:last-applied-configuration written by helm-controller',
      revision: 'helm-app@1.2.0, Helm release shop/helm-app.v2',
      'protected-by': 'sync-record',
    });
  });

  it('installs its objects where only GitOps creates (unmanaged: deny) (64a)', () => {
    const strict = config({ mode: 'enforce', unmanaged: 'deny' });
    expect(by(helmInstall(), DEPLOYER, strict, deploymentsInGit).kind).toBe('sync');
    expect(by(helmInstall(), OTHER_DEPLOYER, strict, deploymentsInGit)).toMatchObject({
      kind: 'denied',
      reason: 'unmanaged',
    });
  });

  it('adding the releases to the cluster facts keeps the rest of them live (the kill switch)', () => {
    let override: ClusterFacts['override'] = undefined;
    const live: ClusterFacts = {
      ...facts(),
      get override() {
        return override;
      },
    };
    const extended = withHelmReleases(live, new Map());
    expect(extended.override).toBeUndefined();
    override = 'off';
    expect(extended.override).toBe('off');
    expect(extended.helmRelease?.(RELEASE)).toBeUndefined();
  });

  it('with syncRecords: off, a release grants nothing', () => {
    const strict = config({ mode: 'enforce', unmanaged: 'deny', syncRecords: 'off' });
    expect(by(helmInstall(), DEPLOYER, strict, deploymentsInGit).kind).toBe('denied');
  });
});
