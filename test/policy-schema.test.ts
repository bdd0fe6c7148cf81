// decide() under `mode: enforce` on writes recorded on a real kube-apiserver 1.31, where the
// answer depends on the API's schema: what the server drops, keeps, prunes and how it keys lists.
import { describe, expect, it } from 'vitest';
import type { AdmissionRequest } from '../src/kube/admission.js';
import { readFileSync } from 'node:fs';
import { compactDefinitions, type OpenApiDocument } from '../src/drift/schema-compact.js';
import { SchemaSet } from '../src/drift/schema.js';
import { decide } from '../src/policy/decide.js';
import { fixturePath, manifest131, review131 } from './support/fixtures.js';
import { asUser, config, facts, snapshot } from './support/policy.js';

const NOW = new Date('2026-12-07T12:00:00Z');
const cfg = config({ mode: 'enforce' });

function decideWith(manifests: readonly string[], request: AdmissionRequest) {
  return decide(request, snapshot([], manifests.map(manifest131)), facts(), cfg, NOW);
}

const byAlice = (label: string) => asUser(review131(label), 'alice@example.com', ['developers']);

describe('schema-true decisions on recorded writes', () => {
  it('a person creating exactly what Git declares, zeros included, is allowed', () => {
    const decision = decideWith(
      ['deploy-zeros'],
      byAlice('40-apply-create-deployment-zeros-by-argocd'),
    );
    expect(decision).toMatchObject({ kind: 'allowed', reason: 'no-drift', preexisting: [] });
  });

  it('a person creating what Git declares with other spellings of its quantities is allowed', () => {
    const decision = decideWith(
      ['hpa-quantities-v2'],
      byAlice('24-apply-create-hpa-v2-quantities-by-argocd'),
    );
    expect(decision).toMatchObject({ kind: 'allowed', reason: 'no-drift' });
  });

  it('replacing a declared emptyDir: {} with a hostPath is denied', () => {
    const decision = decideWith(
      ['deploy-lists'],
      review131('82b-patch-strategic-volume-emptydir-null-hostpath-by-alice'),
    );
    expect(decision.kind).toBe('denied');
    expect(decision.drift.map((d) => d.path)).toEqual([
      'spec.template.spec.volumes[name=cache].emptyDir',
    ]);
  });

  it('appending a second LOG_LEVEL that overrides Git is denied', () => {
    const decision = decideWith(
      ['deploy-lists'],
      review131('81-patch-json-append-duplicate-env-by-alice'),
    );
    expect(decision.kind).toBe('denied');
    expect(decision.message).toContain('env[name=LOG_LEVEL]');
  });

  it('removing the status subresource Git declares on a CRD is denied', () => {
    const decision = decideWith(
      ['crd-widgets'],
      review131('74-edit-crd-widgets-remove-status-subresource-by-alice'),
    );
    expect(decision.kind).toBe('denied');
    expect(decision.drift.map((d) => d.path)).toEqual(['spec.versions[0].subresources.status']);
  });

  it('fields the API server pruned from a custom resource are not drift when Git holds its CRD', () => {
    const request = byAlice('71b-apply-create-widget-unknown-field-validate-warn-by-argocd');
    expect(decideWith(['crd-widgets', 'widget-unknown-field'], request)).toMatchObject({
      kind: 'allowed',
      reason: 'no-drift',
    });
    // Without the CRD in Git, driftgate cannot know they were pruned.
    expect(decideWith(['widget-unknown-field'], request).kind).toBe('denied');
  });

  it("without the CRD in Git, the cluster's published schema says what was pruned", () => {
    const document = JSON.parse(
      readFileSync(fixturePath('captured-1.31/openapi/apis/capture.example.com/v1.json'), 'utf8'),
    ) as OpenApiDocument;
    const published = new SchemaSet(compactDefinitions([document], { customResources: true }));
    const cluster = { ...facts(), schemaOf: published.schemaFor.bind(published) };
    const request = byAlice('71b-apply-create-widget-unknown-field-validate-warn-by-argocd');
    const git = snapshot([], [manifest131('widget-unknown-field')]);
    expect(decide(request, git, cluster, cfg, NOW)).toMatchObject({ kind: 'allowed' });
  });
});
