import { type EventDataOf, type WeightsProposed } from '@tessera/contracts';

/** Largest value a weight takes on chain (u16). */
export const U16_MAX = 65_535;

/** Why a proposal is refused before anything is sent. */
export type WeightRejection =
  | 'WrongNetuid'
  | 'EmptyProposal'
  | 'InvalidWeight'
  | 'NegativeWeight'
  | 'AllWeightsZero'
  | 'UnknownUid'
  | 'UnknownHotkey'
  | 'DuplicateTarget'
  | 'NoRegisteredTargets';

/** What a proposal becomes: u16 weights by current uid, or the reason it cannot be sent. */
export type WeightPlan =
  | {
      ok: true;
      uids: number[];
      weights: number[];
      /** Entries whose hotkey no longer holds the uid (deregistered since scoring). */
      dropped: { uid: number; hotkey: string }[];
    }
  | { ok: false; reason: WeightRejection; message: string };

type Proposal = EventDataOf<typeof WeightsProposed>;

/**
 * Maps a proposal onto the subnet as it is now and scales it to u16 (the largest weight becomes
 * 65535, the rest in proportion, rounded; entries that round to 0 are left out, as the chain
 * stores no zero weights). Pure: the subnet's neurons come in as `hotkeyByUid`.
 */
export function planWeights(
  proposal: Proposal,
  watchedNetuids: ReadonlySet<number>,
  hotkeyByUid: ReadonlyMap<number, string>,
): WeightPlan {
  const refuse = (reason: WeightRejection, message: string): WeightPlan => ({ ok: false, reason, message });
  if (!watchedNetuids.has(proposal.netuid)) {
    return refuse('WrongNetuid', `netuid ${proposal.netuid} is not one this validator indexes`);
  }
  if (proposal.weights.length === 0) return refuse('EmptyProposal', 'the proposal has no weights');
  for (const entry of proposal.weights) {
    if (!Number.isFinite(entry.weight))
      return refuse('InvalidWeight', `weight ${entry.weight} is not a finite number`);
    if (entry.weight < 0) return refuse('NegativeWeight', `weight ${entry.weight} is negative`);
  }
  if (proposal.weights.every((entry) => entry.weight === 0))
    return refuse('AllWeightsZero', 'every weight is 0');

  const uidByHotkey = new Map<string, number>();
  for (const [uid, hotkey] of hotkeyByUid) uidByHotkey.set(hotkey, uid);
  const byUid = new Map<number, number>();
  const dropped: { uid: number; hotkey: string }[] = [];
  for (const entry of proposal.weights) {
    let uid: number;
    if (entry.uid !== undefined) {
      const holder = hotkeyByUid.get(entry.uid);
      if (holder === undefined)
        return refuse('UnknownUid', `uid ${entry.uid} does not exist on netuid ${proposal.netuid}`);
      if (entry.hotkey !== undefined && entry.hotkey !== holder) {
        dropped.push({ uid: entry.uid, hotkey: entry.hotkey });
        continue;
      }
      uid = entry.uid;
    } else {
      const found = uidByHotkey.get(entry.hotkey!);
      if (found === undefined) {
        return refuse(
          'UnknownHotkey',
          `hotkey ${entry.hotkey} is not registered on netuid ${proposal.netuid}`,
        );
      }
      uid = found;
    }
    if (byUid.has(uid)) return refuse('DuplicateTarget', `uid ${uid} appears more than once`);
    byUid.set(uid, entry.weight);
  }
  const max = Math.max(0, ...byUid.values());
  if (byUid.size === 0 || max === 0) {
    return refuse('NoRegisteredTargets', 'no weighted target is still registered');
  }
  const uids: number[] = [];
  const weights: number[] = [];
  for (const uid of [...byUid.keys()].sort((a, b) => a - b)) {
    const scaled = Math.round((byUid.get(uid)! / max) * U16_MAX);
    if (scaled === 0) continue;
    uids.push(uid);
    weights.push(Math.min(U16_MAX, scaled));
  }
  return { ok: true, uids, weights, dropped };
}

/**
 * Blocks to wait before `setWeights` can pass the rate limit: the extrinsic executes in the
 * block after `head`, and the runtime wants `block - lastUpdate >= limit`.
 */
export function blocksUntilAllowed(head: number, lastUpdate: number, rateLimit: number): number {
  if (lastUpdate === 0) return 0;
  return Math.max(0, lastUpdate + rateLimit - (head + 1));
}
