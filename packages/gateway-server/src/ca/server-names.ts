/**
 * The names in the federation listener's certificate: the public URL's host (what peers dial),
 * plus `localhost`, `127.0.0.1` and `::1` for local tools and health checks, plus any extra
 * hosts. They are compared as a canonical, sorted list of `dns:<name>` / `ip:<address>`, so a
 * change of `--public-url` is seen as a change of names and triggers a new certificate.
 */
import { isIP } from 'node:net';
import { ServerNameInvalid } from './errors.js';

/** Names every server certificate carries besides the public host. */
export const LOCAL_SERVER_NAMES: readonly string[] = ['localhost', '127.0.0.1', '::1'];

/** Longest subject CN (X.520 ub-common-name). */
const MAX_CN = 64;

/** The names to issue for, in the forms `issueServerCertificate` takes. */
export interface ServerNames {
  dnsNames: string[];
  ipAddresses: string[];
  /** Subject CN: the public host when it fits in a CN; clients match SANs anyway. */
  commonName: string;
  /** Canonical sorted `dns:` / `ip:` list, stored with the certificate and compared on reuse. */
  sans: string[];
}

function canonicalIp(value: string): string | undefined {
  const bare = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
  const family = isIP(bare);
  if (family === 4) return bare;
  if (family !== 6) return undefined;
  try {
    // URL parsing canonicalises IPv6 (compression, case) and refuses zone ids.
    return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
}

function canonicalDns(value: string, what: string): string {
  let name = value.toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name === '' || name.length > 253) throw new ServerNameInvalid(`${what} is not a host name`);
  if (name.includes('*')) throw new ServerNameInvalid(`${what}: wildcard names are not issued`);
  if (!name.split('.').every((label) => /^(?!-)[a-z0-9-]{1,63}(?<!-)$/.test(label))) {
    throw new ServerNameInvalid(`${what} must be letters, digits and hyphens in dot-separated labels (IDNs in their xn-- form)`);
  }
  return name;
}

/** The public URL's host, as the URL parser canonicalises it (IDN to xn--, IPv4 shorthand expanded). */
export function publicUrlHost(publicUrl: string): string {
  let url: URL;
  try {
    url = new URL(publicUrl);
  } catch {
    throw new ServerNameInvalid('the public URL is not a URL');
  }
  if (url.protocol !== 'https:') throw new ServerNameInvalid(`the public URL must be https://…, not ${url.protocol}//…`);
  if (url.username !== '' || url.password !== '') throw new ServerNameInvalid('the public URL must not carry credentials');
  if (url.hostname === '') throw new ServerNameInvalid('the public URL has no host');
  return url.hostname;
}

/**
 * Compute the certificate names for a public URL and extra hosts.
 * @throws CA_SERVER_NAME_INVALID
 * @example
 * serverNames('https://gw.example.org:8443', ['10.0.0.5']).sans
 * // ['dns:gw.example.org', 'dns:localhost', 'ip:10.0.0.5', 'ip:127.0.0.1', 'ip:::1']
 */
export function serverNames(publicUrl: string, extraHosts: readonly string[] = []): ServerNames {
  const host = publicUrlHost(publicUrl);
  const dns = new Set<string>();
  const ips = new Set<string>();
  const add = (value: string, what: string) => {
    if (typeof value !== 'string' || value.trim() === '') throw new ServerNameInvalid(`${what} is empty`);
    const ip = canonicalIp(value.trim());
    if (ip !== undefined) ips.add(ip);
    else if (value.includes(':') || value.includes('/')) throw new ServerNameInvalid(`${what} ${JSON.stringify(value.slice(0, 100))} is neither a host name nor an IP address`);
    else dns.add(canonicalDns(value.trim(), what));
  };
  add(host, 'the public URL host');
  const publicHost = [...dns, ...ips][0]!;
  for (const name of LOCAL_SERVER_NAMES) add(name, 'a local name');
  for (const extra of extraHosts) add(extra, 'an extra host');
  const dnsNames = [...dns];
  const ipAddresses = [...ips];
  const sans = [...dnsNames.map((n) => `dns:${n}`), ...ipAddresses.map((a) => `ip:${a}`)].sort();
  return { dnsNames, ipAddresses, commonName: publicHost.length <= MAX_CN ? publicHost : 'Mosaic Federation listener', sans };
}

/** Same names, whatever the order. */
export function sameSans(a: readonly string[], b: readonly string[]): boolean {
  const x = [...a].sort();
  const y = [...b].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}
