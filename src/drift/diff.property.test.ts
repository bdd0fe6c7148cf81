// Properties of the comparison that must hold for every object, checked on generated
// Deployments and on arbitrary JSON.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../kube/object.js';
import { diff } from './diff.js';

const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/);
const text = fc.string({ maxLength: 12 });

const container = (containerName: string) =>
  fc.record({
    name: fc.constant(containerName),
    image: text,
    args: fc.array(text, { maxLength: 3 }),
    env: fc
      .uniqueArray(name, { maxLength: 4 })
      .chain((names) =>
        fc.tuple(...names.map((envName) => fc.record({ name: fc.constant(envName), value: text }))),
      ),
    ports: fc
      .uniqueArray(fc.integer({ min: 1, max: 65535 }), { maxLength: 3 })
      .map((numbers) => numbers.map((containerPort) => ({ containerPort }))),
    resources: fc.record({
      limits: fc.record({
        cpu: fc.constantFrom('100m', '0.5', '1', '2'),
        memory: fc.constantFrom('64Mi', '1Gi', '1G'),
      }),
    }),
  });

const deployment: fc.Arbitrary<KubeObject> = fc
  .uniqueArray(name, { minLength: 1, maxLength: 3 })
  .chain((names) =>
    fc.record({
      apiVersion: fc.constant('apps/v1'),
      kind: fc.constant('Deployment'),
      metadata: fc.record({
        name,
        namespace: name,
        labels: fc.dictionary(name, text, { maxKeys: 3 }),
      }),
      spec: fc.record({
        replicas: fc.nat(10),
        template: fc.record({ spec: fc.record({ containers: fc.tuple(...names.map(container)) }) }),
      }),
    }),
  );

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = (seed + i * 7919) % (i + 1);
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

/** Every scalar leaf of an object with the path the drift engine would name it by. */
function leaves(object: any): Array<{ path: string; set: (value: unknown) => void }> {
  const out: Array<{ path: string; set: (value: unknown) => void }> = [];
  const containers = object.spec.template.spec.containers as any[];
  out.push({ path: 'spec.replicas', set: (v) => (object.spec.replicas = v) });
  for (const key of Object.keys(object.metadata.labels)) {
    out.push({ path: `metadata.labels.${key}`, set: (v) => (object.metadata.labels[key] = v) });
  }
  for (const c of containers) {
    const at = `spec.template.spec.containers[name=${c.name}]`;
    out.push({ path: `${at}.image`, set: (v) => (c.image = v) });
    c.args.forEach((_: unknown, i: number) =>
      out.push({ path: `${at}.args[${i}]`, set: (v) => (c.args[i] = v) }),
    );
    for (const e of c.env)
      out.push({ path: `${at}.env[name=${e.name}].value`, set: (v) => (e.value = v) });
  }
  return out;
}

describe('diff properties', () => {
  it('an object never drifts from itself', () => {
    fc.assert(
      fc.property(deployment, (object) => {
        expect(diff(object, structuredClone(object))).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('arbitrary JSON never drifts from itself', () => {
    const anyObject = fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 4 }), {
      maxKeys: 6,
    });
    fc.assert(
      fc.property(anyObject, (body) => {
        const object = { apiVersion: 'example.com/v1', kind: 'Thing', ...body } as KubeObject;
        expect(diff(object, structuredClone(object))).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('reordering associative lists (containers, env, ports) changes nothing', () => {
    fc.assert(
      fc.property(deployment, fc.nat(1000), (object, seed) => {
        const live = structuredClone(object) as any;
        const spec = live.spec.template.spec;
        spec.containers = shuffled(spec.containers, seed);
        for (const c of spec.containers) {
          c.env = shuffled(c.env, seed + 1);
          c.ports = shuffled(c.ports, seed + 2);
        }
        expect(diff(object, live)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('a declared leaf changed is reported at its path, with both values', () => {
    const withLeaf = deployment.chain((object) =>
      fc.record({
        object: fc.constant(object),
        pick: fc.nat(leaves(structuredClone(object)).length - 1),
      }),
    );
    fc.assert(
      fc.property(withLeaf, ({ object, pick }) => {
        const live = structuredClone(object);
        const leaf = leaves(live)[pick]!;
        const changed = 'changed-value-not-generated';
        leaf.set(leaf.path === 'spec.replicas' ? 99 : changed);
        const drift = diff(object, live);
        expect(drift).toHaveLength(1);
        expect(drift[0]?.path).toBe(leaf.path);
        expect(drift[0]?.live).toBe(leaf.path === 'spec.replicas' ? 99 : changed);
      }),
      { numRuns: 300 },
    );
  });
});
