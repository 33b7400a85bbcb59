import { ReconcileBilling } from '@tessera/contracts';
import { taoText } from '../amounts/amounts.js';
import { defineCommand } from '../command/define-command.js';
import { record, table } from '../command/output.js';
import { ExitCode } from '../exit-codes.js';

const reconcile = defineCommand({
  path: ['reconcile'],
  summary: 'check billing’s ledger against the event streams it was built from',
  details: `Each unit's balances must sum to zero; each customer's balance, receivable and held
credit must equal those folded from its account stream; the TAO booked must equal the
transfers to deposit addresses on the chain stream. Exits 3 when anything disagrees.`,
  options: {},
  async run(_values, { call }) {
    const report = await call(ReconcileBilling, {});
    const summary = record([
      ['consistent', report.consistent ? 'yes' : 'NO'],
      ['accounts folded', report.accounts],
      ['transfers', report.transfers],
      ['TAO transferred', taoText(report.transferredRao)],
      ['TAO booked', taoText(report.bookedRao)],
    ]);
    const mismatches = table(
      report.mismatches,
      [
        ['CHECK', (mismatch) => mismatch.check],
        ['SUBJECT', (mismatch) => mismatch.subject],
        ['EXPECTED', (mismatch) => mismatch.expected],
        ['ACTUAL', (mismatch) => mismatch.actual],
      ],
      'no mismatches',
    );
    return {
      json: report,
      text: `${summary}\n\n${mismatches}`,
      exitCode: report.consistent ? ExitCode.ok : ExitCode.problemsFound,
    };
  },
});

export const reconcileCommands = [reconcile];
