import { BlockList, isIP } from 'node:net';

/** A network in CIDR notation (`10.0.0.0/8`, `fd00::/8`); a bare address is the network of that one address. */
export interface Cidr {
  readonly network: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/** The network `text` names, or undefined when it is not an IPv4 or IPv6 address with an optional `/prefix`. */
export function parseCidr(text: string): Cidr | undefined {
  const [network, prefixText, extra] = text.split('/');
  const version = isIP(network);
  if (version === 0 || extra !== undefined) return undefined;
  const bits = version === 4 ? 32 : 128;
  if (prefixText === undefined) return { network, prefix: bits, family: version === 4 ? 'ipv4' : 'ipv6' };
  if (!/^(0|[1-9]\d{0,2})$/.test(prefixText) || Number(prefixText) > bits) return undefined;
  return { network, prefix: Number(prefixText), family: version === 4 ? 'ipv4' : 'ipv6' };
}

/**
 * Whether an address is within one of `cidrs` (already validated by the configuration schema).
 * An IPv4 client seen on a dual-stack socket (`::ffff:10.0.0.1`) matches the IPv4 networks.
 */
export function addressMatcher(cidrs: readonly string[]): (address: string) => boolean {
  const list = new BlockList();
  for (const text of cidrs) {
    const cidr = parseCidr(text);
    if (!cidr) throw new Error(`${text} is not a CIDR network`);
    list.addSubnet(cidr.network, cidr.prefix, cidr.family);
  }
  return (address) => {
    const version = isIP(address);
    return version !== 0 && list.check(address, version === 4 ? 'ipv4' : 'ipv6');
  };
}
