// The sync tool's record on the objects it applied, read from writes recorded on a real
// kube-apiserver 1.31: Flux's server-side apply, Helm's updates, Argo CD's client-side apply, and
// people's edits and forced applies afterwards (captured-1.31 steps 60-65).
import { describe, expect, it } from 'vitest';
import { diffWrite } from '../src/drift/diff.js';
import { builtinSchemaFor } from '../src/drift/schema.js';
import type { KubeObject } from '../src/kube/object.js';
import {
  borrowedManager,
  DEFAULT_SYNC_MANAGERS,
  ownershipTaken,
  syncOwnerOf,
  syncRecordOf,
  type SyncRecordSettings,
} from '../src/policy/sync-record.js';
import { edited, review131 } from './support/fixtures.js';

const settings: SyncRecordSettings = {
  managers: new Set(DEFAULT_SYNC_MANAGERS),
  argocdTrackingLabel: undefined,
};
const deploymentSchema = builtinSchemaFor('apps/v1', 'Deployment')?.root;
const paths = (drift: readonly { path: string }[]) => drift.map((d) => d.path);

function write(label: string): { old: KubeObject; live: KubeObject; options: unknown } {
  const request = review131(label);
  return { old: request.oldObject!, live: request.object!, options: request.options };
}

function recordOf(object: KubeObject) {
  const owner = syncOwnerOf(object, settings);
  if (owner === undefined) throw new Error('no tracking marks');
  return syncRecordOf(object, owner, settings, deploymentSchema);
}

describe('who deployed the object, from its tracking marks', () => {
  it.each([
    {
      label: '61a-edit-deployment-flux-app-image-by-alice',
      owner: { tool: 'Flux', kind: 'Kustomization', name: 'flux-system/apps' },
    },
    {
      label: '65c-edit-deployment-argo-app-replicas-by-alice',
      owner: { tool: 'Argo CD', kind: 'Application', name: 'shop' },
    },
    {
      label: '64b-apply-update-deployment-helm-app-by-helm',
      owner: { tool: 'Flux', kind: 'HelmRelease', name: 'helm-app' },
    },
  ])('$label', ({ label, owner }) => {
    expect(syncOwnerOf(write(label).old, settings)).toMatchObject(owner);
  });
});

describe("Flux's server-side apply: the fields kustomize-controller owns", () => {
  it("a person's kubectl edit of an owned field is drift (61a)", () => {
    const { old, live } = write('61a-edit-deployment-flux-app-image-by-alice');
    const record = recordOf(old);
    expect(record).toMatchObject({ manager: 'kustomize-controller', from: 'managed-fields' });
    const { introduced } = diffWrite(record!.desired, old, live);
    expect(introduced).toEqual([
      expect.objectContaining({
        path: 'spec.template.spec.containers[name=app].image',
        desired: 'nginx:1.25',
        live: 'nginx:1.26',
      }),
    ]);
  });

  it('the record holds only what the sync tool declared, not server defaults', () => {
    const { old } = write('61a-edit-deployment-flux-app-image-by-alice');
    const desired = recordOf(old)!.desired as any;
    expect(desired.spec.template.spec.containers[0]).not.toHaveProperty('imagePullPolicy');
    expect(desired.spec).not.toHaveProperty('progressDeadlineSeconds');
    expect(desired.status).toBeUndefined();
  });

  it('a forced server-side apply that takes ownership is drift, whatever the value (62a)', () => {
    const { old, live, options } = write(
      '62a-apply-serverside-force-conflicts-deployment-flux-app-replicas-by-bob',
    );
    const taken = ownershipTaken(old, live, settings);
    expect(taken).toEqual([
      {
        path: 'spec.replicas',
        pointer: '/spec/replicas',
        desired: 'owned by kustomize-controller',
        live: 'owned by bob',
        newOwner: 'bob',
      },
    ]);
    // The forced apply is invisible in the request: options say only who manages the fields.
    expect(options).toEqual({
      kind: 'UpdateOptions',
      apiVersion: 'meta.k8s.io/v1',
      fieldManager: 'bob',
      fieldValidation: 'Strict',
    });
  });

  it("Flux taking its fields back is no one's theft (63b)", () => {
    const { old, live } = write(
      '63b-apply-serverside-force-conflicts-reapply-deployment-flux-app-by-flux',
    );
    expect(ownershipTaken(old, live, settings)).toEqual([]);
  });
});

describe("Argo CD's client-side apply: last-applied, trusted when argocd-controller wrote it", () => {
  it("a person's change is judged against last-applied while argocd-controller wrote it", () => {
    const { old } = write('65b-apply-edited-copy-deployment-argo-app-by-alice');
    const record = recordOf(old);
    expect(record).toMatchObject({ manager: 'argocd-controller', from: 'last-applied' });
    const live = edited(old, (d) => (d.spec.replicas = 3));
    expect(paths(diffWrite(record!.desired, old, live).introduced)).toEqual(['spec.replicas']);
  });

  it('last-applied a person rewrote is not trusted; the fields argocd-controller kept are (65c)', () => {
    // In the recording, alice's kubectl apply (65b) took last-applied before this edit.
    const { old } = write('65c-edit-deployment-argo-app-replicas-by-alice');
    const record = recordOf(old);
    expect(record).toMatchObject({ manager: 'argocd-controller', from: 'managed-fields' });
    expect(record!.desired.spec).not.toHaveProperty('replicas');
  });

  it("a person's kubectl apply rewrites last-applied: the values and the record are drift (65b)", () => {
    const { old, live } = write('65b-apply-edited-copy-deployment-argo-app-by-alice');
    const record = recordOf(old)!;
    expect(paths(diffWrite(record.desired, old, live).introduced)).toEqual([
      'spec.replicas',
      'spec.template.spec.containers[name=app].resources.limits.memory',
    ]);
    expect(paths(ownershipTaken(old, live, settings))).toContain(
      'metadata.annotations[kubectl.kubernetes.io/last-applied-configuration]',
    );
  });

  it('after that apply, last-applied is no longer the sync tool’s: it is not trusted', () => {
    const { live } = write('65b-apply-edited-copy-deployment-argo-app-by-alice');
    expect(recordOf(live)).toMatchObject({ from: 'managed-fields' });
  });
});

describe("a sync tool's field-manager name is not an identity", () => {
  it('a write under kustomize-controller is one only a sync identity may send (42)', () => {
    const { options } = write('42-apply-serverside-create-deployment-zeros-by-flux');
    expect(borrowedManager(options, settings)).toBe('kustomize-controller');
  });

  it("kubectl's own managers are no sync tool's (61a, 62a)", () => {
    expect(
      borrowedManager(write('61a-edit-deployment-flux-app-image-by-alice').options, settings),
    ).toBeUndefined();
    expect(
      borrowedManager(
        write('62a-apply-serverside-force-conflicts-deployment-flux-app-replicas-by-bob').options,
        settings,
      ),
    ).toBeUndefined();
  });
});

describe('fields taken over are judged with the same allowances as changed ones', () => {
  it("a key of a list element is found by its keys in the object's pointer", () => {
    const { old, live } = write('61a-edit-deployment-flux-app-image-by-alice');
    const taken = ownershipTaken(old, live, settings, deploymentSchema);
    expect(taken.map((d) => [d.path, d.pointer])).toEqual([
      ['spec.template.spec.containers[name=app].image', '/spec/template/spec/containers/0/image'],
    ]);
  });
});
