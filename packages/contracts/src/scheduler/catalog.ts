import { type EventContract } from '../define-event.js';
import { type RpcContract } from '../define-rpc.js';
import { deadLetterContracts } from '../operations/dead-letters.js';
import {
  DeploymentCreated,
  DeploymentDeleted,
  DeploymentScaled,
  DeploymentUpdated,
} from './deployment-events.js';
import {
  InstanceDraining,
  InstanceFailed,
  InstanceLaunching,
  InstanceLost,
  InstancePlaced,
  InstanceReady,
  InstanceStopped,
} from './instance-events.js';
import {
  CreateDeployment,
  DeleteDeployment,
  GetDeployment,
  ListDeployments,
  ListInstances,
  ListMiners,
  UpdateDeployment,
} from './rpc.js';

/** Every event the scheduler appends to the `SCHEDULER` stream. */
export const schedulerEventContracts: readonly EventContract[] = [
  DeploymentCreated,
  DeploymentUpdated,
  DeploymentScaled,
  DeploymentDeleted,
  InstancePlaced,
  InstanceLaunching,
  InstanceReady,
  InstanceDraining,
  InstanceStopped,
  InstanceFailed,
  InstanceLost,
];

/** The scheduler's parked events, for the operator. */
export const SchedulerDeadLetters = deadLetterContracts('scheduler');

/** Every request/reply method the scheduler answers. */
export const schedulerRpcContracts: readonly RpcContract[] = [
  CreateDeployment,
  UpdateDeployment,
  GetDeployment,
  ListDeployments,
  DeleteDeployment,
  ListInstances,
  ListMiners,
  SchedulerDeadLetters.list,
  SchedulerDeadLetters.replay,
];
