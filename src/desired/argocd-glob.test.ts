// Argo CD's directory include/exclude globs: util/glob.Match, which compiles gobwas/glob v0.2.3
// patterns with no separators. Cases from gobwas/glob's glob_test.go (those without separators)
// and from its lexer (syntax/lexer) and parser (syntax/ast/parser.go) rules.
import { matchesGlob } from 'node:path';
import { describe, expect, it } from 'vitest';
import { argoGlobMatch, compileArgoGlob } from './argocd-glob.js';

describe('argoGlobMatch', () => {
  it.each([
    // Without separators `*` and `**` match `/` too: unlike Node's path.matchesGlob.
    { pattern: '*-test.yaml', path: 'sub/x-test.yaml', expected: true },
    { pattern: '*.yaml', path: 'sub/deeper/b.yaml', expected: true },
    { pattern: '**.yaml', path: 'sub/b.yaml', expected: true },
    { pattern: 'sub/*', path: 'sub/deeper/b.yaml', expected: true },
    { pattern: '*.yaml', path: 'b.yml', expected: false },
    // `?` is one character, `/` included.
    { pattern: 'a?c', path: 'a1c', expected: true },
    { pattern: 'a?c', path: 'a/c', expected: true },
    { pattern: '?at', path: 'at', expected: false },
    // Character lists, one range, negation with `!` (not `^`).
    { pattern: '[abc].yaml', path: 'b.yaml', expected: true },
    { pattern: '[!abc].yaml', path: 'b.yaml', expected: false },
    { pattern: '[!abc].yaml', path: 'd.yaml', expected: true },
    { pattern: '[a-c]*', path: 'cat', expected: true },
    { pattern: '[!a-c]*', path: 'cat', expected: false },
    { pattern: '[^a]*', path: '^b', expected: true },
    {
      pattern: '[a-z][!a-x]*cat*[h][!b]*eyes*',
      path: 'my cat has very bright eyes',
      expected: true,
    },
    {
      pattern: '[a-z][!a-x]*cat*[h][!b]*eyes*',
      path: 'my dog has very bright eyes',
      expected: false,
    },
    // Brace lists, nested, empty alternatives, an unclosed brace closed by the end.
    { pattern: '{a,ab}c', path: 'abc', expected: true },
    { pattern: '{abc,def}ghi', path: 'defghi', expected: true },
    { pattern: '{,a}', path: '', expected: true },
    { pattern: '{a,ab,abc}', path: '', expected: false },
    { pattern: '{{a,b},c}', path: 'c', expected: true },
    { pattern: '*.{yaml,yml}', path: 'sub/a.yml', expected: true },
    { pattern: '*.{yaml,yml', path: 'sub/a.yml', expected: true },
    { pattern: '{base/*,overlays/prod/*}', path: 'overlays/dev/a.yaml', expected: false },
    { pattern: '*//{,*.}example.com', path: 'https://www.example.com', expected: true },
    { pattern: '*//{,*.}example.com', path: 'http://example.com.net', expected: false },
    // `]`, `}` and `,` are text where they close or separate nothing; `\` escapes.
    { pattern: 'a,b].yaml', path: 'a,b].yaml', expected: true },
    { pattern: 'a}.yaml', path: 'a}.yaml', expected: true },
    { pattern: '\\*.yaml', path: '*.yaml', expected: true },
    { pattern: '\\*.yaml', path: 'a.yaml', expected: false },
    { pattern: '[\\]]', path: ']', expected: true },
    { pattern: 'a.b+(c)', path: 'a.b+(c)', expected: true },
    { pattern: 'a.b', path: 'axb', expected: false },
    { pattern: '', path: '', expected: true },
    { pattern: '', path: 'b', expected: false },
    { pattern: '*ä', path: 'åä', expected: true },
    // Long runs of stars stay fast and exact.
    { pattern: 'a*a*a*a*b', path: 'a'.repeat(100), expected: false },
    { pattern: 'a*a*a*a*b', path: `${'a'.repeat(100)}b`, expected: true },
  ])('$pattern against $path: $expected', ({ pattern, path, expected }) => {
    expect(argoGlobMatch(pattern, path)).toBe(expected);
  });

  it.each([
    // gobwas refuses these, and Argo CD's Match is then false for every path.
    { pattern: '[abc', why: 'unclosed class' },
    { pattern: '[a-cx]', why: 'a range takes the whole class' },
    { pattern: '[c-a]', why: 'hi below lo' },
    { pattern: '[]', why: 'empty class' },
    { pattern: '[!]', why: 'empty negated class' },
  ])('$pattern does not compile ($why): matches nothing', ({ pattern }) => {
    expect(compileArgoGlob(pattern)).toBeNull();
    expect(argoGlobMatch(pattern, pattern)).toBe(false);
  });

  it('differs from Node path.matchesGlob, which stops `*` at `/`', () => {
    expect(matchesGlob('sub/x-test.yaml', '*-test.yaml')).toBe(false);
    expect(argoGlobMatch('*-test.yaml', 'sub/x-test.yaml')).toBe(true);
  });
});
