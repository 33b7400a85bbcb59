import { isIPv4, isIPv6 } from 'node:net';

/** An axon address as `serveAxon` takes it: the ip as a u128 (IPv4 in the low 32 bits) and its type. */
export interface AxonIp {
  ip: bigint;
  ipType: 4 | 6;
}

/** Parses IPv4 or IPv6 text (`::` and an embedded IPv4 tail included) into the runtime's form. */
export function parseAxonIp(text: string): AxonIp {
  if (isIPv4(text)) return { ip: ipv4Value(text), ipType: 4 };
  if (!isIPv6(text)) throw new RangeError(`${text} is not an IPv4 or IPv6 address`);
  // `::ffff:192.0.2.1`: rewrite the IPv4 tail as the two groups it stands for.
  const lastColon = text.lastIndexOf(':');
  const v4Tail = text.slice(lastColon + 1);
  const hexOnly = isIPv4(v4Tail)
    ? `${text.slice(0, lastColon + 1)}${(ipv4Value(v4Tail) >> 16n).toString(16)}:${(ipv4Value(v4Tail) & 0xffffn).toString(16)}`
    : text;
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const [head = '', tail] = hexOnly.split('::');
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return { ip: all.reduce((value, group) => (value << 16n) | BigInt(parseInt(group, 16)), 0n), ipType: 6 };
}

function ipv4Value(text: string): bigint {
  return text.split('.').reduce((value, octet) => (value << 8n) | BigInt(Number(octet)), 0n);
}
