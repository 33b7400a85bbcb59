import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import {
  ErrorCode,
  ExportStatement,
  GetUsage,
  ListLedgerEntries,
  TesseraError,
  utcDaySchema,
} from '@tessera/contracts';
import { formatAmount, USD } from '../amounts/amounts.js';
import { defineCommand } from '../command/define-command.js';
import { matching, oneOf, optional, required, wholeNumber, withDefault } from '../command/options.js';
import { table } from '../command/output.js';
import { accountOption } from './accounts.commands.js';

const day = matching(utcDaySchema);
const from = required('--from <day>', 'first UTC day, YYYY-MM-DD', day);
const to = required('--to <day>', 'last UTC day (inclusive), YYYY-MM-DD', day);

const usage = defineCommand({
  path: ['usage'],
  summary: 'an account’s usage and charges per day and/or model between two UTC days',
  examples: ['tessera usage --account acme --from 2026-05-01 --to 2026-05-31 --group-by item'],
  options: {
    account: accountOption,
    from,
    to,
    groupBy: oneOf(
      '--group-by <grouping>',
      'one row per day, per item (model or GPU product), or both (default: day-item)',
      ['day', 'item', 'day-item'],
      'day-item',
    ),
  },
  async run(values, { call }) {
    const { rows } = await call(GetUsage, {
      accountId: values.account,
      from: values.from,
      to: values.to,
      groupBy: values.groupBy,
    });
    return {
      json: { rows },
      text: table(
        rows,
        [
          ['DAY', (row) => row.day],
          ['ITEM', (row) => row.item],
          ['REQUESTS', (row) => row.requests],
          ['PROMPT TOKENS', (row) => row.promptTokens],
          ['COMPLETION TOKENS', (row) => row.completionTokens],
          ['GPU SECONDS', (row) => row.gpuSeconds],
          ['USD', (row) => formatAmount(row.amount, USD)],
        ],
        'no usage in that range',
      ),
    };
  },
});

const ledgerPageSize = ListLedgerEntries.request.shape.limit.unwrap();

const ledger = defineCommand({
  path: ['ledger'],
  summary: 'an account’s ledger entries, oldest first, one page at a time',
  details: 'Each page ends with the command for the next one (--after <cursor>).',
  examples: ['tessera ledger --account acme --limit 20', 'tessera ledger --account acme --after 42'],
  options: {
    account: accountOption,
    after: optional(
      '--after <cursor>',
      'continue after this cursor (printed with the previous page)',
      matching(ListLedgerEntries.request.shape.after.unwrap()),
    ),
    limit: withDefault(
      '--limit <n>',
      `entries per page, at most ${ledgerPageSize.maxValue} (default: 100)`,
      wholeNumber(ledgerPageSize),
      100,
    ),
  },
  async run(values, { call }) {
    const page = await call(ListLedgerEntries, {
      accountId: values.account,
      limit: values.limit,
      ...(values.after === undefined ? {} : { after: values.after }),
    });
    const entries = table(
      page.entries,
      [
        ['TIME', (entry) => entry.occurredAt],
        ['EVENT', (entry) => entry.eventType],
        ['COUNTERPARTY', (entry) => entry.counterparty],
        ['CHANGE USD', (entry) => formatAmount(entry.change, USD)],
        ['BALANCE USD', (entry) => formatAmount(entry.balanceAfter, USD)],
      ],
      'no ledger entries',
    );
    const next =
      page.next === null
        ? 'no more entries'
        : `next page: tessera ledger --account ${values.account} --limit ${values.limit} --after ${page.next}`;
    return { json: page, text: `${entries}\n\n${next}` };
  },
});

const statement = defineCommand({
  path: ['statement'],
  summary: 'a CSV statement of an account’s ledger entries between two UTC days',
  examples: [
    'tessera statement --account acme --from 2026-05-01 --to 2026-05-31 > acme-may.csv',
    'tessera statement --account acme --from 2026-05-01 --to 2026-05-31 --out acme-may.csv',
  ],
  options: {
    account: accountOption,
    from,
    to,
    out: optional('--out <file>', 'write the CSV to this file instead of stdout', (path) => path),
  },
  async run(values, { call, cwd }) {
    const { csv } = await call(ExportStatement, {
      accountId: values.account,
      from: values.from,
      to: values.to,
    });
    if (values.out === undefined) return { json: { csv }, text: csv.replace(/\n$/, '') };
    const file = resolve(cwd, values.out);
    await writeFile(file, csv).catch((err: unknown) => {
      const reason = err instanceof Error ? err.message : String(err);
      throw new TesseraError(ErrorCode.ValidationFailed, `cannot write --out ${file}: ${reason}`, {
        details: { issues: [{ path: '--out', message: reason }] },
      });
    });
    const rows = csv.split('\n').filter((line) => line !== '').length;
    return { json: { file, rows }, text: `wrote ${rows} lines to ${file}` };
  },
});

export const statementCommands = [usage, ledger, statement];
