import { Controller } from '@nestjs/common';
import {
  ExportStatement,
  GetUsage,
  ListLedgerEntries,
  customerLedgerAccount,
  type RpcParsedRequestOf,
  type RpcResponseOf,
} from '@tessera/contracts';
import { RpcHandler } from '@tessera/platform/messaging';
import { DataSource } from 'typeorm';
import { AccountService } from '../accounts/account.service.js';
import { LedgerTables } from '../ledger/ledger.projection.js';
import { UsageTables } from '../usage/usage-daily.projection.js';

interface EntryRow {
  id: string;
  entry_key: string;
  occurred_at: Date;
  event_type: string;
  idempotency_key: string;
  counterparty: string;
  change: string;
  balance_after: string;
}

const csvField = (value: string): string => (/[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);

/** Usage summaries, ledger history and CSV statements, read from the projections. */
@Controller()
export class StatementsHandler {
  constructor(
    private readonly dataSource: DataSource,
    private readonly accounts: AccountService,
  ) {}

  @RpcHandler(GetUsage)
  async getUsage(request: RpcParsedRequestOf<typeof GetUsage>): Promise<RpcResponseOf<typeof GetUsage>> {
    await this.accounts.get(request.accountId);
    const byDay = request.groupBy !== 'item';
    const byItem = request.groupBy !== 'day';
    const groups = [...(byDay ? ['day'] : []), ...(byItem ? ['item'] : [])];
    const rows = (await this.dataSource.query(
      `SELECT ${byDay ? "to_char(day, 'YYYY-MM-DD')" : 'NULL'} AS day, ${byItem ? 'item' : 'NULL'} AS item,
              sum(requests)::bigint AS requests, sum(prompt_tokens)::text AS prompt_tokens,
              sum(completion_tokens)::text AS completion_tokens, sum(gpu_seconds)::text AS gpu_seconds,
              sum(amount)::text AS amount
         FROM ${UsageTables.daily} WHERE account_id = $1 AND day BETWEEN $2::date AND $3::date
        ${groups.length > 0 ? `GROUP BY ${groups.join(', ')} ORDER BY ${groups.join(', ')}` : ''}`,
      [request.accountId, request.from, request.to],
    )) as {
      day: string | null;
      item: string | null;
      requests: string;
      prompt_tokens: string;
      completion_tokens: string;
      gpu_seconds: string;
      amount: string;
    }[];
    return {
      rows: rows.map((row) => ({
        day: row.day,
        item: row.item,
        requests: Number(row.requests),
        promptTokens: row.prompt_tokens,
        completionTokens: row.completion_tokens,
        gpuSeconds: row.gpu_seconds,
        amount: row.amount,
      })),
    };
  }

  @RpcHandler(ListLedgerEntries)
  async listLedgerEntries(
    request: RpcParsedRequestOf<typeof ListLedgerEntries>,
  ): Promise<RpcResponseOf<typeof ListLedgerEntries>> {
    await this.accounts.get(request.accountId);
    const after = request.after ?? '0';
    // ORDER BY the qualified column: `id::text` names an output column `id`, sorted as text.
    const rows = (await this.dataSource.query(
      `SELECT id::text, entry_key, occurred_at, event_type, idempotency_key, counterparty, change::text, balance_after::text
         FROM ${LedgerTables.entries} WHERE ledger_account = $1 AND id > $2::bigint ORDER BY ${LedgerTables.entries}.id LIMIT $3`,
      [customerLedgerAccount(request.accountId), after, request.limit + 1],
    )) as EntryRow[];
    const page = rows.slice(0, request.limit);
    return {
      entries: page.map((row) => ({
        entryId: row.entry_key,
        occurredAt: row.occurred_at.toISOString(),
        eventType: row.event_type,
        idempotencyKey: row.idempotency_key,
        counterparty: row.counterparty,
        change: row.change,
        balanceAfter: row.balance_after,
      })),
      next: rows.length > request.limit ? (page.at(-1)?.id ?? null) : null,
    };
  }

  @RpcHandler(ExportStatement)
  async exportStatement(
    request: RpcParsedRequestOf<typeof ExportStatement>,
  ): Promise<RpcResponseOf<typeof ExportStatement>> {
    await this.accounts.get(request.accountId);
    const rows = (await this.dataSource.query(
      `SELECT id::text, entry_key, occurred_at, event_type, idempotency_key, counterparty, change::text, balance_after::text
         FROM ${LedgerTables.entries}
        WHERE ledger_account = $1 AND occurred_at >= $2::date AND occurred_at < ($3::date + 1)
        ORDER BY ${LedgerTables.entries}.id`,
      [customerLedgerAccount(request.accountId), request.from, request.to],
    )) as EntryRow[];
    const header =
      'occurred_at,entry_id,event_type,idempotency_key,counterparty,change_nano_usd,balance_after_nano_usd';
    const lines = rows.map((row) =>
      [
        row.occurred_at.toISOString(),
        row.entry_key,
        row.event_type,
        row.idempotency_key,
        row.counterparty,
        row.change,
        row.balance_after,
      ]
        .map(csvField)
        .join(','),
    );
    return { csv: `${[header, ...lines].join('\n')}\n` };
  }
}
