/** RFC 5280 §5.3.1 CRL reason codes, shared by the CRL builder and parser. */

/** Reason names and codes. removeFromCRL (8) belongs to delta CRLs, which Mosaic does not use. */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;

/** A revocation reason name. */
export type RevocationReasonName = keyof typeof REVOCATION_REASONS;

const BY_CODE: ReadonlyMap<number, RevocationReasonName> = new Map(
  (Object.entries(REVOCATION_REASONS) as [RevocationReasonName, number][]).map(([name, code]) => [code, name]),
);

/** The name of a reason code, or undefined for an unknown one. */
export function crlReasonName(code: number): RevocationReasonName | undefined {
  return BY_CODE.get(code);
}

/** The code of a reason name, or undefined for an unknown one. */
export function crlReasonCode(name: string): number | undefined {
  return Object.hasOwn(REVOCATION_REASONS, name) ? REVOCATION_REASONS[name as RevocationReasonName] : undefined;
}
