/** What the JwksVerifier specs sign with and verify at: one ES256 key id, one fixed time, one ServiceAccount subject. */
export const ALG = 'ES256';
export const KID = 'signing-key';
export const NOW_S = 1_800_000_000;
export const SUBJECT = 'system:serviceaccount:ops:sre';
