// The review body parser leaves the managed fields of object and oldObject unparsed until they
// are touched. What it returns must be what JSON.parse returns, for every body: the captured
// reviews, bodies where `managedFields` is somewhere else or written otherwise, and broken ones.
import { readdirSync, readFileSync } from 'node:fs';
import { types } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseReviewBody } from '../src/admission/review-body.js';
import { parseReview } from '../src/admission/review.js';
import type { AdmissionReview } from '../src/kube/admission.js';
import { fixturePath, review } from './support/fixtures.js';
import { send } from './support/https.js';
import { startTestServer, type TestServer } from './support/server.js';

const reviewsDir = fixturePath('captured/reviews/');
const capturedBodies = readdirSync(reviewsDir)
  .filter((name) => name.endsWith('.json'))
  .map((name) => ({ name, body: readFileSync(reviewsDir + name) }));

const SET_IMAGE = readFileSync(`${reviewsDir}20-set-image-deployment-by-alice.validating.json`);

type Outcome = { readonly json: string } | { readonly error: string };

/** What a body parses to, every list touched; or the kind of error it throws. */
function outcome(parse: () => unknown): Outcome {
  try {
    return { json: JSON.stringify(parse()) };
  } catch (error) {
    return { error: (error as Error).name };
  }
}

function managedFieldsOf(parsed: unknown, side: 'object' | 'oldObject'): unknown {
  return (parsed as { request: Record<string, { metadata: { managedFields?: unknown } }> }).request[
    side
  ]?.metadata.managedFields;
}

function bodyWith(edit: (review: any) => void): Buffer {
  const value = JSON.parse(SET_IMAGE.toString('utf8')) as unknown;
  edit(value);
  return Buffer.from(JSON.stringify(value));
}

describe('parseReviewBody', () => {
  it('gives what JSON.parse gives for every captured review, managed fields unparsed', () => {
    expect(capturedBodies.length).toBeGreaterThan(90);
    let unparsed = 0;
    for (const { name, body } of capturedBodies) {
      const expected = JSON.parse(body.toString('utf8')) as unknown;
      const parsed = parseReviewBody(body);
      for (const side of ['object', 'oldObject'] as const) {
        const list = managedFieldsOf(parsed, side);
        if (managedFieldsOf(expected, side) === undefined) continue;
        expect(types.isProxy(list), `${name} ${side}`).toBe(true);
        unparsed += 1;
      }
      expect(
        outcome(() => parsed),
        name,
      ).toEqual({ json: JSON.stringify(expected) });
    }
    expect(unparsed).toBeGreaterThan(90);
  });

  it('cuts lists whose strings hold brackets and escaped quotes', () => {
    const body = bodyWith((value) => {
      value.request.object.metadata.managedFields.push({ manager: 'odd ] } \\" [ {\\' });
    });
    const parsed = parseReviewBody(body);
    expect(types.isProxy(managedFieldsOf(parsed, 'object'))).toBe(true);
    expect(JSON.stringify(parsed)).toBe(body.toString('utf8'));
  });

  it('leaves the managed fields of object and oldObject unparsed until touched', () => {
    const parsed = parseReviewBody(SET_IMAGE);
    const expected = JSON.parse(SET_IMAGE.toString('utf8')) as unknown;
    for (const side of ['object', 'oldObject'] as const) {
      const list = managedFieldsOf(parsed, side) as unknown[];
      const wanted = managedFieldsOf(expected, side) as unknown[];
      expect(types.isProxy(list)).toBe(true);
      expect(Array.isArray(list)).toBe(true);
      expect(list.length).toBe(wanted.length);
      expect([...list]).toEqual(wanted);
    }
    // The write added the manager that `kubectl set image` is.
    const managers = (side: 'object' | 'oldObject') =>
      (managedFieldsOf(parsed, side) as { manager: string }[]).map((entry) => entry.manager);
    expect(managers('oldObject')).toEqual(['argocd-controller', 'kubemulti-1.26']);
    expect(managers('object')).toEqual(['argocd-controller', 'kubemulti-1.26', 'kubectl-set']);
  });

  it.each([
    { touch: 'reading its length', first: (list: unknown[]) => list.length },
    { touch: 'asking for an index', first: (list: unknown[]) => 2 in list },
    { touch: 'listing its keys', first: (list: unknown[]) => Object.keys(list) },
    {
      touch: 'describing an element',
      first: (list: unknown[]) => Object.getOwnPropertyDescriptor(list, 1)?.value,
    },
    {
      touch: 'setting an element',
      first: (list: unknown[]) => {
        list[0] = 'first';
        return list.length;
      },
    },
    { touch: 'appending', first: (list: unknown[]) => list.push({ manager: 'someone' }) },
    {
      touch: 'defining an element',
      first: (list: unknown[]) => Object.defineProperty(list, 0, { value: 'first' }).length,
    },
    { touch: 'deleting an element', first: (list: unknown[]) => Reflect.deleteProperty(list, 0) },
  ])('behaves as the parsed list when first touched by $touch', ({ first }) => {
    const lazy = managedFieldsOf(parseReviewBody(SET_IMAGE), 'object') as unknown[];
    const plain = managedFieldsOf(JSON.parse(SET_IMAGE.toString('utf8')), 'object') as unknown[];
    expect(first(lazy)).toEqual(first(plain));
    expect(Object.keys(lazy)).toEqual(Object.keys(plain));
    expect(JSON.stringify(lazy)).toBe(JSON.stringify(plain));
  });

  it('can be replaced by another list', () => {
    const metadata = (parseReviewBody(SET_IMAGE) as any).request.object.metadata as Record<
      string,
      unknown
    >;
    metadata.managedFields = [];
    expect(metadata.managedFields).toEqual([]);
  });

  it('parses everything up front where a body has no managed fields', () => {
    const body = bodyWith((value) => {
      delete value.request.object.metadata.managedFields;
      delete value.request.oldObject.metadata.managedFields;
    });
    const parsed = parseReviewBody(body);
    expect(managedFieldsOf(parsed, 'object')).toBeUndefined();
    expect(parsed).toEqual(JSON.parse(body.toString('utf8')));
  });

  it.each([
    {
      name: 'a managedFields list of a custom resource’s own',
      edit: (value: any) => {
        value.request.object.spec.managedFields = [{ a: [1, { b: '[}' }] }];
      },
    },
    {
      name: 'managedFields as the text of an annotation',
      edit: (value: any) => {
        value.request.object.metadata.annotations.note = '"managedFields":[{"x":"]"}]';
      },
    },
    {
      name: 'a key that ends in managedFields after an escaped quote',
      edit: (value: any) => {
        value.request.object.metadata.annotations['k"managedFields'] = '[';
        value.request.object.spec['k"managedFields'] = [1, ']'];
      },
    },
    {
      name: 'no managedFields on oldObject',
      edit: (value: any) => {
        delete value.request.oldObject.metadata.managedFields;
      },
    },
    {
      name: 'an empty managedFields list',
      edit: (value: any) => {
        value.request.object.metadata.managedFields = [];
      },
    },
  ])('gives what JSON.parse gives with $name', ({ edit }) => {
    const body = bodyWith(edit);
    expect(outcome(() => parseReviewBody(body))).toEqual(
      outcome(() => JSON.parse(body.toString('utf8'))),
    );
  });

  it('parses whole a review whose managed fields are a small share of it', () => {
    // A 1 MB ConfigMap: cutting a few hundred bytes out would cost more than it saves.
    const body = bodyWith((value) => {
      const data = Object.fromEntries(
        Array.from({ length: 1_000 }, (_, i) => [`key-${String(i)}`, 'x'.repeat(1_000)]),
      );
      value.request.object.data = data;
      value.request.oldObject.data = data;
    });
    const parsed = parseReviewBody(body);
    expect(types.isProxy(managedFieldsOf(parsed, 'object'))).toBe(false);
    expect(parsed).toEqual(JSON.parse(body.toString('utf8')));
  });

  it('parses whole a body written with spaces, as JSON.parse does', () => {
    const body = Buffer.from(JSON.stringify(JSON.parse(SET_IMAGE.toString('utf8')), null, 2));
    const parsed = parseReviewBody(body);
    expect(types.isProxy(managedFieldsOf(parsed, 'object'))).toBe(false);
    expect(parsed).toEqual(JSON.parse(body.toString('utf8')));
  });

  it('keeps a managedFields list of a custom resource where it is', () => {
    const body = bodyWith((value) => {
      value.request.object.spec.managedFields = ['kept'];
    });
    const parsed = parseReviewBody(body) as any;
    expect(parsed.request.object.spec.managedFields).toEqual(['kept']);
    expect(managedFieldsOf(parsed, 'object')).toEqual(
      managedFieldsOf(JSON.parse(body.toString('utf8')), 'object'),
    );
  });

  it.each([
    { name: 'a list that never ends', body: SET_IMAGE.subarray(0, 2_000) },
    {
      name: 'a list closed by the wrong bracket',
      body: Buffer.from('{"request":{"object":{"metadata":{"managedFields":[{"a":1]]}}}}'),
    },
    { name: 'a broken byte after the lists', body: Buffer.from(`${String(SET_IMAGE)}x`) },
    {
      name: 'a list that ends inside a string, after a backslash',
      body: Buffer.from('{"request":{"object":{"metadata":{"managedFields":[{"a":"x\\'),
    },
    {
      name: 'a list that ends inside a string',
      body: Buffer.from('{"request":{"object":{"metadata":{"managedFields":[{"a":"x]}'),
    },
  ])('throws as JSON.parse does for $name', ({ body }) => {
    expect(() => JSON.parse(body.toString('utf8'))).toThrow(SyntaxError);
    expect(() => parseReviewBody(body)).toThrow(SyntaxError);
  });

  it('throws when a list whose own text is not JSON is first touched', () => {
    const text = SET_IMAGE.toString('utf8').replace('"manager":"kubectl-set"', '"manager" 1');
    const parsed = parseReviewBody(Buffer.from(text));
    expect(() => [...(managedFieldsOf(parsed, 'object') as unknown[])]).toThrow(SyntaxError);
  });

  it('agrees with JSON.parse on captured reviews with random bytes changed', () => {
    const structural = ['"', '\\', '[', ']', '{', '}', ':', ',', ' ', 'x', '0'];
    fc.assert(
      fc.property(
        fc.constantFrom(...capturedBodies),
        fc.array(
          fc.record({
            at: fc.nat(),
            kind: fc.constantFrom('insert', 'replace', 'delete'),
            byte: fc.constantFrom(...structural),
          }),
          { minLength: 1, maxLength: 3 },
        ),
        ({ body }, edits) => {
          let text = body.toString('latin1');
          for (const { at, kind, byte } of edits) {
            const i = at % text.length;
            const keep = kind === 'insert' ? text.slice(i) : text.slice(i + 1);
            text = text.slice(0, i) + (kind === 'delete' ? '' : byte) + keep;
          }
          const mutated = Buffer.from(text, 'latin1');
          expect(outcome(() => parseReviewBody(mutated))).toEqual(
            outcome(() => JSON.parse(mutated.toString('utf8'))),
          );
        },
      ),
      { numRuns: 400, seed: 20261206 },
    );
  });
});

describe('parseReview', () => {
  it('answers 400 for a body whose managed fields never end', () => {
    expect(parseReview(SET_IMAGE.subarray(0, 2_000))).toEqual({
      ok: false,
      status: 400,
      message: 'the body is not JSON',
    });
  });
});

describe('an ignore rule naming managers, over HTTPS', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({
      source: {
        ignoreDifferences: [
          { group: 'apps', kind: 'Deployment', managedFieldsManagers: ['kubectl-set'] },
        ],
      },
    });
  });

  afterAll(async () => {
    await server.stop();
  });

  it('reads the managers from the managed fields the API server sent', async () => {
    // `kubectl set image` is the manager of the image in this review's managed fields: a rule
    // naming it leaves no drift to deny.
    const request = review('20-set-image-deployment-by-alice');
    const reply = await send(
      `${server.driftgate.url}/validate`,
      JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request }),
      { ca: server.driftgate.caCert },
    );
    const answer = (JSON.parse(reply.body) as AdmissionReview).response;
    expect(answer?.uid).toBe(request.uid);
    expect(answer?.allowed).toBe(true);
  });
});
