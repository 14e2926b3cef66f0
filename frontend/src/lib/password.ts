/** The API refuses shorter passwords (Portus: 8). */
export const MIN_PASSWORD_LENGTH = 8

/** What a new password and its confirmation say, as the forms show it. */
export function newPasswordState(password: string, confirmation: string) {
  const tooShort = password.length > 0 && password.length < MIN_PASSWORD_LENGTH
  const mismatch = confirmation.length > 0 && password !== confirmation
  const valid = password.length >= MIN_PASSWORD_LENGTH && password === confirmation
  return { tooShort, mismatch, valid }
}
