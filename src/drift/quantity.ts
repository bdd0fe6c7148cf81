// Kubernetes resource quantities ("500m", "1Gi", "1e3") compared by exact value, so a manifest
// that writes `cpu: "0.5"` matches the `500m` the API server stores.
import { memoized } from './memo.js';

/** An exact rational value: numerator / denominator, denominator > 0. */
interface Rational {
  readonly numerator: bigint;
  readonly denominator: bigint;
}

const BINARY_SUFFIXES: Readonly<Record<string, bigint>> = {
  Ki: 1n << 10n,
  Mi: 1n << 20n,
  Gi: 1n << 30n,
  Ti: 1n << 40n,
  Pi: 1n << 50n,
  Ei: 1n << 60n,
};

const DECIMAL_EXPONENTS: Readonly<Record<string, number>> = {
  n: -9,
  u: -6,
  m: -3,
  '': 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};

// The grammar of k8s.io/apimachinery/pkg/api/resource: a signed decimal number, then a binary
// SI suffix, a decimal SI suffix, or a decimal exponent (e3, E-2).
const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;

export function parseQuantity(text: string | number): Rational | undefined {
  const source = typeof text === 'number' ? numberToQuantityText(text) : text.trim();
  if (source === undefined) return undefined;
  const match = QUANTITY.exec(source);
  if (match === null) return undefined;
  const [, sign = '', number = '', suffix = ''] = match;
  const [whole = '', fraction = ''] = number.split('.');
  let numerator = BigInt((whole === '' ? '0' : whole) + fraction);
  let denominator = 10n ** BigInt(fraction.length);
  if (sign === '-') numerator = -numerator;

  const binary = BINARY_SUFFIXES[suffix];
  let exponent = 0;
  if (binary !== undefined) {
    numerator *= binary;
  } else if (suffix.startsWith('e') || suffix.startsWith('E')) {
    exponent = Number(suffix.slice(1));
    if (!Number.isSafeInteger(exponent) || Math.abs(exponent) > 1000) return undefined;
  } else {
    exponent = DECIMAL_EXPONENTS[suffix] ?? 0;
  }
  if (exponent > 0) numerator *= 10n ** BigInt(exponent);
  if (exponent < 0) denominator *= 10n ** BigInt(-exponent);
  return { numerator, denominator };
}

function numberToQuantityText(value: number): string | undefined {
  // YAML turns `cpu: 1` or `cpu: 0.5` into numbers; JavaScript's shortest round-trip text
  // ("0.5", "1e-7", "1e+21") is itself valid quantity syntax once the '+' is dropped.
  return Number.isFinite(value) ? String(value).replace('e+', 'e') : undefined;
}

// The same few quantities ("500m", "1Gi") come up in every review: each is parsed once. Bounded
// in count and in length, since a review can carry any text where a quantity belongs.
const PARSED_MAX_LENGTH = 64;
const parseRecurring = memoized(parseQuantity, 4096);

function parseQuantityOnce(text: string | number): Rational | undefined {
  return typeof text === 'string' && text.length > PARSED_MAX_LENGTH
    ? parseQuantity(text)
    : parseRecurring(text);
}

/** True when both parse as quantities of the same value. */
export function quantitiesEqual(a: string | number, b: string | number): boolean {
  const x = parseQuantityOnce(a);
  const y = parseQuantityOnce(b);
  if (x === undefined || y === undefined) return false;
  return x.numerator * y.denominator === y.numerator * x.denominator;
}
