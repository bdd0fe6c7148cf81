// Break-glass (DESIGN.md §4): an annotated reason, stamped by the mutating webhook with who set
// it, when, and until when; the validating webhook accepts only stamps it could have made.
import { annotations as keys } from '../kube/well-known.js';

export interface BreakGlassSettings {
  readonly groups: readonly string[];
  readonly users: readonly string[];
  readonly ttlMs: number;
  readonly ticketPattern: string | null;
}

export interface BreakGlass {
  readonly reason: string;
  readonly by: string | undefined;
  readonly at: string | undefined;
  readonly expires: string | undefined;
}

type Annotations = Readonly<Record<string, string>> | undefined;

export function readBreakGlass(annotations: Annotations): BreakGlass | undefined {
  const reason = annotations?.[keys.breakGlass]?.trim();
  if (reason === undefined || reason === '') return undefined;
  return {
    reason,
    by: annotations?.[keys.breakGlassBy],
    at: annotations?.[keys.breakGlassAt],
    expires: annotations?.[keys.breakGlassExpires],
  };
}

/** Stamped and not yet expired. */
export function isActive(breakGlass: BreakGlass | undefined, now: Date): boolean {
  if (breakGlass?.by === undefined || breakGlass.expires === undefined) return false;
  const expires = Date.parse(breakGlass.expires);
  return Number.isFinite(expires) && now.getTime() < expires;
}

// RFC 3339 in UTC at whole seconds, as Kubernetes prints times.
export function rfc3339(time: Date): string {
  return new Date(Math.floor(time.getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export function stampsMadeNow(username: string, now: Date, ttlMs: number): Record<string, string> {
  return {
    [keys.breakGlassBy]: username,
    [keys.breakGlassAt]: rfc3339(now),
    [keys.breakGlassExpires]: rfc3339(new Date(now.getTime() + ttlMs)),
  };
}

/** Did this write set or change the reason? */
export function reasonChanged(object: Annotations, old: Annotations): boolean {
  const reason = readBreakGlass(object)?.reason;
  return reason !== undefined && reason !== readBreakGlass(old)?.reason;
}

export function ticketProblem(reason: string, settings: BreakGlassSettings): string | undefined {
  if (settings.ticketPattern === null) return undefined;
  return new RegExp(settings.ticketPattern, 'u').test(reason)
    ? undefined
    : `the break-glass reason must match the ticket pattern ${settings.ticketPattern}`;
}

const STAMP_KEYS = [keys.breakGlassBy, keys.breakGlassAt, keys.breakGlassExpires] as const;
const CLOCK_SKEW_MS = 60_000;

/**
 * The validating webhook's check of the stamps on the object being written: they must be those
 * already on the old object, or exactly what the mutating webhook would have made for this
 * requester now. Returns the problem, or undefined when the stamps are acceptable.
 */
export function stampProblem(
  object: Annotations,
  old: Annotations,
  username: string,
  now: Date,
  ttlMs: number,
): string | undefined {
  const present = STAMP_KEYS.some((key) => object?.[key] !== undefined);
  if (!present) return undefined;
  if (STAMP_KEYS.every((key) => object?.[key] === old?.[key])) return undefined;
  const by = object?.[keys.breakGlassBy];
  const at = Date.parse(object?.[keys.breakGlassAt] ?? '');
  const expires = Date.parse(object?.[keys.breakGlassExpires] ?? '');
  if (by !== username) {
    return `${keys.breakGlassBy} must name the requester (${username}); break-glass stamps are set by driftgate, not by hand`;
  }
  if (!Number.isFinite(at) || Math.abs(at - now.getTime()) > CLOCK_SKEW_MS) {
    return `${keys.breakGlassAt} must be the time of this request; break-glass stamps are set by driftgate, not by hand`;
  }
  if (!Number.isFinite(expires) || expires - at !== ttlMs) {
    return `${keys.breakGlassExpires} must be ${keys.breakGlassAt} plus the configured time to live; break-glass stamps are set by driftgate, not by hand`;
  }
  return undefined;
}
