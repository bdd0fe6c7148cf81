// Where a field lives in an object, in two spellings: a readable path for people
// (`spec.template.spec.containers[name=web].image`) and an RFC 6901 JSON pointer for machines.

export type Scalar = string | number | boolean;

/** One step into an object: a map key, a list element found by its merge key, or an index. */
export type Segment =
  | { readonly kind: 'field'; readonly name: string }
  | {
      readonly kind: 'key';
      /** The merge-key fields as the manifest spells them, for the readable path. */
      readonly fields: Readonly<Record<string, Scalar>>;
      /** Position in the object the pointer refers to. */
      readonly index: number;
    }
  | { readonly kind: 'index'; readonly index: number };

const PLAIN_FIELD = /^[A-Za-z_$][\w$-]*$/;

export function readablePath(segments: readonly Segment[]): string {
  let out = '';
  for (const segment of segments) {
    if (segment.kind === 'index') {
      out += `[${segment.index}]`;
    } else if (segment.kind === 'key') {
      let pairs = '';
      for (const [field, value] of Object.entries(segment.fields)) {
        pairs += `${pairs === '' ? '' : ','}${field}=${String(value)}`;
      }
      out += `[${pairs}]`;
    } else if (!PLAIN_FIELD.test(segment.name)) {
      out += `[${segment.name}]`;
    } else {
      out += out === '' ? segment.name : `.${segment.name}`;
    }
  }
  return out;
}

export function escapePointerToken(token: string): string {
  // Most field names hold neither character: no new strings for them.
  if (!token.includes('~') && !token.includes('/')) return token;
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

export function unescapePointerToken(token: string): string {
  return token.replaceAll('~1', '/').replaceAll('~0', '~');
}

export function jsonPointer(segments: readonly Segment[]): string {
  let out = '';
  for (const segment of segments) {
    out += `/${segment.kind === 'field' ? escapePointerToken(segment.name) : String(segment.index)}`;
  }
  return out;
}

/** Splits an RFC 6901 pointer into its unescaped tokens; undefined when it is not a pointer. */
export function parsePointer(pointer: string): string[] | undefined {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) return undefined;
  return pointer.slice(1).split('/').map(unescapePointerToken);
}
