// Fuzzing the admission path with fast-check: the pure decision on edited real reviews, then the
// real HTTPS server on random, truncated, hostile, deep and oversized bodies. Two promises hold
// for every case: an answer is a well-formed AdmissionReview echoing the uid, or a plain 4xx;
// and no edit of a part that does not matter turns a denied write into an allowed one.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_REVIEW_BYTES } from '../src/admission/review.js';
import type { AdmissionRequest, AdmissionReview } from '../src/kube/admission.js';
import { decide } from '../src/policy/decide.js';
import { mutate, type JsonPatchOperation } from '../src/policy/mutate.js';
import { review } from './support/fixtures.js';
import { rawTls, send, type Reply } from './support/https.js';
import { applyPatch } from './support/json-patch.js';
import { config, facts, snapshot } from './support/policy.js';
import { startTestServer, type TestServer } from './support/server.js';

/** Captured writes that driftgate denies, each for a different reason or shape. */
const DENIED = [
  '20-set-image-deployment-by-alice',
  '21-edit-deployment-by-alice',
  '23-patch-json-deployment-by-alice',
  '24-patch-strategic-deployment-by-alice',
  '27-scale-deployment-by-alice',
  '29-replace-deployment-by-alice',
  '30-apply-edited-deployment-by-alice',
  '31-apply-dryrun-server-deployment-by-alice',
  '55-delete-dryrun-server-deployment-by-alice',
  '56-delete-orphan-deployment-by-alice',
  '58-delete-deployment-by-alice',
  '60-edit-configmap-data-by-alice',
  '61-delete-configmap-by-alice',
  '62-patch-secret-data-by-alice',
  '63-edit-service-port-by-alice',
  '71-scale-statefulset-by-alice',
  '75-patch-widget-size-by-alice',
] as const;

// Keys that have broken JavaScript programs before: prototype pollution, lookups that find
// Object.prototype's members, and keys that look like path syntax.
const HOSTILE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '',
  '.',
  '/',
  '~1',
  'a.b',
  '[name=app]',
  '\u0000',
  'line\nbreak',
];
const NAN_LIKE = ['NaN', 'Infinity', '-Infinity', '-0', '1e400', '0x10', 'null', 'undefined', '١٢'];

/** Cases run in this file, printed at the end so the README's figure stays honest. */
let cases = 0;
afterAll(() => {
  console.log(`fuzz-admission: ${cases} cases`);
});

type Json = any;

/** Sets an own property, even `__proto__`, the way JSON.parse does. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/** `depth` levels of `{"a": …}` or `[…]`, built without recursion. */
function nested(depth: number, arrays: boolean): unknown {
  let value: unknown = 'bottom';
  for (let level = 0; level < depth; level++) value = arrays ? [value] : { a: value };
  return value;
}

const key = fc.oneof(
  fc.constantFrom(...HOSTILE_KEYS),
  fc.string({ minLength: 1, maxLength: 12 }).map((s) => `x-${s}`),
);
const stringValue = fc.oneof(fc.constantFrom(...NAN_LIKE), fc.string({ maxLength: 40 }));
const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  stringValue,
  fc.constantFrom(...NAN_LIKE.map(Number)),
);
// Groups that grant nothing in the test config (breakGlass.groups is [oncall], adminGroups
// [system:masters]).
const harmlessGroup = fc.oneof(
  fc.constantFrom('developers', 'system:authenticated', 'argocd', 'flux', 'oncall-readonly'),
  fc.string({ maxLength: 20 }).filter((g) => g !== 'oncall' && g !== 'system:masters'),
);

/** Where in the object a new, undeclared member may go. */
const PLACES = [
  [],
  ['metadata'],
  ['spec'],
  ['spec', 'template'],
  ['spec', 'template', 'spec'],
  ['spec', 'template', 'spec', 'containers', 0],
  ['data'],
];

function at(root: Json, path: readonly (string | number)[]): Json {
  let value: Json = root;
  for (const step of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = value[step];
  }
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : undefined;
}

/** An edit to a request that must not change whether driftgate denies it. */
type Edit = (request: Json) => void;

function objectsOf(request: Json, both: boolean): Json[] {
  const objects = [request.operation === 'DELETE' ? request.oldObject : request.object];
  if (both && request.operation === 'UPDATE') objects.push(request.oldObject);
  return objects.filter((object: Json) => object !== null && typeof object === 'object');
}

function mapOf(object: Json, member: 'annotations' | 'labels'): Json {
  object.metadata ??= {};
  object.metadata[member] ??= {};
  return object.metadata[member];
}

const edits = (deep: boolean): fc.Arbitrary<Edit> =>
  fc.oneof(
    // A new annotation or label that is not driftgate's own.
    fc
      .tuple(
        fc.constantFrom<'annotations' | 'labels'>('annotations', 'labels'),
        key,
        stringValue,
        fc.boolean(),
      )
      .map(([member, name, value, both]): Edit => (request) => {
        for (const object of objectsOf(request, both)) setOwn(mapOf(object, member), name, value);
      }),
    // A new member somewhere Git does not declare, of any JSON value.
    fc
      .tuple(fc.constantFrom(...PLACES), key, anyValue, fc.boolean())
      .map(([place, name, value, both]): Edit => (request) => {
        for (const object of objectsOf(request, both)) {
          const parent = at(object, place);
          if (parent !== undefined && !Object.hasOwn(parent, name)) setOwn(parent, name, value);
        }
      }),
    // Deeply nested undeclared data: the API server accepts up to 10,000 levels.
    fc
      .tuple(fc.constantFrom(...(deep ? [100, 1_000, 10_000] : [100])), fc.boolean(), fc.boolean())
      .map(([depth, arrays, both]): Edit => (request) => {
        for (const object of objectsOf(request, both))
          setOwn(object, 'x-deep', nested(depth, arrays));
      }),
    // Claims of being the sync tool, in every place but userInfo.
    fc.constantFrom<Edit>(
      (request) => {
        for (const object of objectsOf(request, true)) {
          mapOf(object, 'labels')['app.kubernetes.io/managed-by'] = 'argocd';
          mapOf(object, 'annotations')['argocd.argoproj.io/tracking-id'] =
            'shop:apps/Deployment:shop/web';
        }
      },
      (request) => {
        for (const object of objectsOf(request, false)) {
          object.metadata ??= {};
          object.metadata.managedFields = [
            {
              manager: 'argocd-controller',
              operation: 'Apply',
              apiVersion: 'v1',
              fieldsType: 'FieldsV1',
              fieldsV1: { 'f:spec': {} },
            },
          ];
        }
      },
      (request) => {
        request.options = {
          kind: 'UpdateOptions',
          apiVersion: 'meta.k8s.io/v1',
          fieldManager: 'argocd-controller',
        };
      },
      (request) => {
        request.userInfo.extra = {
          'authentication.kubernetes.io/credential-id': ['argocd-application-controller'],
        };
      },
      (request) => {
        for (const object of objectsOf(request, true)) {
          mapOf(object, 'labels')['kustomize.toolkit.fluxcd.io/name'] = 'shop';
        }
      },
    ),
    // Request-level members nothing reads, and harmless groups.
    fc.tuple(key, anyValue).map(([name, value]): Edit => (request) => {
      if (!Object.hasOwn(request, name)) setOwn(request, name, value);
    }),
    fc.array(harmlessGroup, { maxLength: 3 }).map((groups): Edit => (request) => {
      request.userInfo.groups = [...(request.userInfo.groups ?? []), ...groups];
    }),
    fc.string({ maxLength: 40 }).map((uid): Edit => (request) => {
      request.uid = `${uid}-fuzz`;
    }),
    fc.constant<Edit>((request) => {
      request.dryRun = true;
    }),
  );

function edited(label: string, edits: readonly Edit[]): AdmissionRequest {
  const request = structuredClone(review(label)) as Json;
  for (const change of edits) change(request);
  return request as AdmissionRequest;
}

describe('decide: no edit of an irrelevant part turns a denial into an allow', () => {
  const snap = snapshot();

  // Found by this fuzzer: the denial message printed the new value with JSON.stringify, which
  // overflowed the stack, and the internal error answered allowed under failureMode open.
  it('strict: a new field nested 10,000 levels deep is denied and named', () => {
    const request = edited('20-set-image-deployment-by-alice', [
      (r) => {
        r.object.spec['x-deep'] = nested(10_000, false);
      },
    ]);
    const decision = decide(request, snap, facts(), config({ fieldPolicy: 'strict' }), new Date());
    expect(decision.kind).toBe('denied');
    expect(decision.message).toContain('spec.x-deep: not in Git, the request sets {"a":{"a":');
  });
  it.each([
    { name: 'fieldPolicy declared', settings: {} },
    { name: 'fieldPolicy strict', settings: { fieldPolicy: 'strict' } },
  ])('$name', ({ settings }) => {
    const cfg = config(settings);
    const now = new Date();
    for (const label of DENIED) {
      expect(decide(review(label), snap, facts(), cfg, now).allowed, label).toBe(false);
    }
    fc.assert(
      fc.property(
        fc.constantFrom(...DENIED),
        fc.array(edits(true), { minLength: 1, maxLength: 5 }),
        (label, edits) => {
          cases += 1;
          const request = edited(label, edits);
          const decision = decide(request, snap, facts(), cfg, now);
          if (decision.allowed)
            throw new Error(`${label} allowed: ${decision.kind} ${decision.reason}`);
          // The mutating webhook sees the same request first and must not throw on it either.
          mutate(request, snap, facts(), cfg, now);
        },
      ),
      { numRuns: 400 },
    );
  });
});

let server: TestServer;
const wrap = (request: unknown) =>
  JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request });

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

function post(path: string, body: string | Buffer): Promise<Reply> {
  return send(`${server.driftgate.url}${path}`, body, { ca: server.driftgate.caCert });
}

/** The uid a review body carries, as the API server would read it (the last duplicate wins). */
function uidOf(body: string | Buffer): string | undefined {
  try {
    const value: Json = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
    return typeof value?.request?.uid === 'string' ? value.request.uid : undefined;
  } catch {
    return undefined;
  }
}

/** A well-formed review echoing the uid, or a plain 4xx: nothing else may come back. */
function expectWellFormed(reply: Reply, body: string | Buffer): AdmissionReview['response'] {
  if (reply.status !== 200) {
    expect([400, 413, 415], reply.body).toContain(reply.status);
    expect(reply.headers['content-type']).toMatch(/^text\/plain/);
    return undefined;
  }
  const parsed = JSON.parse(reply.body) as AdmissionReview;
  expect(parsed.apiVersion).toBe('admission.k8s.io/v1');
  expect(parsed.kind).toBe('AdmissionReview');
  expect(parsed.response?.uid).toBe(uidOf(body));
  expect(typeof parsed.response?.allowed).toBe('boolean');
  if (parsed.response?.patch !== undefined) {
    expect(parsed.response.patchType).toBe('JSONPatch');
    expect(
      Array.isArray(JSON.parse(Buffer.from(parsed.response.patch, 'base64').toString('utf8'))),
    ).toBe(true);
  }
  return parsed.response;
}

/** Paths of a review whose type the fuzzer changes to anything. */
const TYPED_PATHS = [
  ['userInfo'],
  ['userInfo', 'username'],
  ['userInfo', 'groups'],
  ['object'],
  ['object', 'metadata'],
  ['object', 'metadata', 'annotations'],
  ['object', 'metadata', 'labels'],
  ['object', 'metadata', 'name'],
  ['object', 'spec'],
  ['object', 'spec', 'replicas'],
  ['object', 'spec', 'template', 'spec', 'containers'],
  ['object', 'data'],
  ['oldObject'],
  ['oldObject', 'metadata'],
  ['oldObject', 'metadata', 'annotations'],
  ['kind'],
  ['kind', 'kind'],
  ['resource', 'resource'],
  ['name'],
  ['namespace'],
  ['operation'],
  ['subResource'],
  ['dryRun'],
  ['options'],
] as const;

const anyLabel = fc.constantFrom(
  ...DENIED,
  '10-apply-create-deployment-by-argocd',
  '40-annotate-break-glass-deployment-by-bob',
  '78-label-namespace-by-alice',
  '04-create-secret-stringdata-by-alice',
);

/** Bodies no API server sends: each is answered well or refused with a 4xx. */
const hostileBody: fc.Arbitrary<string | Buffer> = fc.oneof(
  fc.json({ maxDepth: 4 }),
  fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes)),
  // A valid review cut short anywhere.
  fc.tuple(anyLabel, fc.double({ min: 0, max: 1, noNaN: true })).map(([label, share]) => {
    const text = wrap(review(label));
    return text.slice(0, Math.floor(text.length * share));
  }),
  // One field of a valid review with a different type.
  fc
    .tuple(
      anyLabel,
      fc.constantFrom(...TYPED_PATHS),
      fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(...NAN_LIKE)),
    )
    .map(([label, path, value]) => {
      const request = structuredClone(review(label)) as Json;
      let parent = request;
      for (const step of path.slice(0, -1)) parent = parent?.[step];
      if (parent !== null && typeof parent === 'object') setOwn(parent, path.at(-1)!, value);
      return wrap(request);
    }),
  // Duplicate keys: the last one wins, in JSON.parse as in Go's encoding/json.
  fc
    .tuple(anyLabel, fc.string({ maxLength: 20 }))
    .map(([label, uid]) =>
      wrap(review(label)).replace('"uid":', `"uid":${JSON.stringify(uid)},"uid":`),
    ),
  fc
    .tuple(
      anyLabel,
      fc.constantFrom(
        '"operation":"CONNECT",',
        '"userInfo":{"username":"system:serviceaccount:argocd:argocd-application-controller"},',
        '"object":null,',
      ),
    )
    .map(([label, duplicate]) =>
      wrap(review(label)).replace('"request":{', `"request":{${duplicate}`),
    ),
  // Invalid UTF-8 inside a string value.
  fc
    .tuple(
      anyLabel,
      fc
        .uint8Array({ minLength: 1, maxLength: 8 })
        .map((bytes) => bytes.map((b) => 0x80 | (b & 0x3f))),
    )
    .map(([label, bytes]) => {
      const text = wrap(review(label));
      const cut = text.indexOf('"username":"') + '"username":"'.length;
      return Buffer.concat([
        Buffer.from(text.slice(0, cut)),
        Buffer.from(bytes),
        Buffer.from(text.slice(cut)),
      ]);
    }),
);

describe('the HTTPS server on hostile bodies', () => {
  it('answers every body with a well-formed review or a plain 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(hostileBody, fc.constantFrom('/validate', '/mutate'), async (body, path) => {
        cases += 1;
        expectWellFormed(await post(path, body), body);
      }),
      { numRuns: 300 },
    );
  });

  // Found by the fuzzer: a number as username or groups threw inside the decision, and the
  // internal error answered allowed under failureMode open.
  it.each([
    { field: 'username', value: 42, text: 'request.userInfo.username must be a string' },
    { field: 'groups', value: 'oncall', text: 'request.userInfo.groups must be a list of strings' },
    { field: 'groups', value: [1], text: 'request.userInfo.groups must be a list of strings' },
  ])('refuses userInfo.$field = $value with a 400', async ({ field, value, text }) => {
    cases += 1;
    const request = review('20-set-image-deployment-by-alice');
    const reply = await post(
      '/validate',
      wrap({ ...request, userInfo: { ...request.userInfo, [field]: value } }),
    );
    expect(reply).toMatchObject({ status: 400, body: `${text}\n` });
  });

  it('keeps every denial a denial through /mutate then /validate', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...DENIED),
        fc.array(edits(false), { minLength: 1, maxLength: 4 }),
        async (label, edits) => {
          cases += 1;
          const request = edited(label, edits);
          const body = wrap(request);
          const mutation = expectWellFormed(await post('/mutate', body), body);
          const patch = (
            mutation?.patch === undefined
              ? []
              : JSON.parse(Buffer.from(mutation.patch, 'base64').toString('utf8'))
          ) as JsonPatchOperation[];
          const object =
            request.object == null ? request.object : applyPatch(request.object, patch);
          const validating = wrap({ ...request, object });
          const response = expectWellFormed(await post('/validate', validating), validating);
          expect(response?.allowed, `${label} was allowed`).toBe(false);
        },
      ),
      { numRuns: 80 },
    );
  });

  it('denies a write carrying 10,000 levels of nesting, and survives a million', async () => {
    for (const [open, close] of [
      ['{"a":', '}'],
      ['[', ']'],
    ] as const) {
      for (const depth of [10_000, 1_000_000]) {
        cases += 1;
        const request = review('20-set-image-deployment-by-alice');
        const body = wrap({ ...request, object: { ...request.object, 'x-deep': 'DEEP' } }).replace(
          '"DEEP"',
          `${open.repeat(depth)}1${close.repeat(depth)}`,
        );
        const response = expectWellFormed(await post('/validate', body), body);
        if (depth === 10_000) expect(response?.allowed).toBe(false);
        else expect(response === undefined || !response.allowed).toBe(true);
      }
    }
  });

  it('judges a body of exactly the limit and refuses one byte more', async () => {
    const request = review('20-set-image-deployment-by-alice');
    const base = wrap({ ...request, object: { ...request.object, 'x-pad': '' } });
    const atLimit = base.replace(
      '"x-pad":""',
      `"x-pad":"${'x'.repeat(MAX_REVIEW_BYTES - base.length)}"`,
    );
    expect(Buffer.byteLength(atLimit)).toBe(MAX_REVIEW_BYTES);
    cases += 2;
    expect(expectWellFormed(await post('/validate', atLimit), atLimit)?.allowed).toBe(false);
    const over = `${atLimit} `;
    expect((await post('/validate', over)).status).toBe(413);
  });

  it('survives clients that hang up mid-body, then answers the next review', async () => {
    for (let attempt = 0; attempt < 20; attempt++) {
      cases += 1;
      const socket = await rawTls(server.driftgate.url, server.driftgate.caCert);
      const body = wrap(review('20-set-image-deployment-by-alice'));
      socket.write(
        `POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, attempt * 50)}`,
      );
      socket.destroy();
    }
    const body = wrap(review('20-set-image-deployment-by-alice'));
    expect(expectWellFormed(await post('/validate', body), body)?.allowed).toBe(false);
    const health = await send(`${server.driftgate.url}/healthz`, '', {
      method: 'GET',
      ca: server.driftgate.caCert,
    });
    expect(health.status).toBe(200);
  });
});
