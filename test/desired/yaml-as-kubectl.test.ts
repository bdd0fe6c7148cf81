// Git's YAML read as kubectl v1.31 read the same files: each recorded `kubectl apply` of an odd
// YAML scalar (0644, 0o644, yes, on, 02:30, ~, .inf, bool keys, ...) against driftgate's parse.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ManifestError,
  parseManifests,
  type RenderedDocument,
} from '../../src/desired/manifest-parser.js';
import { ParseWorkerPool } from '../../src/desired/parse-task.js';
import { diff } from '../../src/drift/diff.js';
import type { KubeObject } from '../../src/kube/object.js';
import { fixturePath } from '../support/fixtures.js';

interface Step {
  readonly label: string;
  readonly cmd: string;
  readonly rc: number;
  readonly stderr: string;
  readonly writes: readonly { readonly body: string }[];
  readonly stored: readonly string[];
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
const steps = readFileSync(fixturePath('captured-1.31/logs/steps-50-58.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line) as Step);

function manifestOf(step: Step): { file: string; text: string } {
  const file = /-f (\S+)$/.exec(step.cmd)?.[1] ?? '';
  return { file, text: readFileSync(fixturePath(`captured-1.31/manifests/${file}`), 'utf8') };
}

/**
 * What kubectl's YAML-to-JSON conversion made of the file: the last-applied annotation of the
 * body it sent, without what `kubectl apply -n shop` adds (`annotations: {}`, and the namespace
 * of a namespaced object).
 */
function kubectlReading(step: Step): Record<string, any> {
  const body = JSON.parse(step.writes[0]?.body ?? 'null');
  const read = JSON.parse(body.metadata.annotations[LAST_APPLIED]);
  expect(read.metadata.annotations).toEqual({});
  expect([undefined, 'shop']).toContain(read.metadata.namespace);
  delete read.metadata.annotations;
  delete read.metadata.namespace;
  return read;
}

/** kubectl's create body leaves out map members whose value is null (not list elements). */
function withoutNullMembers(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNullMembers);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, member]) => member !== null)
      .map(([key, member]) => [key, withoutNullMembers(member)]),
  );
}

const sent = steps.filter((step) => step.writes.length > 0);
const refused = steps.filter((step) => step.writes.length === 0);

describe('Git YAML read as kubectl v1.31 read it', () => {
  it('covers every recorded step 50-58', () => {
    expect(steps.map((step) => step.label.slice(0, 3))).toContain('58-');
    expect(sent.length).toBe(26);
    expect(refused.map((step) => step.label)).toEqual([
      '50-apply-configmap-all-yaml-scalars-by-argocd',
      '51q-apply-configmap-scalar-inf-by-argocd',
      '52-apply-configmap-yaml-bool-keys-by-argocd',
      '55-apply-rawvalue-inf-by-argocd',
    ]);
  });

  it.each(sent.map((step) => [step.label, step] as const))(
    '%s: parses to the JSON kubectl made of the file',
    (_label, step) => {
      const { file, text } = manifestOf(step);
      expect(text).not.toMatch(/^\s+(namespace|annotations):/m);
      const parsed = parseManifests(text, file).map((document) => document.object);
      expect(parsed).toEqual([kubectlReading(step)]);
      // And, nulls left out, to the object kubectl sent.
      const body = JSON.parse(step.writes[0]?.body ?? 'null');
      expect(body.metadata.annotations[LAST_APPLIED]).toBeDefined();
      delete body.metadata.annotations;
      delete body.metadata.namespace;
      expect(withoutNullMembers(parsed[0])).toEqual(body);
    },
  );

  it.each(refused.map((step) => [step.label, step] as const))(
    '%s: is a render error naming the file, as kubectl refused it',
    (_label, step) => {
      const { file, text } = manifestOf(step);
      const kubectlError = /unsupported value: \S+|unsupported map key/.exec(step.stderr)?.[0];
      expect(kubectlError).toBeDefined();
      let caught: unknown;
      try {
        parseManifests(text, file);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ManifestError);
      const problem = (caught as ManifestError).problem;
      expect(problem.file).toBe(file);
      expect(problem.line).toBeGreaterThan(0);
      expect(problem.message).toContain(kubectlError);
    },
  );

  const stored = sent.filter((step) => !step.stored[0]?.startsWith('('));
  it.each(stored.map((step) => [step.label, step] as const))(
    '%s: is in sync with the object the API server stored',
    (_label, step) => {
      const { file, text } = manifestOf(step);
      const live = JSON.parse(
        readFileSync(fixturePath(`captured-1.31/stored/${step.stored[0] ?? ''}`), 'utf8'),
      ) as KubeObject;
      const [desired] = parseManifests(text, file);
      expect(diff(desired?.object as KubeObject, live, { defaultNamespace: 'shop' })).toEqual([]);
    },
  );
});

describe('the parse worker (renderer output, as from kustomize build)', () => {
  const pool = new ParseWorkerPool();
  afterAll(() => pool.close());
  const parse = async (label: string, text: string) => {
    const documents: RenderedDocument[] = [];
    const outcome = await pool.run(
      { kind: 'text', text, label, argocd: false, persist: null },
      (chunk) => documents.push(...chunk),
      30_000,
    );
    return { outcome, documents };
  };

  it('reads scalars as kubectl does', async () => {
    const step = sent.find((candidate) => candidate.label.startsWith('57-'));
    if (step === undefined) throw new Error('step 57 is missing');
    const { text } = manifestOf(step);
    const { outcome, documents } = await parse('output of kustomize build apps/shop', text);
    expect(outcome.ok).toBe(true);
    expect(documents.map((document) => JSON.parse(document.json))).toEqual([kubectlReading(step)]);
  });

  it('fails the render on .inf, naming the output and the line', async () => {
    const step = refused.find((candidate) => candidate.label.startsWith('55-'));
    if (step === undefined) throw new Error('step 55 is missing');
    const { outcome, documents } = await parse(
      'output of helm template shop',
      manifestOf(step).text,
    );
    expect(documents).toEqual([]);
    expect(outcome).toEqual({
      ok: false,
      problems: [
        {
          file: 'output of helm template shop',
          line: 6,
          message: expect.stringContaining('json: unsupported value: +Inf') as string,
        },
      ],
    });
  });
});
