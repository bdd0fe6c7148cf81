// The comparison follows the API's own schema, proven on writes recorded on a real
// kube-apiserver 1.31 (test/fixtures/captured-1.31): canonical quantities, zero values the
// server drops or keeps, empty structs it keeps, duplicates in keyed lists, pruned CR fields.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { diff, diffWrite } from '../src/drift/diff.js';
import { builtinSchemaFor, customResourceSchema } from '../src/drift/schema.js';
import type { KubeObject } from '../src/kube/object.js';
import { edited, fixturePath, manifest131, review131, stored131 } from './support/fixtures.js';

const paths = (drift: readonly { path: string }[]) => drift.map((d) => d.path);

function created(label: string): KubeObject {
  const object = review131(label).object;
  if (object == null) throw new Error(`${label} has no object`);
  return object;
}

describe('quantities compare by value wherever the schema says Quantity', () => {
  it.each([
    { manifest: 'hpa-quantities-v2', review: '24-apply-create-hpa-v2-quantities-by-argocd' },
    { manifest: 'limitrange-defaults', review: '30-apply-create-limitrange-by-argocd' },
    { manifest: 'resourcequota-compute', review: '31-apply-create-resourcequota-by-argocd' },
    { manifest: 'pvc-data', review: '32-apply-create-pvc-by-argocd' },
    { manifest: 'deploy-quantities', review: '33-apply-create-deployment-quantities-by-argocd' },
  ])('$manifest equals what the API server stored ($review)', ({ manifest, review }) => {
    const stored = created(review);
    expect(JSON.stringify(stored)).not.toBe(JSON.stringify(manifest131(manifest)));
    expect(diff(manifest131(manifest), stored)).toEqual([]);
  });

  it('an HPA metric target moved to another value is drift', () => {
    const stored = created('24-apply-create-hpa-v2-quantities-by-argocd');
    const moved = edited(stored, (hpa) => {
      hpa.spec.metrics[0].pods.target.averageValue = '2k';
    });
    const drift = diff(manifest131('hpa-quantities-v2'), moved);
    expect(paths(drift)).toEqual(['spec.metrics[0].pods.target.averageValue']);
  });

  it('an int-or-string keeps its type: a port number is not the string of it', () => {
    const stored = created('33-apply-create-deployment-quantities-by-argocd');
    const desired = edited(manifest131('deploy-quantities'), (d) => {
      d.spec.template.spec.containers[0].resources.limits.cpu = 'not-a-quantity';
    });
    expect(paths(diff(desired, stored))).toEqual([
      'spec.template.spec.containers[name=app].resources.limits.cpu',
    ]);
  });
});

describe('zero values the API server does not store', () => {
  it.each([
    { manifest: 'deploy-zeros', review: '40-apply-create-deployment-zeros-by-argocd' },
    { manifest: 'deploy-zeros-ssa', review: '42-apply-serverside-create-deployment-zeros-by-flux' },
    { manifest: 'cronjob-zeros', review: '43-apply-create-cronjob-zeros-by-argocd' },
  ])('$manifest: CREATE from Git is not drift ($review)', ({ manifest, review }) => {
    expect(diff(manifest131(manifest), created(review))).toEqual([]);
  });

  it('restoring Git zeros over other values is no drift and leaves no warning', () => {
    const stored = created('40-apply-create-deployment-zeros-by-argocd');
    const old = edited(stored, (d) => {
      d.spec.minReadySeconds = 10;
      d.spec.template.spec.hostNetwork = true;
    });
    const result = diffWrite(manifest131('deploy-zeros'), old, stored);
    expect(result).toEqual({ introduced: [], preexisting: [] });
  });

  it('a later write to an object holding Git zeros carries no false "already drifted"', () => {
    const stored = created('40-apply-create-deployment-zeros-by-argocd');
    const imageChanged = edited(stored, (d) => {
      d.spec.template.spec.containers[0].image = 'nginx:1.26';
    });
    const result = diffWrite(manifest131('deploy-zeros'), stored, imageChanged);
    expect(paths(result.introduced)).toEqual(['spec.template.spec.containers[name=app].image']);
    expect(result.preexisting).toEqual([]);
  });

  it('removing a zero the API server keeps (a pointer field) is drift', () => {
    const stored = created('40-apply-create-deployment-zeros-by-argocd');
    // Kept in the recording: enableServiceLinks: false and terminationGracePeriodSeconds: 0.
    expect(stored.spec).toMatchObject({
      template: { spec: { enableServiceLinks: false, terminationGracePeriodSeconds: 0 } },
    });
    const removed = edited(stored, (d) => {
      delete d.spec.template.spec.enableServiceLinks;
    });
    const result = diffWrite(manifest131('deploy-zeros'), stored, removed);
    expect(result.introduced).toEqual([
      {
        path: 'spec.template.spec.enableServiceLinks',
        pointer: '/spec/template/spec/enableServiceLinks',
        desired: false,
      },
    ]);
  });

  it('a custom resource stores zeros as written: removing one is drift', () => {
    const crd = manifest131('crd-widgets');
    const schema = customResourceSchema(crd, 'v1');
    const desired: KubeObject = {
      apiVersion: 'capture.example.com/v1',
      kind: 'Widget',
      metadata: { name: 'w', namespace: 'shop' },
      spec: { size: 'small', replicas: 0 },
    };
    const live = edited(desired, (w) => delete w.spec.replicas);
    expect(schema).toBeDefined();
    expect(paths(diff(desired, live, { schema: schema! }))).toEqual(['spec.replicas']);
  });
});

describe('empty values: a struct is kept, a map or list is not', () => {
  it('the recorded CREATE with emptyDir: {} is not drift', () => {
    const stored = created('80a-apply-create-deployment-lists-by-argocd');
    expect(diff(manifest131('deploy-lists'), stored)).toEqual([]);
  });

  it('replacing a declared emptyDir: {} with hostPath is drift (82b, recorded)', () => {
    const request = review131('82b-patch-strategic-volume-emptydir-null-hostpath-by-alice');
    const result = diffWrite(manifest131('deploy-lists'), request.oldObject!, request.object!);
    expect(result.introduced).toEqual([
      {
        path: 'spec.template.spec.volumes[name=cache].emptyDir',
        pointer: '/spec/template/spec/volumes/0/emptyDir',
        desired: {},
      },
    ]);
  });

  it("removing a CRD's declared subresources.status: {} is drift (74, recorded)", () => {
    const request = review131('74-edit-crd-widgets-remove-status-subresource-by-alice');
    const result = diffWrite(manifest131('crd-widgets'), request.oldObject!, request.object!);
    expect(paths(result.introduced)).toEqual(['spec.versions[0].subresources.status']);
  });

  it('an empty map or list in Git equals an absent one; keys added inside stay undeclared', () => {
    const stored = created('80a-apply-create-deployment-lists-by-argocd');
    const desired = edited(manifest131('deploy-lists'), (d) => {
      d.metadata.labels = {};
      d.spec.template.spec.nodeSelector = {};
      d.spec.template.spec.tolerations = [];
    });
    expect(diff(desired, stored)).toEqual([]);
    const withSelector = edited(stored, (d) => {
      d.spec.template.spec.nodeSelector = { disk: 'ssd' };
    });
    expect(diffWrite(desired, stored, withSelector)).toEqual({ introduced: [], preexisting: [] });
  });

  it('the schema knows struct from map for every built-in it was generated from', () => {
    const deployment = builtinSchemaFor('apps/v1', 'Deployment')!.root;
    const podSpec = deployment.fields?.get('spec')?.fields?.get('template')?.fields?.get('spec');
    const volume = podSpec?.fields?.get('volumes')?.items;
    expect(volume?.fields?.get('emptyDir')?.type).toBe('struct');
    expect(podSpec?.fields?.get('nodeSelector')?.type).toBe('map');
    expect(podSpec?.fields?.get('securityContext')?.type).toBe('struct');
  });
});

describe('keyed lists', () => {
  it("a duplicate env entry appended after Git's is drift (81, recorded)", () => {
    const request = review131('81-patch-json-append-duplicate-env-by-alice');
    const result = diffWrite(manifest131('deploy-lists'), request.oldObject!, request.object!);
    expect(result.introduced).toEqual([
      expect.objectContaining({
        path: 'spec.template.spec.containers[name=app].env[name=LOG_LEVEL]',
        pointer: '/spec/template/spec/containers/0/env/2',
        live: { name: 'LOG_LEVEL', value: 'debug' },
      }),
    ]);
  });

  it("a duplicate already there before the write is pre-existing, not the writer's", () => {
    const request = review131('81-patch-json-append-duplicate-env-by-alice');
    const later = edited(request.object!, (d) => {
      d.spec.template.spec.containers[0].image = 'nginx:1.26';
    });
    const result = diffWrite(manifest131('deploy-lists'), request.object!, later);
    expect(paths(result.introduced)).toEqual(['spec.template.spec.containers[name=app].image']);
    expect(paths(result.preexisting)).toEqual([
      'spec.template.spec.containers[name=app].env[name=LOG_LEVEL]',
    ]);
  });

  it('Argo CD re-applying Git keeps the duplicate, still drift (82c, recorded)', () => {
    const request = review131('82c-apply-reapply-deployment-lists-by-argocd');
    const drift = diff(manifest131('deploy-lists'), request.object!);
    expect(paths(drift)).toEqual(['spec.template.spec.containers[name=app].env[name=LOG_LEVEL]']);
  });

  it('appending to a list the schema calls atomic changes what Git declares (83, recorded)', () => {
    // ServiceAccount imagePullSecrets is `x-kubernetes-list-type: atomic`: Git's list is one value.
    const request = review131('83-patch-json-append-imagepullsecret-by-alice');
    const desired = manifest131('sa-builder');
    expect(paths(diffWrite(desired, request.oldObject!, request.object!).introduced)).toEqual([
      'imagePullSecrets',
    ]);
  });
});

describe('fields the API server prunes from a custom resource', () => {
  const schema = customResourceSchema(manifest131('crd-widgets'), 'v1')!;

  it.each([
    {
      review: '71b-apply-create-widget-unknown-field-validate-warn-by-argocd',
      manifest: 'widget-unknown-field',
    },
    {
      review: '71c-apply-create-widget-unknown-field-validate-false-by-argocd',
      manifest: 'widget-unknown-field-green',
    },
  ])('unknown fields in Git are not declared ($review)', ({ review, manifest }) => {
    const stored = created(review);
    expect(diff(manifest131(manifest), stored, { schema })).toEqual([]);
    // Without the CustomResourceDefinition the pruned fields would look like drift.
    expect(paths(diff(manifest131(manifest), stored))).toEqual([
      'spec.colour',
      'spec.extra.nested',
    ]);
  });

  it('a field the schema declares is still compared', () => {
    const stored = created('71b-apply-create-widget-unknown-field-validate-warn-by-argocd');
    const changed = edited(stored, (w) => (w.spec.size = 'large'));
    expect(paths(diff(manifest131('widget-unknown-field'), changed, { schema }))).toEqual([
      'spec.size',
    ]);
  });
});

describe('the generated table', () => {
  it('is what the generator makes of the recorded OpenAPI documents', () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'driftgate-schema-')), 'schema.json');
    execFileSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'scripts/generate-builtin-schema.ts',
        fixturePath('captured-1.31/openapi'),
        out,
      ],
      { stdio: 'pipe' },
    );
    const checkedIn = readFileSync('src/drift/generated/builtin-schema.json', 'utf8');
    expect(readFileSync(out, 'utf8')).toBe(checkedIn);
  });

  it('a stored Deployment and HPA are each in sync with themselves', () => {
    for (const name of [
      '40-apply-create-deployment-zeros-by-argocd',
      '24-apply-create-hpa-v2-quantities-by-argocd',
    ]) {
      const stored = stored131(name);
      expect(diff(stored, stored)).toEqual([]);
    }
  });
});
