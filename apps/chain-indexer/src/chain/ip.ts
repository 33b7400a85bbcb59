/**
 * Renders an axon ip as the runtime stores it (a u128; IPv4 in the low 32 bits) as text:
 * dotted quad for v4, RFC 5952 (lower case, longest zero run as `::`) for v6.
 */
export function ipToText(ip: bigint, ipType: 4 | 6): string {
  if (ip < 0n) throw new RangeError('ip must not be negative');
  if (ipType === 4) {
    if (ip > 0xffff_ffffn) throw new RangeError(`ip ${ip} does not fit IPv4`);
    return [24n, 16n, 8n, 0n].map((shift) => String((ip >> shift) & 0xffn)).join('.');
  }
  if (ip >= 1n << 128n) throw new RangeError(`ip ${ip} does not fit IPv6`);
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((ip >> shift) & 0xffffn));
  // Longest run of two or more zero groups becomes '::' (first one on a tie).
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8;) {
    if (groups[start] !== 0) {
      start += 1;
      continue;
    }
    let end = start;
    while (end < 8 && groups[end] === 0) end += 1;
    if (end - start > bestLength) {
      bestStart = start;
      bestLength = end - start;
    }
    start = end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLength).join(':');
  return `${head}::${tail}`;
}

/** Parses dotted-quad IPv4 text into the runtime's u128 form (tests and tools). */
export function ipv4ToBigint(text: string): bigint {
  const parts = text.split('.').map(Number);
  if (parts.length !== 4 || parts.some((part) => !Number.isInteger(part) || part < 0 || part > 255)) {
    throw new RangeError(`not an IPv4 address: ${text}`);
  }
  return parts.reduce((value, part) => (value << 8n) | BigInt(part), 0n);
}
