import { ApiPromise, WsProvider } from '@polkadot/api';
import type { KeyringPair } from '@polkadot/keyring/types';
import { ExtrinsicSender, SubtensorStorage, type StoredAxon } from '@tessera/bittensor';
import type { AxonIp } from './axon-address.js';

/** Connects to a subtensor node; throws when it is not reachable within `timeoutMs`. */
export async function connectChain(endpoint: string, timeoutMs = 30_000): Promise<ApiPromise> {
  const provider = new WsProvider(endpoint, 1_000, {}, timeoutMs);
  const api = new ApiPromise({
    provider,
    noInitWarn: true,
    // Subtensor's signed extensions add nothing to the payload; declaring them keeps
    // @polkadot/api from warning about them.
    signedExtensions: {
      SubtensorSignedExtension: { extrinsic: {}, payload: {} },
      CommitmentsSignedExtension: { extrinsic: {}, payload: {} },
    },
  });
  const timer = setTimeout(() => void api.disconnect(), timeoutMs);
  try {
    await api.isReadyOrError;
    return api;
  } catch (err) {
    await api.disconnect().catch(() => undefined);
    throw new Error(`could not connect to ${endpoint}: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  } finally {
    clearTimeout(timer);
  }
}

/** Where the hotkey stands on the subnet after {@link registerMiner}. */
export interface Registration {
  uid: number;
  /** False when the hotkey was registered before (nothing was sent, nothing burned). */
  registeredNow: boolean;
}

/**
 * Burned registration of `hotkey` on `netuid`, paid by `coldkey`. A hotkey already registered
 * is left as it is, so running the command twice never burns twice.
 */
export async function registerMiner(options: {
  api: ApiPromise;
  coldkey: KeyringPair;
  hotkey: string;
  netuid: number;
}): Promise<Registration> {
  const storage = new SubtensorStorage(options.api);
  const existing = await storage.uidOf(options.netuid, options.hotkey);
  if (existing !== undefined) return { uid: existing, registeredNow: false };
  const tx = options.api.tx['subtensorModule']!['burnedRegister']!(options.netuid, options.hotkey);
  await new ExtrinsicSender(options.api, options.coldkey).send(tx);
  const uid = await storage.uidOf(options.netuid, options.hotkey);
  if (uid === undefined)
    throw new Error(`the registration landed but ${options.hotkey} has no uid on ${options.netuid}`);
  return { uid, registeredNow: true };
}

/** Announces the miner's address on `netuid` (signed by the hotkey); returns the axon as stored. */
export async function serveAxon(options: {
  api: ApiPromise;
  hotkey: KeyringPair;
  netuid: number;
  address: AxonIp;
  port: number;
  /** Bittensor's axon protocol field; 4 is what bittensor's own axons announce. */
  protocol: number;
  version: number;
}): Promise<StoredAxon> {
  const { api, address } = options;
  const tx = api.tx['subtensorModule']!['serveAxon']!(
    options.netuid,
    options.version,
    address.ip,
    options.port,
    address.ipType,
    options.protocol,
    0,
    0,
  );
  await new ExtrinsicSender(api, options.hotkey).send(tx);
  const axon = await new SubtensorStorage(api).axon(options.netuid, options.hotkey.address);
  if (axon === null) throw new Error(`the axon landed but none is stored for ${options.hotkey.address}`);
  return axon;
}
