// Where a field lives in an object, in two spellings: a readable path for people
// (`spec.template.spec.containers[name=web].image`) and an RFC 6901 JSON pointer for machines.

export type Scalar = string | number | boolean;

/**
 * One step into an object: a map key (its name), a list element by position (its index), or a
 * list element found by its merge key. Keys and indexes are the bare values: a walk takes a step
 * for every field it visits, and a step that is an object of its own would be one more
 * allocation each time.
 */
export type Segment = string | number | KeyStep;

/** A list element found by its merge key. */
export interface KeyStep {
  readonly kind: 'key';
  /** The merge-key fields as the manifest spells them, for the readable path. */
  readonly fields: Readonly<Record<string, Scalar>>;
  /** Position in the object the pointer refers to. */
  readonly index: number;
}

const PLAIN_FIELD = /^[A-Za-z_$][\w$-]*$/;

export function readablePath(segments: readonly Segment[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') {
      out += `[${segment}]`;
    } else if (typeof segment !== 'string') {
      let pairs = '';
      for (const [field, value] of Object.entries(segment.fields)) {
        pairs += `${pairs === '' ? '' : ','}${field}=${String(value)}`;
      }
      out += `[${pairs}]`;
    } else if (!PLAIN_FIELD.test(segment)) {
      out += `[${segment}]`;
    } else {
      out += out === '' ? segment : `.${segment}`;
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
    if (typeof segment === 'string') out += `/${escapePointerToken(segment)}`;
    else out += `/${typeof segment === 'number' ? segment : segment.index}`;
  }
  return out;
}

/** Splits an RFC 6901 pointer into its unescaped tokens; undefined when it is not a pointer. */
export function parsePointer(pointer: string): string[] | undefined {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) return undefined;
  return pointer.slice(1).split('/').map(unescapePointerToken);
}
