import {
  DeploymentCreated,
  DeploymentDeleted,
  DeploymentUpdated,
  InstanceDraining,
  InstanceFailed,
  InstanceLost,
  InstanceReady,
  InstanceStopped,
  type Event,
  type EventContract,
} from '@tessera/contracts';

/** A deployment as clients see it: the `model` name they send. */
export interface RoutedDeployment {
  deploymentId: string;
  name: string;
  ownerAccountId: string | null;
  visibility: 'public' | 'private';
  /** Unix seconds of its first event (what `GET /v1/models` reports as `created`). */
  created: number;
}

/** A ready instance and this replica's load on it. */
export interface RoutedInstance {
  instanceId: string;
  deploymentId: string;
  model: string;
  minerHotkey: string;
  /** The instance's OpenAI base URL (ends in `/v1`). */
  endpoint: string;
  concurrency: number;
  /** Requests this replica has in flight on it. */
  inFlight: number;
}

/**
 * The routing table, rebuilt from the SCHEDULER stream at start and kept live: deployments by
 * name, and the instances that are ready (Draining, Stopped, Failed and Lost take an instance out
 * at once; in-flight requests finish). Load is this replica's own count.
 */
export class RoutingTable {
  static readonly handles: readonly EventContract[] = [
    DeploymentCreated,
    DeploymentUpdated,
    DeploymentDeleted,
    InstanceReady,
    InstanceDraining,
    InstanceStopped,
    InstanceFailed,
    InstanceLost,
  ];

  private readonly deploymentsByName = new Map<string, RoutedDeployment>();
  private readonly deploymentsById = new Map<string, RoutedDeployment>();
  private readonly instances = new Map<string, RoutedInstance>();
  private readonly listeners = new Set<(deploymentId: string) => void>();

  apply(event: Event): void {
    if (DeploymentCreated.is(event) || DeploymentUpdated.is(event)) {
      const { deploymentId, spec } = event.data;
      const previous = this.deploymentsById.get(deploymentId);
      if (previous) this.deploymentsByName.delete(previous.name);
      const deployment: RoutedDeployment = {
        deploymentId,
        name: spec.name,
        ownerAccountId: spec.ownerAccountId,
        visibility: spec.visibility,
        created: previous?.created ?? Math.floor(Date.parse(event.occurredAt) / 1000),
      };
      this.deploymentsById.set(deploymentId, deployment);
      this.deploymentsByName.set(spec.name, deployment);
    } else if (DeploymentDeleted.is(event)) {
      const deployment = this.deploymentsById.get(event.data.deploymentId);
      if (deployment) this.deploymentsByName.delete(deployment.name);
      this.deploymentsById.delete(event.data.deploymentId);
    } else if (InstanceReady.is(event)) {
      const data = event.data;
      this.instances.set(data.instanceId, {
        instanceId: data.instanceId,
        deploymentId: data.deploymentId,
        model: data.model,
        minerHotkey: data.minerHotkey,
        endpoint: data.endpoint.replace(/\/+$/, ''),
        concurrency: data.concurrency,
        inFlight: this.instances.get(data.instanceId)?.inFlight ?? 0,
      });
      // Without the deployment's own events (a scheduler that predates them, or a test that
      // publishes instances only) the instance names a public deployment.
      if (!this.deploymentsById.has(data.deploymentId)) {
        const deployment: RoutedDeployment = {
          deploymentId: data.deploymentId,
          name: data.model,
          ownerAccountId: null,
          visibility: 'public',
          created: Math.floor(Date.parse(data.at) / 1000),
        };
        this.deploymentsById.set(data.deploymentId, deployment);
        this.deploymentsByName.set(data.model, deployment);
      }
      for (const listener of this.listeners) listener(data.deploymentId);
    } else if (
      InstanceDraining.is(event) ||
      InstanceStopped.is(event) ||
      InstanceFailed.is(event) ||
      InstanceLost.is(event)
    ) {
      this.instances.delete(event.data.instanceId);
    }
  }

  /** The deployment a caller reaches under `model`: public ones, and private ones of its own account. */
  deploymentFor(model: string, accountId: string): RoutedDeployment | undefined {
    const deployment = this.deploymentsByName.get(model);
    if (!deployment) return undefined;
    return deployment.visibility === 'public' || deployment.ownerAccountId === accountId
      ? deployment
      : undefined;
  }

  /** A deployment by id, if the account may call it. */
  deploymentById(deploymentId: string, accountId: string): RoutedDeployment | undefined {
    const deployment = this.deploymentsById.get(deploymentId);
    if (!deployment) return undefined;
    return deployment.visibility === 'public' || deployment.ownerAccountId === accountId
      ? deployment
      : undefined;
  }

  /** Every deployment the account may call. */
  deploymentsVisibleTo(accountId: string): RoutedDeployment[] {
    return [...this.deploymentsByName.values()].filter(
      (deployment) => deployment.visibility === 'public' || deployment.ownerAccountId === accountId,
    );
  }

  /** Ready instances of a deployment. */
  instancesOf(deploymentId: string): RoutedInstance[] {
    const found: RoutedInstance[] = [];
    for (const instance of this.instances.values())
      if (instance.deploymentId === deploymentId) found.push(instance);
    return found;
  }

  /** Every ready instance. */
  allInstances(): RoutedInstance[] {
    return [...this.instances.values()];
  }

  instance(instanceId: string): RoutedInstance | undefined {
    return this.instances.get(instanceId);
  }

  /** Called with the deployment whenever an instance becomes ready (wakes requests waiting for capacity). */
  onInstanceReady(listener: (deploymentId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
