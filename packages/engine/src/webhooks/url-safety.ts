import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** Resolves a host name to every address it has (injectable: tests play a rebinding DNS). */
export type HostResolver = (hostname: string) => Promise<string[]>;

/** The system resolver (`getaddrinfo`, as `http.request` itself would use). */
export const systemResolver: HostResolver = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

/** Host names of cloud metadata services, refused whatever they resolve to. */
const METADATA_HOSTS = new Set(['metadata.google.internal', 'metadata', 'metadata.azure.internal', 'instance-data']);

/** Why an address may not be a webhook's target, or null when it may. */
export type AddressClass = 'loopback' | 'private' | 'link-local' | 'unspecified' | 'cgnat' | 'multicast' | null;

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

function inV4(ip: number, base: string, bits: number): boolean {
  const size = 2 ** (32 - bits);
  const start = ipv4ToInt(base);
  return ip >= start && ip < start + size;
}

function classifyV4(ip: string): AddressClass {
  const n = ipv4ToInt(ip);
  if (inV4(n, '127.0.0.0', 8)) return 'loopback';
  if (inV4(n, '10.0.0.0', 8) || inV4(n, '172.16.0.0', 12) || inV4(n, '192.168.0.0', 16)) return 'private';
  if (inV4(n, '169.254.0.0', 16)) return 'link-local';
  if (inV4(n, '0.0.0.0', 8)) return 'unspecified';
  if (inV4(n, '100.64.0.0', 10)) return 'cgnat';
  if (inV4(n, '224.0.0.0', 4) || inV4(n, '240.0.0.0', 4)) return 'multicast';
  return null;
}

/** The eight 16-bit groups of an IPv6 address. */
function ipv6Groups(ip: string): number[] {
  let text = ip.split('%')[0]!.toLowerCase();
  // An embedded IPv4 tail (::ffff:10.0.0.1) becomes two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = ipv4ToInt(v4[1]!);
    text = `${text.slice(0, -v4[1]!.length)}${Math.floor(n / 65536).toString(16)}:${(n % 65536).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const h = parse(head);
  const t = tail === undefined ? [] : parse(tail);
  return [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t];
}

function classifyV6(ip: string): AddressClass {
  const g = ipv6Groups(ip);
  const first = g[0]!;
  if (g.every((x) => x === 0)) return 'unspecified';
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return 'loopback';
  // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible addresses are judged as the IPv4 they carry.
  if (g.slice(0, 5).every((x) => x === 0) && (g[5] === 0xffff || g[5] === 0)) {
    const v4 = `${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`;
    return classifyV4(v4);
  }
  if ((first & 0xfe00) === 0xfc00) return 'private';
  if ((first & 0xffc0) === 0xfe80) return 'link-local';
  if ((first & 0xff00) === 0xff00) return 'multicast';
  return null;
}

/** What kind of non-public address `ip` is, or null for a public one. */
export function classifyAddress(ip: string): AddressClass {
  const v = isIP(ip);
  if (v === 4) return classifyV4(ip);
  if (v === 6) return classifyV6(ip);
  return 'unspecified';
}

/** Whether an address may be sent to: public ones always, loopback only when private targets are allowed. */
export function addressAllowed(ip: string, allowPrivate: boolean): boolean {
  const c = classifyAddress(ip);
  return c === null || (allowPrivate && c === 'loopback');
}

/** The target rules of webhooks. */
export interface TargetPolicy {
  /** JOBTRAIL_WEBHOOK_ALLOW_PRIVATE=1: `http` and loopback targets are allowed (development, tests). */
  readonly allowPrivate: boolean;
  readonly resolver?: HostResolver;
}

/** A URL refused as a webhook target, with why. */
export class UnsafeWebhookUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeWebhookUrlError';
  }
}

/** The host of a URL without IPv6 brackets. */
function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

/**
 * Checks a URL's form: `https` (or `http` when private targets are allowed), no credentials, not a
 * metadata host, and, for a literal IP, an allowed address. Throws `UnsafeWebhookUrlError`.
 */
export function checkWebhookUrlForm(raw: string, policy: TargetPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UnsafeWebhookUrlError('is not a valid URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowPrivate))
    throw new UnsafeWebhookUrlError(policy.allowPrivate ? 'must be an http or https URL' : 'must be an https URL');
  if (url.username !== '' || url.password !== '') throw new UnsafeWebhookUrlError('must not carry credentials');
  const host = hostOf(url).toLowerCase();
  if (METADATA_HOSTS.has(host)) throw new UnsafeWebhookUrlError('must not target a cloud metadata service');
  if (isIP(host) !== 0 && !addressAllowed(host, policy.allowPrivate))
    throw new UnsafeWebhookUrlError(`must not target a ${classifyAddress(host)} address`);
  return url;
}

/**
 * Resolves the URL's host and checks every address it has: one private address is enough to
 * refuse (a round-robin answer must not smuggle one in). Returns the address to connect to.
 */
export async function resolveWebhookTarget(
  url: URL,
  policy: TargetPolicy,
): Promise<{ address: string; family: 4 | 6 }> {
  const host = hostOf(url);
  const literal = isIP(host);
  let addresses: string[];
  if (literal !== 0) addresses = [host];
  else {
    try {
      addresses = await (policy.resolver ?? systemResolver)(host);
    } catch {
      throw new UnsafeWebhookUrlError(`host ${host} does not resolve`);
    }
  }
  if (addresses.length === 0) throw new UnsafeWebhookUrlError(`host ${host} does not resolve`);
  for (const a of addresses) {
    if (!addressAllowed(a, policy.allowPrivate))
      throw new UnsafeWebhookUrlError(`resolves to a ${classifyAddress(a)} address (${a})`);
    // Plain http is for a developer's own machine only: never across a network.
    if (url.protocol === 'http:' && classifyAddress(a) !== 'loopback')
      throw new UnsafeWebhookUrlError('may use http only for a loopback target');
  }
  const address = addresses[0]!;
  return { address, family: isIP(address) === 6 ? 6 : 4 };
}

/** The whole check of a subscription's URL at create/update time: form, then every resolved address. */
export async function checkWebhookUrl(raw: string, policy: TargetPolicy): Promise<URL> {
  const url = checkWebhookUrlForm(raw, policy);
  await resolveWebhookTarget(url, policy);
  return url;
}
