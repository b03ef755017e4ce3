/**
 * What the gateway needs from its CA, whichever it is: the embedded CA (`--ca embedded`) or
 * Step-CA through its JWK provisioner (`--ca step-ca`).
 */
import type { IssuedClientCertificate } from '@mosaic/federation-core';
import type { CrlStatus, PublishedCrl } from './crl.js';
import type { IssueClientOptions, RenewalHandle, ServerCertificate, ServerCertificateOptions, ServerCertRenewalOptions } from './embedded-ca.js';

export interface GatewayCa {
  readonly mode: 'embedded' | 'step-ca';
  /** True when this start created the CA (embedded, first start). */
  readonly created: boolean;
  /**
   * The CA certificate peers trust and pin (`GET /api/federation/v1/ca`): the root. In the
   * embedded mode it signs peers' certificates and the CRL itself; with Step-CA an
   * intermediate under it does (see {@link certChainPem}).
   */
  readonly caCertPem: string;
  readonly caCertDer: Uint8Array;
  /** `sha256:<hex>` of {@link caCertPem}'s key. */
  readonly caPin: string;
  readonly rootNotAfter: Date;
  /** What the federation listener trusts for client certificates (PEM, one or more certificates). */
  readonly listenerTrustPem: string;
  /**
   * A certificate this CA issued followed by the intermediates between it and
   * {@link caCertPem} (the enrollment and renewal answers' `certChainPem`, what the peer
   * presents over mTLS); just the certificate when the root signs it directly.
   */
  certChainPem(certPem: string): string;
  /** True for a serial this gateway's CA issued for it (a shared Step-CA root also signs for others). */
  acceptsSerial(serialHex: string): boolean;
  /**
   * Step-CA mode: true only for a client certificate this gateway obtained itself (its SHA-256
   * fingerprint recorded) whose verified issuer is one of its intermediates; the listener ends
   * every other connection presenting a certificate. Absent in the embedded mode (the root
   * signs for this gateway alone).
   */
  acceptsCertificate?(leafDer: Uint8Array, issuerDer: Uint8Array | undefined): boolean;
  /**
   * Step-CA mode: the CA's other provisioners (`gateway doctor`: `ca.step_ca_exclusive`).
   * Requesting gateways pinning the root trust every certificate it issues for this host.
   */
  readonly exclusivity?: { otherProvisioners: string[] };
  /** Step-CA mode: a certificate issued but never recorded is dropped and revoked at the CA (best effort). */
  discardUnrecorded?(certPem: string): Promise<void>;
  issueClientCertificate(options: IssueClientOptions): Promise<IssuedClientCertificate>;
  ensureServerCertificate(options: ServerCertificateOptions): Promise<ServerCertificate>;
  scheduleServerCertRenewal(onRenewed: (cert: ServerCertificate) => void | Promise<void>, options?: ServerCertRenewalOptions): RenewalHandle;
  currentCrl(): Promise<Uint8Array>;
  currentCrlInfo(): Promise<PublishedCrl>;
  invalidateCrl(): void;
  crlStatus(): Promise<CrlStatus>;
  close(): void;
}
