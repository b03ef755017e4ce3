/**
 * The coded errors of the Step-CA mode (`--ca step-ca`). None carries a token, a key, a
 * password or a PEM: at most a URL, a provisioner name, a fingerprint or Step-CA's own message.
 */
import { createError } from '@mosaic/federation-core';

/** A STEP_CA_* setting is missing or unusable. */
export const StepCaConfigInvalid = createError<[string]>(
  'STEP_CA_CONFIG_INVALID',
  'the Step-CA mode cannot start: %s',
  500,
  'set STEP_CA_URL (https://…), STEP_CA_ROOT (the root certificate file), STEP_CA_PROVISIONER (the JWK provisioner name) and STEP_CA_PROVISIONER_PASSWORD_FILE; see docs/setup.md "Step-CA mode"',
);

/** The provisioner password file does not decrypt the provisioner's key. */
export const StepCaPasswordInvalid = createError<[string]>(
  'STEP_CA_PASSWORD_INVALID',
  'the provisioner key of %s cannot be decrypted with STEP_CA_PROVISIONER_PASSWORD_FILE',
  500,
  'put the password given to `step ca provisioner add` in that file (one line, no other text)',
);

/** Step-CA could not be reached (or answered something that is not its protocol). */
export const StepCaUnreachable = createError<[string]>(
  'STEP_CA_UNREACHABLE',
  'Step-CA cannot be reached: %s',
  503,
  'check STEP_CA_URL and that step-ca runs (`step ca health`); the TLS connection is verified against STEP_CA_ROOT',
);

/** Step-CA refused a request (a token, a CSR, a revoke). */
export const StepCaRefused = createError<[string]>(
  'STEP_CA_REFUSED',
  'Step-CA refused the request: %s',
  502,
  'check the provisioner (type JWK, name in STEP_CA_PROVISIONER), its template (infra/step-ca/mosaic.tpl) and that the clocks agree; step-ca logs say more',
);

/** STEP_CA_ROOT is not the root the CA serves, or the CA's chain does not lead to it. */
export const StepCaRootMismatch = createError<[string]>(
  'STEP_CA_ROOT_MISMATCH',
  'Step-CA does not chain to STEP_CA_ROOT: %s',
  500,
  'set STEP_CA_ROOT to the root of this CA (`step ca root root_ca.crt`) and compare its fingerprint with `step certificate fingerprint`',
);

/** A certificate Step-CA issued does not say what was asked (template missing or wrong); it was revoked. */
export const StepCaCertMismatch = createError<[string]>(
  'STEP_CA_CERT_MISMATCH',
  'the certificate Step-CA issued was refused and revoked: %s',
  502,
  'set the provisioner template to infra/step-ca/mosaic.tpl (`step ca provisioner update <name> --x509-template mosaic.tpl`)',
);
