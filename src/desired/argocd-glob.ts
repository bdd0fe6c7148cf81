// Argo CD's glob matching (util/glob.Match: github.com/gobwas/glob compiled with no separators),
// for a directory source's include and exclude. Imports nothing: the parse worker loads it as is.

/**
 * Translates a gobwas/glob pattern into a RegExp, or null where gobwas fails to compile it (then
 * Argo CD's Match is false). With no separators, `*` and `**` match any text, `/` included; `?`
 * is one character; `[abc]`, `[a-z]` and `[!...]` are one character in (or not in) the class;
 * `{a,b}` is either alternative (an unclosed `{` ends with the pattern); `\` escapes the next
 * character. `]`, `}` and `,` are plain text where they close or separate nothing.
 */
export function compileArgoGlob(pattern: string): RegExp | null {
  // Runes, as gobwas reads the pattern (code points, not UTF-16 units).
  const characters = Array.from(pattern);
  let position = 0;
  let depth = 0;
  let source = '';
  // Outside a class `-` is no syntax, and the `u` flag refuses needless escapes.
  const escape = (text: string): string => text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
  const escapeInClass = (text: string): string => text.replace(/[\\^[\]-]/g, '\\$&');

  /** Text up to a breaker, with `\` escapes, as gobwas's fetchText reads it. */
  const readText = (breakers: string): string => {
    let text = '';
    let escaped = false;
    while (position < characters.length) {
      const character = characters[position] ?? '';
      if (!escaped) {
        if (character === '\\') {
          escaped = true;
          position++;
          continue;
        }
        if (breakers.includes(character)) break;
      }
      escaped = false;
      text += character;
      position++;
    }
    return text;
  };

  /** `[...]` after its `[`: a list of characters or one range, possibly negated by a leading `!`. */
  const readClass = (): string | null => {
    let not = false;
    if (characters[position] === '!') {
      not = true;
      position++;
    }
    const first = characters[position];
    if (first === undefined) return null;
    let body: string;
    if (characters[position + 1] === '-') {
      const hi = characters[position + 2];
      if (hi === undefined || characters[position + 3] !== ']') return null;
      if ((hi.codePointAt(0) ?? 0) < (first.codePointAt(0) ?? 0)) return null;
      body = `${escapeInClass(first)}-${escapeInClass(hi)}`;
      position += 4;
    } else {
      const chars = readText(']');
      if (characters[position] !== ']' || chars === '') return null;
      position++;
      body = escapeInClass(chars);
    }
    return not ? `[^${body}]` : `[${body}]`;
  };

  while (position < characters.length) {
    const character = characters[position] ?? '';
    if (character === '{') {
      depth++;
      position++;
      source += '(?:';
    } else if (character === ',' && depth > 0) {
      position++;
      source += '|';
    } else if (character === '}' && depth > 0) {
      depth--;
      position++;
      source += ')';
    } else if (character === '[') {
      position++;
      const item = readClass();
      if (item === null) return null;
      source += item;
    } else if (character === '?') {
      position++;
      source += '[^]';
    } else if (character === '*') {
      position++;
      // `**` is the same as `*` without separators; one is enough for the RegExp too.
      if (!source.endsWith('[^]*')) source += '[^]*';
    } else {
      source += escape(readText(depth > 0 ? '?*[{},' : '?*[{'));
    }
  }
  source += ')'.repeat(depth);
  return new RegExp(`^(?:${source})$`, 'u');
}

/** Argo CD's `glob.Match(pattern, text)`: false when the pattern does not compile. */
export function argoGlobMatch(pattern: string, text: string): boolean {
  return compileArgoGlob(pattern)?.test(text) ?? false;
}
