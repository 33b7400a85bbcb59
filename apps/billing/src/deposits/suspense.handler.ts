import { Controller } from '@nestjs/common';
import {
  CreditSuspendedDeposit,
  ListSuspendedDeposits,
  type RpcParsedRequestOf,
  type RpcResponseOf,
} from '@tessera/contracts';
import { RpcHandler } from '@tessera/platform/messaging';
import { DataSource } from 'typeorm';
import { LedgerTables } from '../ledger/ledger.projection.js';
import { SuspenseService } from './suspense.service.js';

type SuspendedDeposit = RpcResponseOf<typeof ListSuspendedDeposits>['deposits'][number];

/** The operator's view of TAO on `tao:suspense`, and crediting it. */
@Controller()
export class SuspenseHandler {
  constructor(
    private readonly suspense: SuspenseService,
    private readonly dataSource: DataSource,
  ) {}

  @RpcHandler(ListSuspendedDeposits)
  async listSuspendedDeposits(
    request: RpcParsedRequestOf<typeof ListSuspendedDeposits>,
  ): Promise<RpcResponseOf<typeof ListSuspendedDeposits>> {
    const rows = (await this.dataSource.query(
      `SELECT deposit_key, address, account_id, amount_rao::text AS amount_rao, reason, status, block_number, suspended_at
         FROM ${LedgerTables.suspendedDeposits} WHERE status = $1 ORDER BY suspended_at, deposit_key LIMIT $2`,
      [request.status, request.limit],
    )) as {
      deposit_key: string;
      address: string;
      account_id: string | null;
      amount_rao: string;
      reason: SuspendedDeposit['reason'];
      status: SuspendedDeposit['status'];
      block_number: string;
      suspended_at: Date;
    }[];
    return {
      deposits: rows.map((row) => ({
        depositKey: row.deposit_key,
        address: row.address === '' ? null : row.address,
        accountId: row.account_id,
        amountRao: row.amount_rao,
        reason: row.reason,
        status: row.status,
        blockNumber: Number(row.block_number),
        suspendedAt: row.suspended_at.toISOString(),
      })),
    };
  }

  @RpcHandler(CreditSuspendedDeposit)
  async creditSuspendedDeposit(
    request: RpcParsedRequestOf<typeof CreditSuspendedDeposit>,
  ): Promise<RpcResponseOf<typeof CreditSuspendedDeposit>> {
    const credit = await this.suspense.credit(request, 'operator', 'operator:rpc');
    return { depositKey: request.depositKey, ...credit };
  }
}
