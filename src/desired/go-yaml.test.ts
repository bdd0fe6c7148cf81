import { load, YAMLException } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { KUBERNETES_YAML_SCHEMA, KubeYamlError, parseKubeYaml } from './go-yaml.js';

// The cases kubectl v1.31 was recorded on are in test/desired/yaml-as-kubectl.test.ts; these are
// the rest of go-yaml v2's resolve.go and of sigs.k8s.io/yaml's YAMLToJSON, case by case.
const value = (yaml: string): unknown => {
  const [document] = parseKubeYaml(`v: ${yaml}\n`, 'case.yaml');
  return (document?.value as { v: unknown }).v;
};
const one = (yaml: string): unknown => parseKubeYaml(yaml, 'case.yaml')[0]?.value;
const failure = (yaml: string): YAMLException => {
  try {
    parseKubeYaml(yaml, 'case.yaml');
  } catch (error) {
    if (error instanceof YAMLException) return error;
    throw error;
  }
  throw new Error(`no error for ${yaml}`);
};

describe('parseKubeYaml scalars', () => {
  it.each([
    { name: 'octal with a leading zero is not decimal', yaml: '0755', expected: 493 },
    { name: 'a leading zero with a non-octal digit is a float', yaml: '08', expected: 8 },
    { name: 'zero', yaml: '0', expected: 0 },
    { name: 'negative hex', yaml: '-0x1F', expected: -31 },
    { name: 'binary', yaml: '0b101', expected: 5 },
    { name: 'upper-case prefixes', yaml: '0X1f', expected: 31 },
    { name: 'a sign', yaml: '+12', expected: 12 },
    { name: 'underscores anywhere in a number', yaml: '1__0', expected: 10 },
    { name: 'a float from a dot', yaml: '.5', expected: 0.5 },
    { name: 'a float ending in a dot', yaml: '1.', expected: 1 },
    { name: 'a negative exponent', yaml: '-1.5E-3', expected: -0.0015 },
    { name: 'int64 max', yaml: '9223372036854775807', expected: 2 ** 63 },
    { name: 'uint64, beyond int64', yaml: '18446744073709551615', expected: 2 ** 64 },
    { name: 'beyond uint64, as a float', yaml: '18446744073709551616', expected: 2 ** 64 },
    { name: 'beyond uint64 in hex (big.Int)', yaml: '0x1FFFFFFFFFFFFFFFF', expected: 2 ** 65 },
    { name: 'a float overflow is text', yaml: '1e999', expected: '1e999' },
    { name: 'base 60 is text', yaml: '190:20:30', expected: '190:20:30' },
    { name: 'a time is text', yaml: '12:30:00', expected: '12:30:00' },
    {
      name: 'a timestamp is text',
      yaml: '2001-12-14t21:59:43.10-05:00',
      expected: '2001-12-14t21:59:43.10-05:00',
    },
    { name: 'a version is text', yaml: '1.2.3', expected: '1.2.3' },
    { name: 'mixed-case words are text', yaml: 'yEs', expected: 'yEs' },
    { name: 'upper-case words', yaml: 'OFF', expected: false },
    { name: 'NaN spelled otherwise is text', yaml: 'NaN', expected: 'NaN' },
    { name: 'an empty value', yaml: '', expected: null },
    { name: 'a quoted number is text', yaml: '"0644"', expected: '0644' },
    { name: 'a single-quoted word is text', yaml: "'yes'", expected: 'yes' },
    { name: 'a block scalar is text', yaml: '|\n  0644', expected: '0644\n' },
    { name: '<< as a value is text', yaml: '<<', expected: '<<' },
    { name: '!!str keeps the text', yaml: '!!str 0644', expected: '0644' },
    { name: '!!int reads a quoted number', yaml: '!!int "0644"', expected: 420 },
    { name: '!!float takes an integer', yaml: '!!float 3', expected: 3 },
    { name: '!!bool', yaml: '!!bool "on"', expected: true },
    { name: 'an unknown tag keeps the text', yaml: '!Ref 0644', expected: '0644' },
    { name: '!!binary is decoded', yaml: '!!binary |\n  aGVs\n  bG8=', expected: 'hello' },
  ])('$name: $yaml', ({ yaml, expected }) => {
    expect(value(yaml)).toBe(expected);
  });

  it.each([
    { yaml: '.inf', json: '+Inf' },
    { yaml: '-.Inf', json: '-Inf' },
    { yaml: '.NaN', json: 'NaN' },
    { yaml: '[1, .inf]', json: '+Inf' },
    { yaml: '!!float .inf', json: '+Inf' },
  ])('refuses $yaml as kubectl does (json: unsupported value: $json)', ({ yaml, json }) => {
    const error = failure(`a: 1\nv: ${yaml}\n`);
    expect(error).toBeInstanceOf(KubeYamlError);
    expect(error.reason).toContain(`json: unsupported value: ${json}`);
    expect(error.mark?.line).toBe(1);
  });

  it.each([
    { yaml: '!!int abc', reason: 'cannot decode `abc` as a !!int' },
    { yaml: '!!float 18446744073709551615', reason: 'as a !!float' },
    { yaml: '!!bool 1', reason: 'as a !!bool' },
    { yaml: '!!binary "a$b"', reason: 'invalid base64' },
  ])('refuses $yaml', ({ yaml, reason }) => {
    expect(failure(`v: ${yaml}\n`).reason).toContain(reason);
  });
});

describe('parseKubeYaml keys', () => {
  it.each([
    { name: 'an integer in decimal', yaml: '0x1F: a', expected: { '31': 'a' } },
    {
      name: 'an integer beyond 2^53, exactly',
      yaml: '9007199254740993: a',
      expected: { '9007199254740993': 'a' },
    },
    { name: 'a float as Go prints a float32', yaml: '1.5: a', expected: { '1.5': 'a' } },
    { name: 'a float32 rounds', yaml: '3.14159265358979: a', expected: { '3.1415927': 'a' } },
    { name: 'a large float in exponent form', yaml: '1e6: a', expected: { '1e+06': 'a' } },
    { name: 'a small float in exponent form', yaml: '0.00001: a', expected: { '1e-05': 'a' } },
    { name: 'a small float in plain form', yaml: '0.0001: a', expected: { '0.0001': 'a' } },
    { name: 'infinity', yaml: '.inf: a', expected: { '.inf': 'a' } },
    { name: 'a date stays text', yaml: '2018-07-17: a', expected: { '2018-07-17': 'a' } },
    { name: 'a repeated key keeps the last value', yaml: 'a: 1\na: 2', expected: { a: 2 } },
    { name: 'a quoted word stays text', yaml: '"on": a', expected: { on: 'a' } },
    {
      name: '__proto__ is an ordinary key',
      yaml: '__proto__: {a: 1}',
      expected: JSON.parse('{"__proto__":{"a":1}}'),
    },
  ])('$name: $yaml', ({ yaml, expected }) => {
    const parsed = one(yaml);
    expect(parsed).toEqual(expected);
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
  });

  it.each([
    { name: 'null', yaml: 'null: a', reason: 'unsupported map key' },
    { name: 'tilde', yaml: '~: a', reason: 'unsupported map key' },
    { name: 'beyond int64', yaml: '18446744073709551615: a', reason: 'unsupported map key' },
    { name: 'a mapping', yaml: '? {a: 1}\n: b', reason: 'not a scalar' },
    { name: 'a bool and a string that read alike', yaml: 'on: a\n"true": b', reason: 'at random' },
    { name: 'an int and a float that read alike', yaml: '1000: a\n1e3: b', reason: 'at random' },
  ])('refuses a $name key', ({ yaml, reason }) => {
    const error = failure(yaml);
    expect(error).toBeInstanceOf(KubeYamlError);
    expect(error.reason).toContain(reason);
  });
});

describe('parseKubeYaml anchors and merges', () => {
  it('builds an alias anew each time it is used', () => {
    const parsed = one('a: &x {k: [1]}\nb: *x\n') as Record<string, { k: number[] }>;
    expect(parsed).toEqual({ a: { k: [1] }, b: { k: [1] } });
    expect(parsed['a']).not.toBe(parsed['b']);
    expect(parsed['a']?.k).not.toBe(parsed['b']?.k);
  });

  it('takes the anchor defined last before the alias', () => {
    expect(one('a: &x 1\nb: *x\nc: &x 2\nd: *x\n')).toEqual({ a: 1, b: 1, c: 2, d: 2 });
  });

  it.each([
    {
      name: 'merged keys win over keys before <<, as in go-yaml v2',
      yaml: 'base: &b {a: 1, b: 1}\nm:\n  a: 0\n  <<: *b\n  b: 2\n',
      expected: { a: 1, b: 2 },
    },
    {
      name: 'of a list of maps, the first wins',
      yaml: 'x: &x {a: first, b: first}\ny: &y {a: second, c: second}\nm:\n  <<: [*x, *y]\n',
      expected: { a: 'first', b: 'first', c: 'second' },
    },
    {
      name: 'an inline map merges',
      yaml: 'm:\n  <<: {a: 1}\n  b: 2\n',
      expected: { a: 1, b: 2 },
    },
  ])('$name', ({ yaml, expected }) => {
    expect((one(yaml) as { m: unknown }).m).toEqual(expected);
  });

  it.each([
    { name: 'an unknown anchor', yaml: 'a: *nope\n', reason: "unknown anchor 'nope'" },
    { name: 'an anchor inside itself', yaml: 'a: &x [1, *x]\n', reason: 'contains itself' },
    { name: 'a merge of a scalar', yaml: 'a: &x 1\nm:\n  <<: *x\n', reason: 'merge' },
  ])('refuses $name', ({ yaml, reason }) => {
    expect(failure(yaml).reason).toContain(reason);
  });

  it('refuses excessive aliasing (a billion laughs) as go-yaml v2 does', () => {
    const lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]'];
    for (let level = 1; level < 9; level++) {
      const name = String.fromCharCode(97 + level);
      const previous = String.fromCharCode(96 + level);
      lines.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(', ')}]`);
    }
    const started = Date.now();
    expect(failure(lines.join('\n')).reason).toContain('excessive aliasing');
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('parseKubeYaml documents', () => {
  it('gives each document with the offset of its root, empty ones as null', () => {
    expect(parseKubeYaml('---\n---\na: 1\n---\n- x\n', 'f.yaml')).toEqual([
      { value: null, start: -1 },
      { value: { a: 1 }, start: 8 },
      { value: ['x'], start: 17 },
    ]);
  });

  it('reads JSON', () => {
    expect(one('{"a": 1.0, "b": "0644", "c": [true, null]}')).toEqual({
      a: 1,
      b: '0644',
      c: [true, null],
    });
  });

  it('names the file and line of a syntax error', () => {
    const error = failure('a: 1\nb: [\n');
    expect(error).not.toBeInstanceOf(KubeYamlError);
    expect(error.mark?.name).toBe('case.yaml');
  });
});

describe('KUBERNETES_YAML_SCHEMA', () => {
  it('reads scalars with the same rules, for driftgate’s own config', () => {
    expect(
      load('a: 0o644\nb: 02:30\nc: on\nd: 1e3\ne: ~\nf: 0x1F\ng: text\n', {
        schema: KUBERNETES_YAML_SCHEMA,
      }),
    ).toEqual({ a: 420, b: '02:30', c: true, d: 1000, e: null, f: 31, g: 'text' });
  });
});
