/**
 * A local stand-in for Step-CA (no step-ca binary can be installed here): an HTTPS server with
 * its own root and intermediate that implements the documented `/provisioners`, `/root/:sha`,
 * `/1.0/sign`, `/1.0/revoke` and `/crl`, and verifies one-time tokens.
 *
 * Checks Step-CA's JWK provisioner also makes: ES256 signature against the provisioner's public
 * JWK found by the header `kid`, `iss` = provisioner name, `aud` = `<url>/1.0/sign` (or
 * `/1.0/revoke`; Step-CA accepts any audience built from a name in ca.json `dnsNames`),
 * `nbf`/`iat`/`exp` with leeway, `jti` used once, and the CSR's CN and SANs matching `sub` and
 * `sans` (an empty CN or no SANs pass, as in Step-CA).
 *
 * Checks that are STRICTER than Step-CA (it does not make them; the gateway's tokens pass both
 * ways): `sha` = the root fingerprint, a token lifetime of at most 5 minutes, and on
 * `/1.0/revoke` a token `sub` equal to the serial.
 *
 * Certificates are shaped by the provisioner's X.509 template (infra/step-ca/mosaic.tpl) through
 * a minimal interpreter of Go text/template: `{{ if PATH }}`, `{{ else }}`, `{{ end }}`,
 * `{{ toJson PATH }}`, comments and the `-` trim markers — what that template uses, no more.
 * Provisioner keys are JWEs (PBES2-HS256+A128KW, 100 000 iterations) as `step ca provisioner add`
 * writes them; `defaultTLSCertDuration` is 720h and `maxTLSCertDuration` 720h.
 */
import { createHash, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpsRequest, type Server } from 'node:https';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CompactEncrypt, decodeProtectedHeader, exportJWK, generateKeyPair as joseKeyPair, jwtVerify, SignJWT, type JWK, type JWTPayload } from 'jose';
import { buildCrl, exportPrivateKeyPem, generateKeyPair, parseCsr, type RevocationReason, type RootCa } from '@mosaic/federation-core';
import { makeCustomCert, makeTestCa, rawExtension } from '@mosaic/federation-core/test-support/pki';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The template operators install (infra/step-ca/mosaic.tpl). */
export const MOSAIC_TEMPLATE_FILE = resolve(HERE, '../../../../infra/step-ca/mosaic.tpl');
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const LEEWAY_S = 60;

/** A provisioner of the fake CA, with its private key (for tests that forge tokens). */
export interface FakeProvisioner {
  readonly name: string;
  readonly kid: string;
  readonly privateKey: webcrypto.CryptoKey;
  readonly publicJwk: JWK;
  readonly password: string;
}

/** A token's claims, for {@link FakeStepCa.token} (defaults: a valid sign token). */
export interface FakeTokenOptions {
  provisioner?: FakeProvisioner;
  /** Sign with another key while keeping the provisioner's kid (a forged token). */
  signWith?: webcrypto.CryptoKey;
  kid?: string;
  iss?: string;
  aud?: string;
  sub: string;
  sans?: string[];
  sha?: string;
  iat?: number;
  nbf?: number;
  exp?: number;
  jti?: string;
  extra?: Record<string, unknown>;
}

/** What the fake CA signed: one entry per certificate. */
export interface FakeIssued {
  readonly serialHex: string;
  readonly provisioner: string;
  readonly certPem: string;
}

export interface FakeStepCa {
  readonly url: string;
  readonly rootPem: string;
  /** The current intermediate (it signs leaves and the CRL); {@link rotateIntermediate} replaces it. */
  readonly intermediatePem: string;
  /**
   * Replace the intermediate with a new one (new key) under the same root, as an operator
   * rotating Step-CA's intermediate does: later certificates and CRLs are signed by it.
   */
  rotateIntermediate(): Promise<void>;
  /** Files for STEP_CA_ROOT and STEP_CA_PROVISIONER_PASSWORD_FILE. */
  readonly rootFile: string;
  readonly passwordFile: string;
  /** Hex SHA-256 of the root's DER (the `sha` claim). */
  readonly rootSha: string;
  /** The Mosaic provisioner (template mosaic.tpl) and another JWK provisioner of the same CA (default template). */
  readonly mosaic: FakeProvisioner;
  readonly other: FakeProvisioner;
  readonly issued: FakeIssued[];
  /** Serials (lowercase hex) revoked through `/1.0/revoke`, with the reason code. */
  readonly revoked: Map<string, number>;
  /** Requests seen, `METHOD path` (to assert that /1.0/revoke was called). */
  readonly requests: string[];
  /** How it answers from now on (mutable). */
  readonly behaviour: FakeBehaviour;
  /** Drop the connections of the `/1.0/revoke` requests left hanging (their clients see a reset). */
  releaseHanging(): void;
  /** The claims of the last token `/1.0/sign` accepted. */
  readonly lastToken: Record<string, unknown> | undefined;
  /** Environment for `--ca step-ca`. */
  env(): NodeJS.ProcessEnv;
  /** A one-time token signed like `step ca token` would (tests change claims to forge one). */
  token(options: FakeTokenOptions): Promise<string>;
  /** POST JSON to the fake over HTTPS (verified against its root); the answer's status and JSON. */
  post(path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  close(): Promise<void>;
}

/** Options of {@link startFakeStepCa}. */
export interface FakeStepCaOptions {
  /** The Mosaic provisioner's name (default `mosaic`). */
  provisionerName?: string;
  /** The template of the Mosaic provisioner (default infra/step-ca/mosaic.tpl). */
  templateText?: string;
  /** Give the other provisioner the Mosaic template too (a look-alike only its serial betrays). */
  otherUsesMosaicTemplate?: boolean;
  /** defaultTLSCertDuration in hours (default 720). */
  defaultDurationHours?: number;
  /** List only the Mosaic provisioner at `/provisioners` (a CA dedicated to Mosaic); `other` is then unknown to it. */
  soleProvisioner?: boolean;
  /** PBES2 iterations of the Mosaic provisioner's encrypted key (default 100 000, step-cli's). */
  p2c?: number;
}

/** How the fake answers, changeable while it runs (tests of failures). */
export interface FakeBehaviour {
  /** `/1.0/revoke`: answer normally, refuse with HTTP 500, or never answer. */
  revoke: 'ok' | 'fail' | 'hang';
  /** Wait this long before answering `/1.0/sign` (ms). */
  signDelayMs: number;
  /** `/1.0/sign`: answer normally, or refuse with HTTP 500 and this message. */
  signFailure?: string;
  /** The serial (hex) of the next certificate signed (a template may set serials; sibling CAs have their own serial spaces). */
  nextSerialHex?: string;
  /** A template for the other provisioner from now on (e.g. {@link FAKE_DEFAULT_TEMPLATE}: no Mosaic extensions). */
  otherTemplate?: string;
}

function der(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(parts);
  const len = body.length;
  const head = len < 0x80 ? [len] : len < 0x100 ? [0x81, len] : [0x82, len >> 8, len & 0xff];
  return Buffer.concat([Buffer.from([tag, ...head]), body]);
}

function oidDer(dotted: string): Uint8Array {
  const parts = dotted.split('.').map(Number);
  const bytes = [40 * parts[0]! + parts[1]!];
  for (const n of parts.slice(2)) {
    const chunk = [n & 0x7f];
    for (let v = n >>> 7; v > 0; v >>>= 7) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return der(0x06, Uint8Array.from(bytes));
}

const KU_BITS: Record<string, number> = { digitalSignature: 0, keyEncipherment: 2, keyAgreement: 4, certSign: 5, crlSign: 6 };
const EKU_OIDS: Record<string, string> = { serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2' };

function keyUsage(names: string[]): Uint8Array {
  let bits = 0;
  for (const n of names) {
    const bit = KU_BITS[n];
    if (bit === undefined) throw new Error(`keyUsage ${n} is not supported by the fake`);
    bits |= 0x80 >> bit;
  }
  let unused = 0;
  while (unused < 7 && (bits & (1 << unused)) === 0) unused += 1;
  return der(0x03, Uint8Array.of(unused, bits));
}

function sansDer(sans: Array<{ type: string; value: string }>): Uint8Array {
  return der(
    0x30,
    ...sans.map((s) => {
      if (s.type === 'dns') return der(0x82, Buffer.from(s.value, 'ascii'));
      if (s.type === 'ip') {
        const v4 = s.value.split('.').map(Number);
        if (v4.length === 4) return der(0x87, Uint8Array.from(v4));
        return der(0x87, ipv6Bytes(s.value));
      }
      throw new Error(`SAN type ${s.type} is not supported by the fake`);
    }),
  );
}

function ipv6Bytes(text: string): Uint8Array {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const a = head ? head.split(':') : [];
  const b = tail ? tail.split(':') : [];
  const groups = tail === undefined ? a : [...a, ...Array<string>(8 - a.length - b.length).fill('0'), ...b];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

/** `dns`/`ip` SANs as Step-CA's `.SANs` lists them. */
function splitSans(sans: string[]): Array<{ type: string; value: string }> {
  return sans.map((v) => (/^\d+\.\d+\.\d+\.\d+$/.test(v) || v.includes(':') ? { type: 'ip', value: v } : { type: 'dns', value: v }));
}

// --- a minimal Go text/template interpreter (what infra/step-ca/mosaic.tpl uses) ------------

function lookup(data: unknown, path: string): unknown {
  if (!path.startsWith('.')) throw new Error(`template: unsupported expression ${path}`);
  let value: unknown = data;
  for (const key of path.slice(1).split('.').filter(Boolean)) {
    value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  }
  return value;
}

function truthy(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

/** Render the template subset: if/else/end on a path, `toJson PATH`, comments, trim markers. */
export function renderTemplate(text: string, data: unknown): string {
  const re = /\{\{(-?)\s*([\s\S]*?)\s*(-?)\}\}/g;
  type Node = { kind: 'text'; text: string } | { kind: 'action'; body: string };
  const nodes: Node[] = [];
  let last = 0;
  let trimNext = false;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    let chunk = text.slice(last, m.index);
    if (trimNext) chunk = chunk.replace(/^\s+/, '');
    if (m[1] === '-') chunk = chunk.replace(/\s+$/, '');
    nodes.push({ kind: 'text', text: chunk });
    nodes.push({ kind: 'action', body: m[2]! });
    trimNext = m[3] === '-';
    last = m.index + m[0].length;
  }
  let tail = text.slice(last);
  if (trimNext) tail = tail.replace(/^\s+/, '');
  nodes.push({ kind: 'text', text: tail });

  let out = '';
  // a stack of "is this branch emitting" flags
  const stack: Array<{ emitting: boolean; taken: boolean; parent: boolean }> = [];
  const emitting = () => stack.every((s) => s.emitting);
  for (const node of nodes) {
    if (node.kind === 'text') {
      if (emitting()) out += node.text;
      continue;
    }
    const body = node.body;
    if (body.startsWith('/*')) continue;
    const ifMatch = /^if\s+(\S+)$/.exec(body);
    if (ifMatch) {
      const parent = emitting();
      const cond = parent && truthy(lookup(data, ifMatch[1]!));
      stack.push({ emitting: cond, taken: cond, parent });
    } else if (body === 'else') {
      const top = stack.at(-1);
      if (!top) throw new Error('template: else without if');
      top.emitting = top.parent && !top.taken;
    } else if (body === 'end') {
      if (!stack.pop()) throw new Error('template: end without if');
    } else {
      const json = /^toJson\s+(\S+)$/.exec(body);
      if (!json) throw new Error(`template: unsupported action {{ ${body} }}`);
      if (emitting()) out += JSON.stringify(lookup(data, json[1]!) ?? null);
    }
  }
  if (stack.length > 0) throw new Error('template: if without end');
  return out;
}

/** Step-CA's default leaf template (for other provisioners). */
export const FAKE_DEFAULT_TEMPLATE = `{
  "subject": {{ toJson .Subject }},
  "sans": {{ toJson .SANs }},
  "keyUsage": ["digitalSignature"],
  "extKeyUsage": ["serverAuth", "clientAuth"]
}`;

async function makeProvisioner(name: string, p2c = 100_000): Promise<FakeProvisioner & { encryptedKey: string }> {
  const { publicKey, privateKey } = await joseKeyPair('ES256', { extractable: true });
  const pub = await exportJWK(publicKey);
  const kid = createHash('sha256').update(JSON.stringify({ crv: pub.crv, kty: pub.kty, x: pub.x, y: pub.y })).digest('base64url');
  const priv = { ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' };
  const password = randomBytes(18).toString('base64url');
  // As `step ca provisioner add --create` does: the private JWK encrypted under the password,
  // PBES2-HS256+A128KW with 100 000 iterations.
  const encryptedKey = await new CompactEncrypt(Buffer.from(JSON.stringify(priv)))
    .setProtectedHeader({ alg: 'PBES2-HS256+A128KW', enc: 'A256GCM', cty: 'jwk+json' })
    .setKeyManagementParameters({ p2c, p2s: randomBytes(16) })
    .encrypt(Buffer.from(password));
  return { name, kid, privateKey: privateKey, publicJwk: { ...pub, kid, alg: 'ES256', use: 'sig' }, password, encryptedKey };
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Start the fake Step-CA on a free loopback port.
 * @example
 * const ca = await startFakeStepCa();
 * await startGateway({ …, ca: 'step-ca', env: { ...env, ...ca.env() } });
 */
export async function startFakeStepCa(options: FakeStepCaOptions = {}): Promise<FakeStepCa> {
  const dir = mkdtempSync(join(tmpdir(), 'fake-step-ca-'));
  // makeTestCa's root allows no intermediate (pathLen 0): a self-signed root without a path
  // length limit is made instead, as `step ca init` does.
  const caExtensions = () => [rawExtension('2.5.29.19', true, der(0x30, Uint8Array.of(0x01, 0x01, 0xff))), rawExtension('2.5.29.15', true, keyUsage(['certSign', 'crlSign']))];
  const seed = await makeTestCa({ commonName: 'unused' });
  const selfSigned = await makeCustomCert(seed, { subjectCn: 'Fake Step-CA Root CA', selfSigned: true, notAfter: new Date(Date.now() + 3650 * DAY_MS), extensions: caExtensions() });
  const root = { ...seed, certPem: selfSigned.certPem, keys: selfSigned.keys } as RootCa;
  const makeIntermediate = async () => {
    const intermediateKeys = await generateKeyPair();
    // a CRL issuer needs a subjectKeyIdentifier (SHA-1 of the public key, RFC 5280 §4.2.1.2)
    const spki = new Uint8Array(await webcrypto.subtle.exportKey('spki', intermediateKeys.publicKey));
    const ski = createHash('sha1').update(spki.subarray(spki.length - 65)).digest();
    const made = await makeCustomCert(root, {
      subjectCn: 'Fake Step-CA Intermediate CA',
      keys: intermediateKeys,
      notAfter: new Date(Date.now() + 3650 * DAY_MS),
      extensions: [...caExtensions(), rawExtension('2.5.29.14', false, der(0x04, ski))],
    });
    return { ...made, ski };
  };
  let intermediate = await makeIntermediate();
  let issuerCa = { ...root, certPem: intermediate.certPem, keys: intermediate.keys } as RootCa;
  const rootDer = new X509Certificate(root.certPem).raw;
  const rootSha = createHash('sha256').update(rootDer).digest('hex');
  const throwaway = await generateKeyPair();

  const behaviour: FakeBehaviour = { revoke: 'ok', signDelayMs: 0 };
  // Step-CA (Go's x509) writes the authorityKeyIdentifier of every leaf: with intermediates
  // of the same name (a rotation keeps the name), it is how a verifier tells them apart.
  const leaf = async (publicKey: webcrypto.CryptoKey, cn: string, exts: ReturnType<typeof rawExtension>[], notBefore: Date, notAfter: Date) =>
    makeCustomCert(issuerCa, {
      subjectCn: cn,
      keys: { publicKey, privateKey: throwaway.privateKey },
      extensions: [...exts, rawExtension('2.5.29.35', false, der(0x30, der(0x80, intermediate.ski)))],
      notBefore,
      notAfter,
      ...(serialOnce() ?? {}),
    });
  const serialOnce = () => {
    const serialNumber = behaviour.nextSerialHex;
    behaviour.nextSerialHex = undefined;
    return serialNumber === undefined ? undefined : { serialNumber };
  };

  const tlsKeys = await generateKeyPair();
  const tls = await leaf(tlsKeys.publicKey, 'localhost', [
    rawExtension('2.5.29.15', true, keyUsage(['digitalSignature'])),
    rawExtension('2.5.29.37', false, der(0x30, oidDer(EKU_OIDS.serverAuth!))),
    rawExtension('2.5.29.17', false, sansDer([{ type: 'dns', value: 'localhost' }, { type: 'ip', value: '127.0.0.1' }])),
  ], new Date(Date.now() - 60_000), new Date(Date.now() + 30 * DAY_MS));
  const tlsKeyPem = await exportPrivateKeyPem(tlsKeys.privateKey);

  const mosaic = await makeProvisioner(options.provisionerName ?? 'mosaic', options.p2c);
  const other = await makeProvisioner('other-team');
  const templates = new Map<string, string>([
    [mosaic.name, options.templateText ?? readFileSync(MOSAIC_TEMPLATE_FILE, 'utf8')],
    [other.name, options.otherUsesMosaicTemplate ? readFileSync(MOSAIC_TEMPLATE_FILE, 'utf8') : FAKE_DEFAULT_TEMPLATE],
  ]);
  const provisioners = options.soleProvisioner ? [mosaic] : [mosaic, other];
  const hanging = new Set<ServerResponse>();
  const defaultMs = (options.defaultDurationHours ?? 720) * HOUR_MS;
  const maxMs = 720 * HOUR_MS;
  const usedJti = new Set<string>();
  const issued: FakeIssued[] = [];
  const revoked = new Map<string, number>();
  const revokedAt = new Map<string, Date>();
  const requests: string[] = [];
  let crlNumber = 0n;
  let lastToken: Record<string, unknown> | undefined;
  let url = '';

  const verifyToken = async (ott: unknown, audPath: string): Promise<{ payload: JWTPayload & Record<string, unknown>; provisioner: FakeProvisioner }> => {
    if (typeof ott !== 'string') throw new Refusal(401, 'missing ott');
    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(ott).kid;
    } catch {
      throw new Refusal(401, 'error parsing token');
    }
    const provisioner = provisioners.find((p) => p.kid === kid);
    if (!provisioner) throw new Refusal(401, 'provisioner not found or invalid audience');
    let payload: JWTPayload & Record<string, unknown>;
    try {
      ({ payload } = (await jwtVerify(ott, provisioner.publicJwk, { algorithms: ['ES256'], issuer: provisioner.name, audience: `${url}${audPath}`, clockTolerance: LEEWAY_S, requiredClaims: ['exp', 'nbf', 'iat', 'sub', 'jti'] })) as { payload: JWTPayload & Record<string, unknown> });
    } catch (err) {
      throw new Refusal(401, `invalid token: ${(err as Error).message}`);
    }
    const now = Math.floor(Date.now() / 1000);
    if (payload.iat! > now + LEEWAY_S) throw new Refusal(401, 'token issued in the future');
    if (payload.exp! - payload.nbf! > 5 * 60 + LEEWAY_S || now - payload.iat! > 5 * 60 + LEEWAY_S) throw new Refusal(401, 'token validity is too long');
    if (payload.sha !== rootSha) throw new Refusal(401, 'invalid token: sha claim is not the root fingerprint');
    if (usedJti.has(payload.jti!)) throw new Refusal(401, 'token already used');
    usedJti.add(payload.jti!);
    return { payload, provisioner };
  };

  const sign = async (body: Record<string, unknown>) => {
    const { payload, provisioner } = await verifyToken(body.ott, '/1.0/sign');
    lastToken = payload;
    if (typeof body.csr !== 'string') throw new Refusal(400, 'missing csr');
    let csr: ReturnType<typeof parseCsr>;
    try {
      csr = parseCsr(body.csr);
    } catch {
      throw new Refusal(400, 'invalid certificate request');
    }
    const sub = payload.sub!;
    const sans = Array.isArray(payload.sans) && payload.sans.length > 0 ? (payload.sans as string[]) : [sub];
    const cn = /^CN=(.*)$/.exec(csr.requestedSubject)?.[1];
    if (csr.requestedSubject !== '' && cn !== sub) throw new Refusal(403, `certificate request does not contain the valid common name - got ${cn ?? csr.requestedSubject}, want ${sub}`);
    if (csr.requestedExtensions.includes('2.5.29.17')) {
      const csrSans = csrSubjectAltNames(body.csr);
      if ([...csrSans].sort().join(',') !== [...sans].sort().join(',')) throw new Refusal(403, `certificate request does not contain the valid DNS names - got ${csrSans.join(',')}, want ${sans.join(',')}`);
    }
    const now = Date.now();
    const notBefore = new Date(now - 60_000);
    let notAfter = new Date(now + defaultMs);
    if (typeof body.notAfter === 'string') {
      notAfter = new Date(body.notAfter);
      if (Number.isNaN(notAfter.getTime()) || notAfter.getTime() - now > maxMs) throw new Refusal(403, 'requested duration is more than the authorized maximum certificate duration of 720h');
    }
    const data = {
      Token: payload,
      Subject: { CommonName: sub },
      SANs: splitSans(sans),
      Insecure: { CR: { Subject: { CommonName: cn ?? '' } } },
    };
    let shaped: Record<string, unknown>;
    try {
      const template = provisioner === other && behaviour.otherTemplate !== undefined ? behaviour.otherTemplate : templates.get(provisioner.name)!;
      shaped = JSON.parse(renderTemplate(template, data)) as Record<string, unknown>;
    } catch (err) {
      throw new Refusal(500, `error applying the certificate template: ${(err as Error).message}`);
    }
    const exts: ReturnType<typeof rawExtension>[] = [];
    const ku = shaped.keyUsage as string[] | undefined;
    if (ku?.length) exts.push(rawExtension('2.5.29.15', true, keyUsage(ku)));
    const eku = shaped.extKeyUsage as string[] | undefined;
    if (eku?.length) exts.push(rawExtension('2.5.29.37', false, der(0x30, ...eku.map((e) => oidDer(EKU_OIDS[e]!)))));
    const bc = shaped.basicConstraints as { isCA?: boolean } | undefined;
    if (bc) exts.push(rawExtension('2.5.29.19', true, bc.isCA ? der(0x30, Uint8Array.of(0x01, 0x01, 0xff)) : der(0x30)));
    const shapedSans = shaped.sans as Array<{ type: string; value: string }> | undefined;
    if (shapedSans?.length) exts.push(rawExtension('2.5.29.17', false, sansDer(shapedSans)));
    for (const e of (shaped.extensions as Array<{ id: string; critical?: boolean; value: string }> | undefined) ?? []) {
      exts.push(rawExtension(e.id, e.critical === true, Buffer.from(e.value, 'base64')));
    }
    const subject = shaped.subject as { commonName?: string } | undefined;
    const publicKey = (await webcrypto.subtle.importKey('spki', csr.spki, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']));
    const cert = await leaf(publicKey, subject?.commonName ?? sub, exts, notBefore, notAfter);
    const serialHex = new X509Certificate(cert.certPem).serialNumber.toLowerCase().replace(/^0+(?=.)/, '');
    issued.push({ serialHex, provisioner: provisioner.name, certPem: cert.certPem });
    return { status: 201, body: { crt: cert.certPem, ca: intermediate.certPem, certChain: [cert.certPem, intermediate.certPem] } };
  };

  const revoke = async (body: Record<string, unknown>) => {
    const { payload } = await verifyToken(body.ott, '/1.0/revoke');
    if (typeof body.serial !== 'string' || !/^\d+$/.test(body.serial)) throw new Refusal(400, 'missing or invalid serial');
    if (payload.sub !== body.serial) throw new Refusal(401, 'token subject does not match the serial number');
    if (body.passive === false) throw new Refusal(501, 'non-passive revocation not implemented');
    const serialHex = BigInt(body.serial).toString(16);
    if (revoked.has(serialHex)) throw new Refusal(400, `certificate with serial number ${body.serial} is already revoked`);
    revoked.set(serialHex, typeof body.reasonCode === 'number' ? body.reasonCode : 0);
    revokedAt.set(serialHex, new Date());
    return { status: 200, body: { status: 'ok' } };
  };

  const REASONS: Record<number, RevocationReason> = { 1: 'keyCompromise', 3: 'affiliationChanged', 4: 'superseded', 5: 'cessationOfOperation' };
  const crl = async () => {
    crlNumber += 1n;
    const built = await buildCrl({
      ca: { cert: new Uint8Array(intermediate.certDer), keys: intermediate.keys },
      revoked: [...revoked].map(([serialHex, code]) => ({ serialHex, revokedAt: revokedAt.get(serialHex)!, ...(REASONS[code] ? { reason: REASONS[code] } : {}) })),
      crlNumber,
      nextUpdate: new Date(Date.now() + DAY_MS),
    });
    return built.der;
  };

  const server: Server = createServer({ cert: `${tls.certPem}${intermediate.certPem}`, key: tlsKeyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!;
      requests.push(`${req.method} ${path}`);
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
      void (async () => {
        try {
          let body: Record<string, unknown> = {};
          if (req.method === 'POST') {
            try {
              body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
            } catch {
              throw new Refusal(400, 'error parsing request body');
            }
          }
          if (req.method === 'GET' && path === '/provisioners') {
            send(200, { provisioners: provisioners.map((p) => ({ type: 'JWK', name: p.name, key: p.publicJwk, encryptedKey: p.encryptedKey, claims: { defaultTLSCertDuration: p === mosaic ? `${defaultMs / HOUR_MS}h` : '24h', maxTLSCertDuration: '720h' } })), nextCursor: '' });
          } else if (req.method === 'GET' && path.startsWith('/root/')) {
            if (path.slice('/root/'.length).toLowerCase() === rootSha) send(200, { ca: root.certPem });
            else send(404, { status: 404, message: 'root certificate not found' });
          } else if (req.method === 'GET' && path === '/crl') {
            const crlDer = await crl();
            res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(Buffer.from(crlDer));
          } else if (req.method === 'POST' && path === '/1.0/sign') {
            if (behaviour.signDelayMs > 0) await new Promise((ok) => setTimeout(ok, behaviour.signDelayMs));
            if (behaviour.signFailure !== undefined) throw new Refusal(500, behaviour.signFailure);
            const out = await sign(body);
            send(out.status, out.body);
          } else if (req.method === 'POST' && path === '/1.0/revoke') {
            if (behaviour.revoke === 'hang') {
              hanging.add(res);
              return;
            }
            if (behaviour.revoke === 'fail') throw new Refusal(500, 'the database is not available');
            const out = await revoke(body);
            send(out.status, out.body);
          } else {
            send(404, { status: 404, message: 'not found' });
          }
        } catch (err) {
          if (err instanceof Refusal) send(err.status, { status: err.status, message: err.message });
          else send(500, { status: 500, message: `internal error: ${(err as Error).message}` });
        }
      })();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as { port: number }).port;
  url = `https://localhost:${port}`;
  const rootFile = join(dir, 'root_ca.crt');
  const passwordFile = join(dir, 'password.txt');
  writeFileSync(rootFile, root.certPem, { mode: 0o600 });
  writeFileSync(passwordFile, `${mosaic.password}\n`, { mode: 0o600 });

  const fake: FakeStepCa = {
    url,
    rootPem: root.certPem,
    get intermediatePem() {
      return intermediate.certPem;
    },
    async rotateIntermediate() {
      intermediate = await makeIntermediate();
      issuerCa = { ...root, certPem: intermediate.certPem, keys: intermediate.keys };
    },
    rootFile,
    passwordFile,
    rootSha,
    mosaic,
    other,
    issued,
    revoked,
    requests,
    behaviour,
    releaseHanging() {
      for (const r of hanging) r.destroy();
      hanging.clear();
    },
    get lastToken() {
      return lastToken;
    },
    env: () => ({ STEP_CA_URL: url, STEP_CA_ROOT: rootFile, STEP_CA_PROVISIONER: mosaic.name, STEP_CA_PROVISIONER_PASSWORD_FILE: passwordFile }),
    async token(o) {
      const p = o.provisioner ?? mosaic;
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ sans: o.sans ?? [o.sub], sha: o.sha ?? rootSha, ...(o.extra ?? {}) })
        .setProtectedHeader({ alg: 'ES256', kid: o.kid ?? p.kid, typ: 'JWT' })
        .setIssuer(o.iss ?? p.name)
        .setAudience(o.aud ?? `${url}/1.0/sign`)
        .setSubject(o.sub)
        .setIssuedAt(o.iat ?? now)
        .setNotBefore(o.nbf ?? now)
        .setExpirationTime(o.exp ?? now + 300)
        .setJti(o.jti ?? randomBytes(16).toString('hex'))
        .sign(o.signWith ?? p.privateKey);
    },
    async post(path, body) {
      const res = await fetchJson(url, root.certPem, path, body);
      return res;
    },
    close: () =>
      new Promise<void>((ok) => {
        for (const r of hanging) r.destroy();
        server.closeAllConnections();
        server.close(() => {
          rmSync(dir, { recursive: true, force: true });
          ok();
        });
      }),
  };
  return fake;
}

/** The DNS/IP SANs a CSR asks for (openssl reads them: this is a test helper). */
function csrSubjectAltNames(csrPem: string): string[] {
  const out = spawnSync('openssl', ['req', '-noout', '-ext', 'subjectAltName'], { input: csrPem, encoding: 'utf8' });
  const text = out.stdout ?? '';
  return [...text.matchAll(/(?:DNS|IP Address):([^,\s]+)/g)].map((m) => m[1]!);
}

function fetchJson(base: string, caPem: string, path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((ok, fail) => {
    const payload = JSON.stringify(body);
    const req = httpsRequest(new URL(base + path), { method: 'POST', ca: caPem, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> }));
    });
    req.on('error', fail);
    req.end(payload);
  });
}
