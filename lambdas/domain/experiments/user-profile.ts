/**
 * What is known of a user before their first exposure, decided once at that exposure and stored
 * on the assignment: the pre-exposure covariate of CUPED and whether the model knows the user.
 *
 * Both come from the control model's artifact, for every user whatever their variant, so they
 * cannot depend on the variant (CUPED needs a covariate the treatment cannot move): the covariate
 * is the number of items the user has in that artifact's training data (its `seen_offsets`, the
 * user's activity before the test), 0 for a user the model does not know.
 */
import type { ServingModel } from '../recommenders/top-n.ts';

export interface UserProfile {
  /** Items the user has in the training data of the control model's artifact (0 when unknown to it). */
  covariate: number;
  /** Whether the control model knows the user (else they get the cold-start popularity list). */
  known: boolean;
}

/** The profile of a user nobody knows (no artifact, or a user outside it). */
export const UNKNOWN_PROFILE: UserProfile = Object.freeze({ covariate: 0, known: false });

/** The user's profile from the control model's prepared artifact (UNKNOWN_PROFILE without one). */
export function userProfileOf(control: ServingModel | undefined, userId: string): UserProfile {
  const index = control?.userIndexById.get(userId);
  if (control === undefined || index === undefined) return UNKNOWN_PROFILE;
  const offsets = control.model.seenOffsets;
  return { covariate: offsets[index + 1] - offsets[index], known: true };
}
