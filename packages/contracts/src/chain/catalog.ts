import { type EventContract } from '../define-event.js';
import { type RpcContract } from '../define-rpc.js';
import { deadLetterContracts } from '../operations/dead-letters.js';
import { GetMetagraph, GetNeuron, MetagraphSynced } from './metagraph.js';
import {
  AxonServed,
  NeuronRegistered,
  NeuronReplaced,
  StakeAdded,
  StakeRemoved,
  SubnetAdded,
  SubnetRemoved,
  WeightsSet,
} from './neuron-events.js';
import { TransferObserved } from './transfer-observed.js';
import { WeightsSubmissionFailed, WeightsSubmitted } from './weights-submission.js';

/** Every event the chain indexer appends to the `CHAIN` stream. */
export const chainEventContracts: readonly EventContract[] = [
  TransferObserved,
  NeuronRegistered,
  NeuronReplaced,
  AxonServed,
  StakeAdded,
  StakeRemoved,
  WeightsSet,
  SubnetAdded,
  SubnetRemoved,
  MetagraphSynced,
  WeightsSubmitted,
  WeightsSubmissionFailed,
];

/** The chain indexer's parked events, for the operator. */
export const ChainDeadLetters = deadLetterContracts('chain');

/** Every request/reply method the chain indexer answers. */
export const chainRpcContracts: readonly RpcContract[] = [
  GetMetagraph,
  GetNeuron,
  ChainDeadLetters.list,
  ChainDeadLetters.replay,
];
