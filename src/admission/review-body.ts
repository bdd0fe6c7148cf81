// JSON.parse of an AdmissionReview, less the part no decision reads. The `metadata.managedFields`
// of object and oldObject hold about half of a review's bytes, and more than half of the time
// JSON.parse takes: a trie of small objects with keys of their own for each field manager.
// driftgate reads them only for an ignore rule naming managers. Those two lists are cut out of
// the text before it is parsed, kept as the body's bytes, and each is decoded and parsed when
// its list is first touched (BENCHMARKS.md); everything else is JSON.parse's own work.
import { randomUUID } from 'node:crypto';
import { isJsonObject, type JsonValue } from '../kube/object.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_LIST = 0x5b;
const CLOSE_LIST = 0x5d;
const OPEN_MAP = 0x7b;
const CLOSE_MAP = 0x7d;

// The API server writes compact JSON (Go's encoding/json): key and list are adjacent. A key
// written otherwise (spaces, escapes) is not cut, and its list is parsed with the rest.
const KEY = Buffer.from('"managedFields":[');
// Stands in for a cut list while the rest is parsed. Random, so that no body can carry one.
const MARKER = `driftgate:unparsed:${randomUUID()}:`;

interface Span {
  readonly start: number;
  readonly end: number;
}

/**
 * The value `JSON.parse` gives for `body`, or its SyntaxError, except that the managed fields of
 * `request.object` and `request.oldObject` are parsed on first touch: each is a list (a Proxy)
 * that parses its text before any read or write. `JSON.stringify`, iteration, indexing and
 * `Array.isArray` see the real list; `structuredClone` refuses it, as it refuses any Proxy.
 * A body whose managed fields are not JSON throws when the list is first touched.
 */
export function parseReviewBody(body: Buffer): unknown {
  const spans = managedFieldsLists(body);
  if (spans.length === 0) return JSON.parse(body.toString('utf8'));
  // One buffer, decoded once: decoding the pieces apart and joining the strings costs twice as
  // much on a large body.
  const pieces: Buffer[] = [];
  let from = 0;
  spans.forEach((span, index) => {
    pieces.push(body.subarray(from, span.start), Buffer.from(`["${MARKER}${String(index)}"]`));
    from = span.end;
  });
  pieces.push(body.subarray(from));
  const text = Buffer.concat(pieces).toString('utf8');
  // A cut list is balanced and replaced by a valid value: where this throws, so would the body.
  const review = JSON.parse(text) as unknown;
  const request = propertyOf(review, 'request');
  let restored = 0;
  for (const side of ['object', 'oldObject']) {
    const metadata = propertyOf(propertyOf(request, side), 'metadata');
    if (!isJsonObject(metadata)) continue;
    const span = spanMarkedIn(metadata.managedFields, spans);
    if (span === undefined) continue;
    // The marker list is replaced by another list: the metadata object keeps its shape.
    // A view of the body's bytes, decoded only if touched: most reviews never read them.
    metadata.managedFields = parsedOnFirstTouch(body.subarray(span.start, span.end));
    restored += 1;
  }
  // A list cut anywhere else would be left as its marker: a custom resource's own
  // `managedFields` field, or a key that only ends in `managedFields` (`"a\"managedFields"`).
  // Such a body is parsed whole.
  return restored === spans.length ? review : JSON.parse(body.toString('utf8'));
}

function propertyOf(value: unknown, key: string): unknown {
  return isJsonObject(value) ? value[key] : undefined;
}

function spanMarkedIn(value: unknown, spans: readonly Span[]): Span | undefined {
  if (!Array.isArray(value) || value.length !== 1) return undefined;
  const [marker] = value as unknown[];
  if (typeof marker !== 'string' || !marker.startsWith(MARKER)) return undefined;
  return spans[Number(marker.slice(MARKER.length))];
}

// A handler per list holds its bytes: it fills the target (the real list, empty until then) on
// the first trap, then lets the target answer. The target being the real list keeps every Proxy
// invariant without further work. Not a WeakMap from list to text: V8's scavenger keeps a young
// key's entry alive through the next scavenge, which under load made every scavenge copy ten
// times the bytes and pause 60% longer (BENCHMARKS.md).
class FillsOnFirstTouch implements ProxyHandler<JsonValue[]> {
  constructor(private bytes: Buffer | undefined) {}

  private filled(target: JsonValue[]): JsonValue[] {
    if (this.bytes !== undefined) {
      const entries = JSON.parse(this.bytes.toString('utf8')) as JsonValue[];
      this.bytes = undefined;
      for (const entry of entries) target.push(entry);
    }
    return target;
  }

  get(target: JsonValue[], key: string | symbol, receiver: unknown): unknown {
    return Reflect.get(this.filled(target), key, receiver);
  }

  set(target: JsonValue[], key: string | symbol, value: unknown, receiver: unknown): boolean {
    return Reflect.set(this.filled(target), key, value, receiver);
  }

  has(target: JsonValue[], key: string | symbol): boolean {
    return Reflect.has(this.filled(target), key);
  }

  ownKeys(target: JsonValue[]): (string | symbol)[] {
    return Reflect.ownKeys(this.filled(target));
  }

  getOwnPropertyDescriptor(
    target: JsonValue[],
    key: string | symbol,
  ): PropertyDescriptor | undefined {
    return Reflect.getOwnPropertyDescriptor(this.filled(target), key);
  }

  defineProperty(
    target: JsonValue[],
    key: string | symbol,
    descriptor: PropertyDescriptor,
  ): boolean {
    return Reflect.defineProperty(this.filled(target), key, descriptor);
  }

  deleteProperty(target: JsonValue[], key: string | symbol): boolean {
    return Reflect.deleteProperty(this.filled(target), key);
  }
}

function parsedOnFirstTouch(bytes: Buffer): JsonValue[] {
  return new Proxy<JsonValue[]>([], new FillsOnFirstTouch(bytes));
}

/**
 * Where the first two `"managedFields":[…]` lists start and end, in text order. Empty where the
 * body is better parsed whole: a list does not end (the body is not JSON, and parsing it whole
 * says so), or the lists are a small share of the body.
 */
function managedFieldsLists(body: Buffer): Span[] {
  const spans: Span[] = [];
  let from = 0;
  // Two at most, object's and oldObject's: a third could only be parsed whole, and looking for
  // it would read the rest of the body, which on a large ConfigMap is most of it.
  while (spans.length < 2) {
    const at = body.indexOf(KEY, from);
    if (at === -1) break;
    // The quote before the colon follows a letter, not a backslash, so it ends a string: in
    // JSON the list is the value of a key, `managedFields` or one that ends in `\"managedFields`.
    const start = at + KEY.length - 1;
    const end = endOfList(body, start);
    if (end === -1) return [];
    // Cutting costs a copy of the body and a search through the object for oldObject's list:
    // worth it only where the two lists (about twice the first) are an eighth of the body or
    // more. A review of a 1 MB ConfigMap parses whole, one of a Deployment (half) is cut.
    if (spans.length === 0 && (end - start) * 16 < body.length) return [];
    spans.push({ start, end });
    from = end;
  }
  return spans;
}

// The bytes that matter outside a string, marked for one lookup per byte.
const STRUCTURAL = new Uint8Array(256);
for (const byte of [QUOTE, OPEN_LIST, CLOSE_LIST, OPEN_MAP, CLOSE_MAP]) STRUCTURAL[byte] = 1;

/** The index after the bracket that closes the list opening at `start`, or -1. */
function endOfList(body: Buffer, start: number): number {
  // Byte by byte, in JavaScript: a native call per string (indexOf) costs more than its bytes.
  // Most bytes are neither in a string nor structural: one table lookup passes them, and a
  // string is read to its end in a loop of its own (2.5 times faster than one loop testing
  // each byte for everything, BENCHMARKS.md).
  const owed: number[] = []; // closing brackets still owed, innermost last
  const length = body.length;
  for (let i = start; i < length; i++) {
    const byte = body[i] as number;
    if (STRUCTURAL[byte] === 0) continue;
    if (byte === QUOTE) {
      // To the closing quote; a backslash takes the byte after it along.
      for (i++; ; i += body[i] === BACKSLASH ? 2 : 1) {
        if (i >= length) return -1;
        if (body[i] === QUOTE) break;
      }
    } else if (byte === OPEN_LIST) owed.push(CLOSE_LIST);
    else if (byte === OPEN_MAP) owed.push(CLOSE_MAP);
    else {
      if (owed.pop() !== byte) return -1;
      if (owed.length === 0) return i + 1;
    }
  }
  return -1;
}
