/**
 * Where a webhook may be sent. Server-side request forgery is the risk: a room owner must not
 * make Parley call its own network (a database, a cloud metadata service, an admin port). So an
 * endpoint is an https URL on the default or a high port, without credentials, whose host is
 * not an address of a private, loopback, link-local or otherwise special network — checked when
 * it is registered and again at every connection, on the addresses the name resolves to then
 * (a name that resolved to a public address once may resolve to a private one later).
 * WEBHOOK_ALLOW_PRIVATE lifts the address rule (and allows http) for deployments whose
 * receivers run on their own network.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { validationFailed } from '../errors.js';

const MAX_URL_LENGTH = 2_000;

const special = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  special.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  special.addSubnet(net, prefix, 'ipv6');
}

/** An address no webhook may reach unless private endpoints are allowed. */
export function isSpecialAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  // IPv4 written as IPv6 (mapped ::ffff:a.b.c.d, or NAT64 64:ff9b::a.b.c.d): judged as the IPv4 it is.
  const embedded = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (family === 6 && embedded !== undefined && isIP(embedded) === 4) return special.check(embedded, 'ipv4');
  // Node's BlockList matches IPv4 addresses against IPv4-mapped IPv6 rules too, so there are none:
  // mapped addresses are judged above; other mapped forms (hex) are special.
  if (family === 6 && /^(?:::ffff:|64:ff9b::)/i.test(address)) return true;
  return special.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** The endpoint URL, normalised, or validation_failed saying what is wrong with it. */
export function checkWebhookUrl(raw: string, allowPrivate: boolean): string {
  if (raw.length > MAX_URL_LENGTH) throw validationFailed(`A webhook URL is at most ${MAX_URL_LENGTH} characters.`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw validationFailed('The webhook URL is not a URL.');
  }
  if (url.protocol !== 'https:' && !(allowPrivate && url.protocol === 'http:')) throw validationFailed('A webhook URL must use https.');
  if (url.username !== '' || url.password !== '') throw validationFailed('A webhook URL carries no credentials: verify the signature instead.');
  if (url.hash !== '') throw validationFailed('A webhook URL has no fragment.');
  const port = url.port === '' ? null : Number(url.port);
  if (!allowPrivate && port !== null && port < 1024 && port !== 443) throw validationFailed('A webhook URL uses port 443 or a port from 1024.');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!allowPrivate) {
    if (isIP(host) !== 0 && isSpecialAddress(host)) throw validationFailed('A webhook URL may not point at a private, loopback or reserved address.');
    if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.local') || host.endsWith('.internal')) {
      throw validationFailed('A webhook URL may not point at a local host name.');
    }
  }
  return url.toString();
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for the HTTP client that refuses special addresses at connection time (after
 * resolution, so a name changed to point inward is caught), unless private endpoints are allowed.
 */
export function guardedLookup(allowPrivate: boolean) {
  return (hostname: string, options: { all?: boolean; family?: number }, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error !== null) return callback(error, []);
      const list = addresses as LookupAddress[];
      const allowed = allowPrivate ? list : list.filter((a) => !isSpecialAddress(a.address));
      if (allowed.length === 0) {
        const refused: NodeJS.ErrnoException = new Error(`${hostname} resolves only to private or reserved addresses`);
        refused.code = 'EADDRNOTAVAIL';
        return callback(refused, []);
      }
      if (options.all === true) return callback(null, allowed);
      const first = allowed[0] as LookupAddress;
      callback(null, first.address, first.family);
    });
  };
}
