import { Controller } from '@nestjs/common';
import {
  ErrorCode,
  GetMetagraph,
  GetNeuron,
  TesseraError,
  type RpcParsedRequestOf,
  type RpcResponseOf,
} from '@tessera/contracts';
import { RpcHandler } from '@tessera/platform/messaging';
import { DataSource } from 'typeorm';
import { ChainIndexerConfig } from '../config.js';
import { tablesIn } from '../database/tables.js';
import { MetagraphStore } from './metagraph-store.js';

/** Answers metagraph questions from the projection: no chain round trip. */
@Controller()
export class MetagraphRpc {
  private readonly store: MetagraphStore;

  constructor(
    private readonly dataSource: DataSource,
    config: ChainIndexerConfig,
  ) {
    this.store = new MetagraphStore(tablesIn(config.DATABASE_SCHEMA));
  }

  @RpcHandler(GetMetagraph)
  async getMetagraph(
    request: RpcParsedRequestOf<typeof GetMetagraph>,
  ): Promise<RpcResponseOf<typeof GetMetagraph>> {
    const metagraph = await this.store.metagraph(this.dataSource, request.netuid);
    if (!metagraph)
      throw new TesseraError(ErrorCode.NotFound, `netuid ${request.netuid} has no metagraph here`);
    return metagraph;
  }

  @RpcHandler(GetNeuron)
  async getNeuron(request: RpcParsedRequestOf<typeof GetNeuron>): Promise<RpcResponseOf<typeof GetNeuron>> {
    const found = await this.store.neuron(this.dataSource, request.netuid, request.hotkey);
    if (!found) {
      throw new TesseraError(
        ErrorCode.NotFound,
        `hotkey ${request.hotkey} is not a neuron of netuid ${request.netuid}`,
      );
    }
    return { netuid: request.netuid, blockNumber: found.blockNumber, neuron: found.neuron };
  }
}
