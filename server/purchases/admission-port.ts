// What the hold path needs from the waiting room (server/waiting-room): for an event with a room in
// force, the Admission-Token header must admit this buyer to this event; others pass unchecked.
export interface AdmissionGate {
  /** Throws AppError('admission_required') when refused; resolves true when a token was checked and passed. */
  check(eventId: string, accountId: string, token: string | undefined): Promise<boolean>;
  /** A hold was placed under an admission (its turn was used, not lost). */
  used(eventId: string, accountId: string): Promise<void>;
}
