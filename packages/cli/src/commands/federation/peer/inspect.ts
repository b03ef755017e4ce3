import { Command } from 'commander';
import type { Peer, PeerCertificate } from '@mosaic/federation-core';
import { adminClient, outputOptions, type GlobalOptions } from '../../../context.js';
import { ExitCode, printResult } from '../../../output.js';
import { explained } from '../errors.js';
import { renderInspect, type InspectedCertificate } from './render.js';

const CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

/**
 * Decode a peer's stored certificate: subject, serial, validity, key, both Mosaic extensions,
 * and the pinned CA (its pin recomputed, and whether it signed the certificate). The x509 and
 * DER code of federation-core is loaded here only, not on any other command's path.
 */
export async function inspectCertificate(peer: Pick<Peer, 'caPin'>, body: PeerCertificate): Promise<InspectedCertificate> {
  const { X509Certificate } = await import('node:crypto');
  const { decodeMosaicIdentity, spkiPin } = await import('@mosaic/federation-core');
  const cert = new X509Certificate(body.certPem);
  const ca = new X509Certificate(body.caCertPem);
  let extensions: InspectedCertificate['extensions'];
  try {
    const id = decodeMosaicIdentity(body.certPem);
    extensions = { grantId: id.grantId, subjectUserId: id.subjectUserId };
  } catch (err) {
    extensions = { grantId: null, subjectUserId: null, error: `${(err as { code?: string }).code ?? 'ERROR'}: ${(err as Error).message}` };
  }
  const details = cert.publicKey.asymmetricKeyDetails;
  const type = cert.publicKey.asymmetricKeyType ?? 'unknown';
  const key =
    type === 'ec' ? `ECDSA ${CURVES[details?.namedCurve ?? ''] ?? details?.namedCurve ?? '?'}` : type === 'rsa' ? `RSA ${details?.modulusLength ?? '?'}` : type;
  const pin = spkiPin(body.caCertPem);
  return {
    subject: cert.subject.replace(/\n/g, ', '),
    issuer: cert.issuer.replace(/\n/g, ', '),
    serial: cert.serialNumber.toLowerCase(),
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter: new Date(cert.validTo).toISOString(),
    key,
    fingerprint256: cert.fingerprint256,
    extensions,
    ca: {
      subject: ca.subject.replace(/\n/g, ', '),
      notAfter: new Date(ca.validTo).toISOString(),
      pin,
      pinMatchesPeer: pin === peer.caPin,
      issuedLeaf: cert.checkIssued(ca) && cert.verify(ca.publicKey),
    },
  };
}

/** `mosaic federation peer inspect <name>` — the decoded client certificate of a peer. */
export function peerInspectCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  return new Command('inspect')
    .description('decode the peer\'s client certificate: subject, serial, validity, both Mosaic extensions, the pinned CA')
    .argument('<name>', 'the peer\'s local name')
    .addHelpText(
      'after',
      `
Examples:
  mosaic federation peer inspect work
  mosaic federation peer inspect work --json | jq -r .certPem | openssl x509 -noout -text

--json prints the admin API's body ({"name","certPem","caCertPem"}: public parts only, never
the key) plus "decoded", the fields shown above.`,
    )
    .action((name: string, _flags: unknown, c: Command) =>
      run(async () => {
        const g = c.optsWithGlobals<GlobalOptions>();
        const out = outputOptions(g);
        const admin = adminClient(g, version);
        const [peer, body] = await explained({ peer: name }, () => Promise.all([admin.getPeer(name), admin.peerCertificate(name)]));
        const decoded = await inspectCertificate(peer, body);
        printResult(out, { ...body, decoded }, () => renderInspect(peer, decoded, { now: Date.now(), color: out.color }));
        return ExitCode.ok;
      }),
    );
}
