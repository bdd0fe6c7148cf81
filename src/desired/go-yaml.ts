// YAML read the way kubectl, Argo CD and Flux read it: sigs.k8s.io/yaml turns YAML into JSON with
// go-yaml v2's YAML 1.1 rules. js-yaml tokenises; the values are built here, as go-yaml builds them.
// Imports only packages, because the parse worker loads it without a bundler.
import {
  defineScalarTag,
  EVENT_ID,
  FAILSAFE_SCHEMA,
  getScalarValue,
  mergeTag,
  NOT_RESOLVED,
  parseEvents,
  SCALAR_STYLE,
  Schema,
  YAMLException,
  type Event,
  type ScalarEvent,
  type ScalarTagDefinition,
} from 'js-yaml';

/*
 * What go-yaml v2's resolve() makes of a plain scalar, from its first character:
 *   - `y Y n N t T f F o O ~` and the empty scalar: only the exact words below, else a string;
 *   - `.`: `.inf`, `.nan` and their spellings, or a float such as `.5`, else a string;
 *   - a digit, `+` or `-`: Go's ParseInt with base 0 after removing `_` (`0644` and `0o644` are
 *     octal, `0x1F` hex, `0b101` binary), then ParseUint, then a float, else a string. There are
 *     no base-60 numbers (`02:30` stays a string), and dates stay strings;
 *   - anything else: a string.
 * Quoted and block scalars are always strings.
 */
const STRING = 0;
const NULL = 1;
const TRUE = 2;
const FALSE = 3;
/** Fits Go's int64: a JSON number, and a map key written in decimal. */
const INT = 4;
/** Above int64, within uint64: a JSON number, but not a map key (sigs.k8s.io/yaml refuses it). */
const UINT = 5;
/** Above uint64 (hex, octal or binary only; decimal becomes a float first): as UINT. */
const BIG = 6;
const FLOAT = 7;
type Kind =
  | typeof STRING
  | typeof NULL
  | typeof TRUE
  | typeof FALSE
  | typeof INT
  | typeof UINT
  | typeof BIG
  | typeof FLOAT;

const WORDS = new Map<string, Kind>();
for (const word of ['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON']) {
  WORDS.set(word, TRUE);
}
for (const word of ['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF']) {
  WORDS.set(word, FALSE);
}
for (const word of ['', '~', 'null', 'Null', 'NULL']) WORDS.set(word, NULL);
const SPECIAL_FLOATS = new Map<string, number>();
for (const word of ['.nan', '.NaN', '.NAN']) SPECIAL_FLOATS.set(word, NaN);
for (const word of ['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF']) {
  SPECIAL_FLOATS.set(word, Infinity);
}
for (const word of ['-.inf', '-.Inf', '-.INF']) SPECIAL_FLOATS.set(word, -Infinity);

/** go-yaml's resolve table: which first characters may start something other than a string. */
const HINT_NONE = 0;
const HINT_WORD = 1;
const HINT_DOT = 2;
const HINT_NUMBER = 3;
const WORD_STARTS = ['y', 'Y', 'n', 'N', 't', 'T', 'f', 'F', 'o', 'O', '~'];
const NUMBER_STARTS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '+', '-'];
const HINTS = new Uint8Array(128);
for (const character of WORD_STARTS) HINTS[character.charCodeAt(0)] = HINT_WORD;
for (const character of NUMBER_STARTS) HINTS[character.charCodeAt(0)] = HINT_NUMBER;
HINTS['.'.charCodeAt(0)] = HINT_DOT;

function hintOf(text: string): number {
  if (text === '') return HINT_WORD;
  const code = text.charCodeAt(0);
  return code < 128 ? (HINTS[code] ?? HINT_NONE) : HINT_NONE;
}

/** Go's strconv.ParseFloat on a text that starts with `.` (underscores only between digits). */
const DOT_FLOAT = /^\.[0-9](?:_?[0-9])*(?:[eE][-+]?[0-9](?:_?[0-9])*)?$/;
/** go-yaml's yamlStyleFloat, tried after the integer parses. */
const YAML_STYLE_FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;
const DIGITS: Record<number, RegExp> = {
  2: /^[01]+$/,
  8: /^[0-7]*$/,
  10: /^[0-9]+$/,
  16: /^[0-9a-fA-F]+$/,
};
/** Digit counts below which parseInt is exact (under 2^53). */
const EXACT_DIGITS: Record<number, number> = { 2: 52, 8: 17, 10: 15, 16: 13 };
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/**
 * The number of the last numeric kind resolve() returned, and for an integer beyond 2^53 its
 * exact value (a map key is written from it). Module state rather than an object per scalar:
 * resolve() runs for most scalars of every manifest.
 */
let resolvedNumber = 0;
let resolvedBig: bigint | undefined;

/** go-yaml v2's resolve() for a plain scalar, or for the text of an explicitly tagged one. */
function resolve(text: string): Kind {
  const hint = hintOf(text);
  if (hint === HINT_NONE) return STRING;
  const word = WORDS.get(text);
  if (word !== undefined) return word;
  const special = SPECIAL_FLOATS.get(text);
  if (special !== undefined) {
    resolvedNumber = special;
    return FLOAT;
  }
  if (hint === HINT_DOT) {
    if (!DOT_FLOAT.test(text)) return STRING;
    return finiteFloat(text.replaceAll('_', ''));
  }
  if (hint !== HINT_NUMBER) return STRING;
  const plain = text.includes('_') ? text.replaceAll('_', '') : text;
  const integer = resolveInteger(plain);
  if (integer === INT || integer === UINT) return integer;
  if (YAML_STYLE_FLOAT.test(plain) && finiteFloat(plain) === FLOAT) return FLOAT;
  if (integer === BIG) {
    resolvedNumber = Number(resolvedBig);
    return BIG;
  }
  return STRING;
}

/** Go's ParseFloat fails on overflow (no Inf from digits); underflow to zero is fine. */
function finiteFloat(plain: string): Kind {
  const value = Number(plain);
  if (!Number.isFinite(value)) return STRING;
  resolvedNumber = value === 0 ? 0 : value;
  return FLOAT;
}

/**
 * Go's ParseInt(plain, 0, 64), then ParseUint(plain, 0, 64), then big.Int's SetString(plain, 0)
 * where ParseUint only overflowed. STRING where none applies (go-yaml then tries a float).
 */
function resolveInteger(plain: string): Kind {
  resolvedBig = undefined;
  const first = plain.charCodeAt(0);
  const signed = first === 43 || first === 45; // + -
  const body = signed ? plain.slice(1) : plain;
  if (body === '') return STRING;
  let base = 10;
  let digits = body;
  if (body.charCodeAt(0) === 48) {
    const prefix = body.length >= 3 ? body.charAt(1).toLowerCase() : '';
    base = prefix === 'b' ? 2 : prefix === 'o' ? 8 : prefix === 'x' ? 16 : 8;
    digits = prefix === 'b' || prefix === 'o' || prefix === 'x' ? body.slice(2) : body.slice(1);
  }
  if (!(DIGITS[base] as RegExp).test(digits)) return STRING;
  const negative = first === 45;
  if (digits.length <= (EXACT_DIGITS[base] as number)) {
    const magnitude = digits === '' ? 0 : parseInt(digits, base);
    resolvedNumber = negative && magnitude !== 0 ? -magnitude : magnitude;
    return INT;
  }
  const prefix = base === 2 ? '0b' : base === 8 ? '0o' : base === 16 ? '0x' : '';
  const magnitude = BigInt(prefix + digits);
  const value = negative ? -magnitude : magnitude;
  if (value >= INT64_MIN && value <= INT64_MAX) {
    resolvedNumber = Number(value);
    if (!Number.isSafeInteger(resolvedNumber)) resolvedBig = value;
    return INT;
  }
  // ParseUint takes no sign, and a signed overflow is no range error for it.
  if (signed) return STRING;
  resolvedNumber = Number(value);
  if (value <= UINT64_MAX) return UINT;
  resolvedBig = value;
  return BIG;
}

/** A JSON value for a resolved kind; `undefined` for numbers JSON cannot carry. */
function valueOf(kind: Kind, text: string): unknown {
  switch (kind) {
    case STRING:
      return text;
    case NULL:
      return null;
    case TRUE:
      return true;
    case FALSE:
      return false;
    default:
      return Number.isFinite(resolvedNumber) ? resolvedNumber : undefined;
  }
}

/** How Go's encoding/json names a number it refuses (`json: unsupported value: +Inf`). */
function unsupported(value: number): string {
  return Number.isNaN(value) ? 'NaN' : value > 0 ? '+Inf' : '-Inf';
}

/**
 * A float map key as sigs.k8s.io/yaml writes it, Go's FormatFloat(key, 'g', -1, 32): `1e3:` is
 * "1000", `1e6:` "1e+06", `0.1:` "0.1" (booleans become "true"/"false", integers decimal).
 */
function float32Key(value: number): string {
  const single = Math.fround(value);
  if (Number.isNaN(single)) return '.nan';
  if (single === Infinity) return '.inf';
  if (single === -Infinity) return '-.inf';
  if (single === 0) return Object.is(single, -0) ? '-0' : '0';
  // The shortest digits that read back as the same float32.
  let mantissa = '';
  for (let precision = 1; precision <= 9; precision++) {
    mantissa = Math.abs(single).toExponential(precision - 1);
    if (Math.fround(Number(mantissa)) === Math.abs(single)) break;
  }
  const [significand = '', exponentText = '0'] = mantissa.split('e');
  const digits = significand.replace('.', '');
  const exponent = Number(exponentText);
  const sign = single < 0 ? '-' : '';
  // %g with the shortest digits: exponent form below 1e-4 and from 1e6 (Go's eprec of 6).
  if (exponent < -4 || exponent >= 6) {
    const fraction = digits.length > 1 ? `.${digits.slice(1)}` : '';
    const magnitude = Math.abs(exponent);
    return `${sign}${digits.charAt(0)}${fraction}e${exponent < 0 ? '-' : '+'}${magnitude < 10 ? '0' : ''}${magnitude}`;
  }
  if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
  const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
  const fraction = digits.slice(exponent + 1);
  return `${sign}${whole}${fraction === '' ? '' : `.${fraction}`}`;
}

/** The YAML type a key had: keys of different types that print alike are not the same key. */
const KEY_STRING = 0;
const KEY_BOOL = 1;
const KEY_INT = 2;
const KEY_FLOAT = 3;
const KEY_TYPE_NAMES = ['a string', 'a boolean', 'an integer', 'a float'];

const YAML_TAG_PREFIX = 'tag:yaml.org,2002:';
const TIMESTAMP =
  /^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?(?:Z|[-+][0-9]{2}:[0-9]{2}))|(?: [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?))?$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A YAML text that sigs.k8s.io/yaml could not turn into JSON: kubectl refuses such a file. */
export class KubeYamlError extends YAMLException {
  override name = 'KubeYamlError';
}

/** One document of a stream: its value as JSON, and where its root starts (-1 when empty). */
export interface KubeYamlDocument {
  readonly value: unknown;
  readonly start: number;
}

/** Aliases that go-yaml v2 expands before it gives up ("document contains excessive aliasing"). */
function allowedAliasRatio(decodes: number): number {
  if (decodes <= 400_000) return 0.99;
  if (decodes >= 4_000_000) return 0.1;
  return 0.99 - 0.89 * ((decodes - 400_000) / 3_600_000);
}

/** Builds JSON values from js-yaml's event stream as go-yaml v2 and sigs.k8s.io/yaml would. */
class Builder {
  private readonly source: string;
  private readonly filename: string;
  private readonly events: readonly Event[];
  private at = 0;
  // Per document, as go-yaml decodes one document at a time.
  private anchors = new Map<string, number>();
  private readonly aliasTargets = new Map<number, number>();
  private readonly open = new Set<number>();
  private tagHandles = new Map<string, string>();
  private expanding = 0;
  private decodes = 0;
  private aliasDecodes = 0;
  /** The YAML type of keys that were not strings, for the few mappings that have any. */
  private readonly keyTypes = new WeakMap<object, Map<string, number>>();
  /** The YAML type of the key key() returned last. */
  private keyType = KEY_STRING;

  // No parameter properties: the worker loads this file with Node's type stripping.
  constructor(source: string, filename: string, events: readonly Event[]) {
    this.source = source;
    this.filename = filename;
    this.events = events;
  }

  documents(): KubeYamlDocument[] {
    const documents: KubeYamlDocument[] = [];
    while (this.at < this.events.length) {
      const event = this.events[this.at++] as Event;
      if (event.type !== EVENT_ID.DOCUMENT) continue;
      this.anchors = new Map();
      this.tagHandles = new Map();
      for (const directive of event.directives) {
        if (directive.kind === 'tag') this.tagHandles.set(directive.handle, directive.prefix);
      }
      this.decodes = 0;
      this.aliasDecodes = 0;
      const root = this.events[this.at] as Event;
      const start =
        root.type === EVENT_ID.SCALAR
          ? root.valueStart
          : root.type === EVENT_ID.MAPPING || root.type === EVENT_ID.SEQUENCE
            ? root.start
            : -1;
      const value = root.type === EVENT_ID.POP ? null : this.node();
      documents.push({ value, start });
      this.at++; // the document's POP
    }
    return documents;
  }

  /** Throws a KubeYamlError located at `event`, or at the nearest event before `at` that has a place. */
  private fail(event: Event | undefined, message: string): never {
    let position = event === undefined ? -1 : positionOf(event);
    for (
      let index = Math.min(this.at, this.events.length - 1);
      position < 0 && index >= 0;
      index--
    ) {
      position = positionOf(this.events[index] as Event);
    }
    position = Math.max(position, 0);
    let line = 0;
    let lineStart = 0;
    for (let index = 0; index < position; index++) {
      if (this.source.charCodeAt(index) === 10) {
        line++;
        lineStart = index + 1;
      }
    }
    throw new KubeYamlError(message, {
      name: this.filename,
      buffer: this.source,
      position,
      line,
      column: position - lineStart,
    });
  }

  private count(): void {
    this.decodes++;
    if (this.expanding > 0) this.aliasDecodes++;
    if (
      this.aliasDecodes > 100 &&
      this.decodes > 1000 &&
      this.aliasDecodes / this.decodes > allowedAliasRatio(this.decodes)
    ) {
      this.fail(undefined, 'the document contains excessive aliasing');
    }
  }

  private remember(event: Event & { anchorStart: number; anchorEnd: number }, index: number) {
    if (event.anchorStart >= 0 && this.expanding === 0) {
      this.anchors.set(this.source.slice(event.anchorStart, event.anchorEnd), index);
    }
  }

  /** The node an alias names: the anchor of that name defined last before the alias. */
  private aliasTarget(index: number): number {
    const known = this.aliasTargets.get(index);
    if (known !== undefined) return known;
    const event = this.events[index] as Event & { anchorStart: number; anchorEnd: number };
    const name = this.source.slice(event.anchorStart, event.anchorEnd);
    const target = this.anchors.get(name);
    if (target === undefined) this.fail(event, `unknown anchor '${name}' referenced`);
    if (this.open.has(target)) this.fail(event, `anchor '${name}' value contains itself`);
    this.aliasTargets.set(index, target);
    return target;
  }

  /** Builds the node at `at` and moves past it. */
  private node(): unknown {
    const index = this.at;
    const event = this.events[index] as Event;
    this.count();
    switch (event.type) {
      case EVENT_ID.SCALAR:
        this.remember(event, index);
        this.at++;
        return this.scalar(event);
      case EVENT_ID.ALIAS: {
        const target = this.aliasTarget(index);
        return this.expand(target, () => this.node());
      }
      case EVENT_ID.SEQUENCE: {
        this.remember(event, index);
        this.open.add(index);
        this.at++;
        const list: unknown[] = [];
        while ((this.events[this.at] as Event).type !== EVENT_ID.POP) list.push(this.node());
        this.at++;
        this.open.delete(index);
        return list;
      }
      case EVENT_ID.MAPPING:
        return this.mappingInto({});
      default:
        return this.fail(event, 'unexpected event in the YAML stream');
    }
  }

  /** Builds the node at `target` again (go-yaml decodes an alias anew each time it is used). */
  private expand<T>(target: number, build: () => T): T {
    const resume = this.at + 1;
    this.at = target;
    this.expanding++;
    try {
      return build();
    } finally {
      this.expanding--;
      this.at = resume;
    }
  }

  /** The mapping at `at`, its pairs written into `into` (a new object, or the one merged into). */
  private mappingInto(into: Record<string, unknown>): Record<string, unknown> {
    const index = this.at;
    const event = this.events[index] as Event & { anchorStart: number; anchorEnd: number };
    this.remember(event, index);
    this.open.add(index);
    this.at++;
    for (;;) {
      const keyEvent = this.events[this.at] as Event;
      if (keyEvent.type === EVENT_ID.POP) break;
      this.count();
      if (keyEvent.type === EVENT_ID.SCALAR && this.isMergeKey(keyEvent)) {
        this.remember(keyEvent, this.at);
        this.at++;
        this.merge(into);
        continue;
      }
      let keyScalar: ScalarEvent;
      if (keyEvent.type === EVENT_ID.SCALAR) {
        this.remember(keyEvent, this.at);
        keyScalar = keyEvent;
      } else if (keyEvent.type === EVENT_ID.ALIAS) {
        const target = this.events[this.aliasTarget(this.at)] as Event;
        if (target.type !== EVENT_ID.SCALAR) this.fail(keyEvent, 'a mapping key is not a scalar');
        keyScalar = target;
      } else {
        this.fail(keyEvent, 'a mapping key is not a scalar (JSON keys are strings)');
      }
      const keyAt = this.at;
      const key = this.key(keyScalar, keyEvent);
      this.at++;
      const value = this.node();
      this.put(into, key, this.keyType, value, keyAt);
    }
    this.at++;
    this.open.delete(index);
    return into;
  }

  private isMergeKey(event: ScalarEvent): boolean {
    if (event.tagStart < 0) {
      return (
        event.style === SCALAR_STYLE.PLAIN &&
        event.valueEnd - event.valueStart === 2 &&
        this.source.startsWith('<<', event.valueStart)
      );
    }
    return this.tagOf(event) === `${YAML_TAG_PREFIX}merge`;
  }

  /**
   * `<<` as go-yaml v2 merges: the merged pairs are written where the key stands, over earlier
   * keys, and later keys win over them; of a list of maps, the first wins.
   */
  private merge(into: Record<string, unknown>): void {
    const event = this.events[this.at] as Event;
    const wantMap = 'a merge (<<) takes a map or a list of maps';
    if (event.type === EVENT_ID.MAPPING) {
      this.count();
      this.mappingInto(into);
      return;
    }
    if (event.type === EVENT_ID.ALIAS) {
      const target = this.aliasTarget(this.at);
      if ((this.events[target] as Event).type !== EVENT_ID.MAPPING) this.fail(event, wantMap);
      this.count();
      this.expand(target, () => this.mappingInto(into));
      return;
    }
    if (event.type !== EVENT_ID.SEQUENCE) this.fail(event, wantMap);
    this.remember(event, this.at);
    this.at++;
    const maps: Record<string, unknown>[] = [];
    for (;;) {
      const item = this.events[this.at] as Event;
      if (item.type === EVENT_ID.POP) break;
      const target = item.type === EVENT_ID.ALIAS ? this.aliasTarget(this.at) : this.at;
      if ((this.events[target] as Event).type !== EVENT_ID.MAPPING) this.fail(item, wantMap);
      maps.push(this.node() as Record<string, unknown>);
    }
    this.at++;
    for (let index = maps.length - 1; index >= 0; index--) {
      const map = maps[index] as Record<string, unknown>;
      const types = this.keyTypes.get(map);
      for (const key of Object.keys(map)) {
        this.put(into, key, types?.get(key) ?? KEY_STRING, map[key], this.at - 1);
      }
    }
  }

  /** A mapping key as a JSON key; throws where sigs.k8s.io/yaml refuses the key. */
  private key(scalar: ScalarEvent, at: Event): string {
    const text = getScalarValue(this.source, scalar);
    this.keyType = KEY_STRING;
    let kind: Kind;
    if (scalar.tagStart >= 0) {
      const tagged = this.tagged(scalar, text, at);
      if (tagged.kind === STRING) return tagged.text;
      kind = tagged.kind;
    } else if (scalar.style !== SCALAR_STYLE.PLAIN || hintOf(text) === HINT_NONE) {
      return text;
    } else {
      kind = resolve(text);
    }
    switch (kind) {
      case STRING:
        return text;
      case NULL:
        return this.fail(
          at,
          `the key ${describe(text)} is null, which no JSON key can be: kubectl refuses the file (unsupported map key)`,
        );
      case TRUE:
      case FALSE:
        this.keyType = KEY_BOOL;
        return kind === TRUE ? 'true' : 'false';
      case INT:
        this.keyType = KEY_INT;
        return resolvedBig === undefined ? String(resolvedNumber) : resolvedBig.toString();
      case FLOAT:
        this.keyType = KEY_FLOAT;
        return float32Key(resolvedNumber);
      default:
        return this.fail(
          at,
          `the key ${describe(text)} is beyond int64, which no JSON key can be: kubectl refuses the file (unsupported map key)`,
        );
    }
  }

  /**
   * Writes a pair as go-yaml v2 does: a repeated key takes the last value. Keys that only print
   * alike (`on` and "true", `1e3` and 1000) are two keys to go-yaml, and sigs.k8s.io/yaml keeps
   * whichever comes last from Go's randomly ordered map: no one can say which the cluster has.
   */
  private put(
    into: Record<string, unknown>,
    key: string,
    type: number,
    value: unknown,
    at: number,
  ): void {
    if (Object.hasOwn(into, key)) {
      const before = this.keyTypes.get(into)?.get(key) ?? KEY_STRING;
      if (before !== type) {
        this.fail(
          this.events[at],
          `${KEY_TYPE_NAMES[before] ?? ''} key and ${KEY_TYPE_NAMES[type] ?? ''} key both read "${key}" in JSON: kubectl keeps one of their values at random (quote keys that are text)`,
        );
      }
    }
    if (type !== KEY_STRING) {
      let types = this.keyTypes.get(into);
      if (types === undefined) {
        types = new Map();
        this.keyTypes.set(into, types);
      }
      types.set(key, type);
    }
    if (key === '__proto__') {
      Object.defineProperty(into, key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else {
      into[key] = value;
    }
  }

  private scalar(event: ScalarEvent): unknown {
    const text = getScalarValue(this.source, event);
    let kind: Kind;
    if (event.tagStart >= 0) {
      const tagged = this.tagged(event, text, event);
      if (tagged.kind === STRING) return tagged.text;
      kind = tagged.kind;
    } else if (event.style !== SCALAR_STYLE.PLAIN) {
      return text;
    } else {
      kind = resolve(text);
    }
    const value = valueOf(kind, text);
    if (value === undefined) {
      this.fail(
        event,
        `${describe(text)} is not a number JSON can hold: kubectl refuses the file (json: unsupported value: ${unsupported(resolvedNumber)})`,
      );
    }
    return value;
  }

  private tagOf(event: ScalarEvent): string {
    const raw = this.source.slice(event.tagStart, event.tagEnd);
    if (raw.startsWith('!<') && raw.endsWith('>')) return raw.slice(2, -1);
    const handleEnd = raw.indexOf('!', 1);
    const handle = handleEnd === -1 ? '!' : raw.slice(0, handleEnd + 1);
    const prefix = this.tagHandles.get(handle) ?? (handle === '!!' ? YAML_TAG_PREFIX : handle);
    return raw === '!' ? '!' : prefix + raw.slice(handle.length);
  }

  /**
   * An explicitly tagged scalar, as go-yaml v2's resolve(tag, text): `!!str` and unknown tags
   * keep the text, `!!binary` is decoded, `!!int`/`!!float`/`!!bool`/`!!null` must resolve to
   * that type (an integer may be a float), `!!timestamp` stays text.
   */
  private tagged(event: ScalarEvent, text: string, at: Event): { kind: Kind; text: string } {
    const tag = this.tagOf(event);
    if (!tag.startsWith(YAML_TAG_PREFIX)) return { kind: STRING, text };
    const name = tag.slice(YAML_TAG_PREFIX.length);
    switch (name) {
      case 'binary': {
        const compact = text.replace(/[\r\n]/g, '');
        if (compact.length % 4 !== 0 || !BASE64.test(compact)) {
          this.fail(at, '!!binary value contains invalid base64 data');
        }
        return { kind: STRING, text: Buffer.from(compact, 'base64').toString('utf8') };
      }
      case 'timestamp':
        if (!TIMESTAMP.test(text))
          this.fail(at, `cannot decode ${describe(text)} as a !!timestamp`);
        return { kind: STRING, text };
      case 'bool':
      case 'int':
      case 'float':
      case 'null': {
        const kind = resolve(text);
        const fits =
          name === 'bool'
            ? kind === TRUE || kind === FALSE
            : name === 'null'
              ? kind === NULL
              : name === 'int'
                ? kind === INT || kind === UINT || kind === BIG
                : kind === FLOAT || kind === INT;
        if (!fits) this.fail(at, `cannot decode ${describe(text)} as a !!${name}`);
        return { kind, text };
      }
      default:
        return { kind: STRING, text };
    }
  }
}

function positionOf(event: Event): number {
  switch (event.type) {
    case EVENT_ID.SCALAR:
      return event.tagStart >= 0
        ? event.tagStart
        : event.anchorStart >= 0
          ? event.anchorStart
          : event.valueStart;
    case EVENT_ID.MAPPING:
    case EVENT_ID.SEQUENCE:
      return event.start;
    case EVENT_ID.ALIAS:
      return event.anchorStart - 1;
    default:
      return -1;
  }
}

function describe(text: string): string {
  return text === ''
    ? 'an empty scalar'
    : `\`${text.length > 40 ? `${text.slice(0, 40)}…` : text}\``;
}

/**
 * Every document of a YAML (or JSON) stream as the JSON that kubectl would send: YAML 1.1
 * scalars as go-yaml v2 resolves them, keys made strings, repeated keys resolved to the last,
 * `<<` merged. Throws YAMLException (a KubeYamlError where kubectl would refuse the file).
 */
export function parseKubeYaml(text: string, filename: string): KubeYamlDocument[] {
  const events = parseEvents(text, { filename });
  return new Builder(text, filename, events).documents();
}

/** A js-yaml tag for one of go-yaml's implicit types. */
function scalarTag(
  name: string,
  kinds: readonly Kind[],
  firstChars: readonly string[],
): ScalarTagDefinition {
  return defineScalarTag(`${YAML_TAG_PREFIX}${name}`, {
    implicit: true,
    implicitFirstChars: firstChars,
    resolve: (source) => {
      const kind = resolve(source);
      if (!kinds.includes(kind)) return NOT_RESOLVED;
      // driftgate's own YAML never becomes JSON: `.inf` may stay a number there.
      const value = valueOf(kind, source);
      return value === undefined ? resolvedNumber : value;
    },
    identify: () => false,
  });
}

/**
 * A js-yaml schema with the same scalar rules, for YAML that driftgate itself reads (its config
 * file): `yes` is true and `0644` is 420 there as in manifests. Keys, repeated keys and merges
 * follow js-yaml there; manifests are read with parseKubeYaml.
 */
export const KUBERNETES_YAML_SCHEMA = new Schema([
  ...FAILSAFE_SCHEMA.tags,
  scalarTag('null', [NULL], ['', '~', 'n', 'N']),
  scalarTag('bool', [TRUE, FALSE], WORD_STARTS),
  scalarTag('int', [INT, UINT, BIG], NUMBER_STARTS),
  scalarTag('float', [FLOAT], [...NUMBER_STARTS, '.']),
  mergeTag,
]);
