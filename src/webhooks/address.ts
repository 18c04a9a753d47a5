import { BlockList, isIP } from 'node:net';
import { lookup as dnsLookup } from 'node:dns/promises';

/**
 * Where a webhook may go (contract §12): http or https only, and never to loopback, private,
 * link-local or otherwise special addresses (unless WEBHOOK_ALLOW_PRIVATE=1), checked when the URL
 * is configured and again at each delivery, whose connection then goes to the address checked
 * (src/webhooks/deliver.ts), so a name cannot resolve to a public address for the check and to a
 * private one for the connection.
 */

/** Why a webhook URL or its address is refused; the message is shown to the admin. */
export class WebhookAddressError extends Error {}

export const MAX_WEBHOOK_URL_LENGTH = 2048;

/** Every range that is not a public unicast address (IANA special-purpose registries). */
const SPECIAL = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], // "this" network
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (cloud metadata services live here)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and broadcast
] as const) {
  SPECIAL.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['64:ff9b::', 96], // NAT64, well-known
  ['64:ff9b:1::', 48], // NAT64, local use
  ['100::', 64], // discard-only
  ['2001::', 23], // IETF protocol assignments (Teredo included)
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4
  ['fc00::', 7], // unique local (private)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  SPECIAL.addSubnet(net, bits, 'ipv6');
}

/**
 * Whether an IP address is loopback, private, link-local or otherwise not a public unicast address.
 * An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is judged as its IPv4 address: BlockList applies
 * the IPv4 rules to it.
 */
export function isSpecialAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) return SPECIAL.check(ip, 'ipv4');
  if (family === 6) return SPECIAL.check(ip, 'ipv6');
  return true; // not an address at all
}

/** Parses and checks the form of a webhook URL: http(s), no credentials, a host, not too long. */
export function parseWebhookUrl(raw: string): URL {
  if (raw.length > MAX_WEBHOOK_URL_LENGTH) throw new WebhookAddressError(`must be at most ${MAX_WEBHOOK_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookAddressError('must be an absolute http or https URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new WebhookAddressError('must be an http or https URL');
  if (url.username || url.password) throw new WebhookAddressError('must not contain a user name or password');
  if (!url.hostname) throw new WebhookAddressError('must name a host');
  return url;
}

export type Lookup = (hostname: string) => Promise<{ address: string; family: number }[]>;

const systemLookup: Lookup = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** The URL's host without IPv6 brackets. */
export function bareHost(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

/**
 * Resolves the URL's host and checks every address it resolves to; returns the one to connect to.
 * Refuses (WebhookAddressError) a name that does not resolve, or one with any special address
 * among its answers, unless `allowPrivate`.
 */
export async function resolveWebhookHost(url: URL, o: { allowPrivate: boolean; lookup?: Lookup }): Promise<{ address: string; family: 4 | 6 }> {
  const host = bareHost(url);
  let answers: { address: string; family: number }[];
  if (isIP(host)) answers = [{ address: host, family: isIP(host) }];
  else {
    try {
      answers = await (o.lookup ?? systemLookup)(host);
    } catch (err) {
      throw new WebhookAddressError(`the host ${host} could not be resolved (${(err as { code?: string }).code ?? (err as Error).message})`);
    }
    if (answers.length === 0) throw new WebhookAddressError(`the host ${host} could not be resolved`);
  }
  if (!o.allowPrivate) {
    const special = answers.find((a) => isSpecialAddress(a.address));
    if (special) {
      throw new WebhookAddressError(
        `${host === special.address ? 'the address' : `the host ${host} resolves to`} ${special.address}, a loopback, private, link-local or otherwise special address (set WEBHOOK_ALLOW_PRIVATE=1 to allow it)`,
      );
    }
  }
  const chosen = answers[0]!;
  return { address: chosen.address, family: chosen.family === 6 ? 6 : 4 };
}

/** Checks a webhook URL when an admin configures it; returns it normalised. Throws WebhookAddressError. */
export async function checkWebhookUrl(raw: string, o: { allowPrivate: boolean; lookup?: Lookup }): Promise<string> {
  const url = parseWebhookUrl(raw);
  await resolveWebhookHost(url, o);
  return url.toString();
}
