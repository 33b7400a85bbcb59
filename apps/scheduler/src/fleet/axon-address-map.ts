import { isIP } from 'node:net';

/** Announced axon endpoint (`ip:port`, IPv6 in brackets) → where the scheduler reaches it (`host:port`). */
export type AddressMap = ReadonlyMap<string, string>;

const ENDPOINT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/;

function parseEndpoint(text: string, what: string): { host: string; port: number } {
  const match = ENDPOINT.exec(text.trim());
  const port = Number(match?.[2]);
  if (!match?.[1] || !Number.isInteger(port) || port > 65_535) {
    throw new RangeError(`${what} "${text}" must be <host>:<port> (IPv6 in brackets)`);
  }
  return { host: match[1].toLowerCase(), port };
}

/**
 * Parses `AXON_ADDRESS_MAP`: `<ip>:<port>=<host>:<port>` entries, comma-separated. A local
 * subtensor refuses loopback axons, so local miners announce documentation addresses
 * (203.0.113.x) and the map says which local port each one is.
 */
export function parseAddressMap(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const entry of text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')) {
    const [announced, reachable, extra] = entry.split('=');
    if (announced === undefined || reachable === undefined || extra !== undefined) {
      throw new RangeError(`address map entry "${entry}" must be <ip>:<port>=<host>:<port>`);
    }
    const from = parseEndpoint(announced, 'announced address');
    const to = parseEndpoint(reachable, 'reachable address');
    map.set(`${from.host}:${from.port}`, `${to.host}:${to.port}`);
  }
  return map;
}

/** The base URL of a miner's control API and data plane, from its axon and the address map. */
export function minerBaseUrl(axon: { ip: string; port: number }, map: AddressMap): string {
  const host = isIP(axon.ip) === 6 ? `[${axon.ip.toLowerCase()}]` : axon.ip;
  const announced = `${host}:${axon.port}`;
  return `http://${map.get(announced) ?? announced}`;
}
