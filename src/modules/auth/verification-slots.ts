/**
 * Admission of calls whose token is still being verified. The stream limits provide it (see
 * aggregation.module.ts), so calls waiting on a slow TokenReview hold slots like open streams do,
 * instead of piling up unbounded behind the guard.
 */
export abstract class VerificationSlots {
  /** Takes a slot or throws RESOURCE_EXHAUSTED; the returned function gives it back (once). */
  abstract acquirePending(): () => void;
}
