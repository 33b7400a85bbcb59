import { Controller } from '@nestjs/common';
import {
  CreateDeployment,
  DeleteDeployment,
  GetDeployment,
  ListDeployments,
  UpdateDeployment,
  type RpcParsedRequestOf,
  type RpcResponseOf,
} from '@tessera/contracts';
import { RpcHandler } from '@tessera/platform/messaging';
import { DataSource } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { SchedulerConfig } from '../config.js';
import { schedulerTables, type SchedulerTables } from '../database/tables.js';
import { listInstances } from '../instances/instances.projection.js';
import { visibleRecord } from './deployment-catalog.decider.js';
import { DeploymentCatalog, deploymentView } from './deployment-catalog.service.js';

const ACTOR = 'service:scheduler';

/** The deployment RPCs. Any replica answers; the placement loop (one replica) acts on the events. */
@Controller()
export class DeploymentsHandler {
  private readonly tables: SchedulerTables;

  constructor(
    private readonly catalog: DeploymentCatalog,
    private readonly dataSource: DataSource,
    config: SchedulerConfig,
  ) {
    this.tables = schedulerTables(config.DATABASE_SCHEMA);
  }

  @RpcHandler(CreateDeployment)
  async create(
    request: RpcParsedRequestOf<typeof CreateDeployment>,
  ): Promise<RpcResponseOf<typeof CreateDeployment>> {
    const { deploymentId = uuidv7(), ...spec } = request;
    const { state } = await this.catalog.execute({ kind: 'create', deploymentId, spec }, ACTOR);
    return deploymentView(visibleRecord(state, deploymentId, undefined));
  }

  @RpcHandler(UpdateDeployment)
  async update(
    request: RpcParsedRequestOf<typeof UpdateDeployment>,
  ): Promise<RpcResponseOf<typeof UpdateDeployment>> {
    const { state } = await this.catalog.execute(
      {
        kind: 'update',
        deploymentId: request.deploymentId,
        actingFor: request.ownerAccountId,
        changes: request.changes,
      },
      ACTOR,
    );
    return deploymentView(visibleRecord(state, request.deploymentId, undefined));
  }

  @RpcHandler(GetDeployment)
  async get(request: RpcParsedRequestOf<typeof GetDeployment>): Promise<RpcResponseOf<typeof GetDeployment>> {
    const view = deploymentView(
      visibleRecord(await this.catalog.current(), request.deploymentId, request.ownerAccountId),
    );
    const instances = await listInstances(this.dataSource.manager, this.tables, {
      deploymentId: request.deploymentId,
    });
    return { ...view, instances };
  }

  @RpcHandler(ListDeployments)
  async list(
    request: RpcParsedRequestOf<typeof ListDeployments>,
  ): Promise<RpcResponseOf<typeof ListDeployments>> {
    const state = await this.catalog.current();
    const deployments = [...state.deployments.values()]
      .filter(
        (record) =>
          (request.includeDeleted || record.status === 'active') &&
          (request.ownerAccountId === undefined || record.spec.ownerAccountId === request.ownerAccountId) &&
          (request.visibility === undefined || record.spec.visibility === request.visibility),
      )
      .map(deploymentView)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.deploymentId.localeCompare(b.deploymentId));
    return { deployments };
  }

  @RpcHandler(DeleteDeployment)
  async delete(
    request: RpcParsedRequestOf<typeof DeleteDeployment>,
  ): Promise<RpcResponseOf<typeof DeleteDeployment>> {
    await this.catalog.execute(
      { kind: 'delete', deploymentId: request.deploymentId, actingFor: request.ownerAccountId },
      ACTOR,
    );
    return { deploymentId: request.deploymentId, status: 'deleted' };
  }
}
