/**
 * The segments a report breaks results down by, fixed per user at their first exposure and stored
 * on the assignment (so a user's segment never changes, and never depends on their variant):
 *
 * - the user type: `known` (the control model knows the user) or `cold-start` (it does not, so
 *   they get the popularity list), from the control's artifact (user-profile.ts);
 * - optionally a client segment, sent by the client as `GET /recommend?...&segment=<value>` at the
 *   first exposure and checked against the small list the experiment declares (`segments`).
 *
 * The daily counters are keyed by (variant, segment key) (`DAY#<day>#S<nn>#G<key>`), so each event
 * is written once and a variant's totals are the sum over its segments.
 */
import { z } from 'zod';
import type { UserProfile } from './user-profile.ts';

/** Most client segment values an experiment may declare: each multiplies the counter items per variant and day. */
export const MAX_DECLARED_SEGMENTS = 8;

/** A client segment value: a short slug, safe in a counter key. */
const SEGMENT_VALUE = /^[a-z0-9_-]{1,32}$/;

/** `segments` on an experiment: at most 8 distinct slugs the client may send as `segment`. */
export const declaredSegmentsSchema = z
  .array(z.string().regex(SEGMENT_VALUE, 'must be 1 to 32 characters of a-z, 0-9, - and _'))
  .min(1, 'must list at least 1 segment (or leave segments out)')
  .max(MAX_DECLARED_SEGMENTS, `must list at most ${MAX_DECLARED_SEGMENTS} segments`)
  .refine((values) => new Set(values).size === values.length, 'must not list a segment twice');

export const userTypes = ['known', 'cold-start'] as const;
export type UserType = (typeof userTypes)[number];

/** The user type a profile gives. */
export const userTypeOf = (profile: Pick<UserProfile, 'known'>): UserType => (profile.known ? 'known' : 'cold-start');

/** A user's segment: their type and, when the experiment declares segments and the client sent one, its value. */
export interface UserSegment {
  userType: UserType;
  client?: string;
}

/** The counter key of a segment: `known`, `cold-start`, `known:mobile`, ... */
export function segmentKey({ userType, client }: UserSegment): string {
  return client === undefined ? userType : `${userType}:${client}`;
}

/** The segment a counter key names (undefined for a key this version does not write). */
export function parseSegmentKey(key: string): UserSegment | undefined {
  const [userType, client, ...rest] = key.split(':');
  if (!(userTypes as readonly string[]).includes(userType) || rest.length > 0) return undefined;
  return client === undefined ? { userType: userType as UserType } : { userType: userType as UserType, client };
}

/**
 * Why a client segment cannot be used for an experiment (undefined when it can): the experiment
 * declares no segments, or not this one.
 */
export function clientSegmentProblem(declared: readonly string[] | undefined, segment: string): string | undefined {
  if (declared === undefined || declared.length === 0) return 'this experiment declares no segments';
  if (!declared.includes(segment)) return `must be one of ${declared.join(', ')}`;
  return undefined;
}
