/**
 * The admin routes the CLI's `peer add` wizard and `peer inspect` stand on, against real
 * gateways: the preview names the serving gateway (the wizard's default peer name), and
 * `GET /api/admin/peers/:name/certificate` hands out the public half of a peer's credentials
 * — the client certificate and the pinned CA — never the key.
 */
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMosaicIdentity, peerCertificateSchema, peerPreviewSchema, spkiPin } from '@mosaic/federation-core';
import { startFederation, type FederationHarness, type PeerLink } from '../test-support/federation.js';

let h: FederationHarness;
let link: PeerLink;

beforeAll(async () => {
  h = await startFederation();
  link = await h.link({ subjectUserId: 'alice', scope: { resources: ['tasks'] } });
}, 60_000);

afterAll(async () => {
  await h.close();
});

describe('admin API for peer add and peer inspect', () => {
  it("preview: the CA's pin, the host, and the serving gateway's name from its CA subject", async () => {
    const { enrollmentUrl, caPin } = await h.work.admin.createToken(link.grant.id, { reenroll: true });
    const preview = peerPreviewSchema.parse(await link.home.admin.previewPeer(enrollmentUrl));
    expect(preview).toEqual({ caPin, serverName: new URL(enrollmentUrl).hostname, gatewayName: 'work' });
  });

  it('GET /api/admin/peers/:name/certificate: the current certificate and the pinned CA, public parts only', async () => {
    const body = peerCertificateSchema.parse(await link.home.admin.peerCertificate(link.peer.name));
    expect(Object.keys(body).sort()).toEqual(['caCertPem', 'certPem', 'name']);
    expect(JSON.stringify(body)).not.toMatch(/PRIVATE KEY|sealed/i);
    const cert = new X509Certificate(body.certPem);
    expect(cert.serialNumber.toLowerCase().replace(/^0+/, '')).toBe(link.peer.certSerial.replace(/^0+/, ''));
    expect(decodeMosaicIdentity(body.certPem)).toEqual({ grantId: link.grant.id, subjectUserId: 'alice' });
    expect(spkiPin(body.caCertPem)).toBe(link.peer.caPin);
    expect(cert.checkIssued(new X509Certificate(body.caCertPem))).toBe(true);
    await expect(link.home.admin.peerCertificate('nope')).rejects.toMatchObject({ status: 404, code: 'PEER_NOT_FOUND' });
  });
});
