import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { decimalStringSchema } from './amounts.js';
import { eventContracts, rpcContracts } from './catalog.js';
import { defineEvent } from './define-event.js';
import { defineRpc } from './define-rpc.js';
import { buildContractSnapshot } from './snapshot.js';

const snapshotPath = fileURLToPath(new URL('../contracts.snapshot.json', import.meta.url));

describe('contract snapshot', () => {
  it('matches the committed contracts.snapshot.json (run `npm run snapshot:update -w @tessera/contracts` after a deliberate change)', () => {
    const current = `${JSON.stringify(buildContractSnapshot(eventContracts, rpcContracts), null, 2)}\n`;
    if (process.env.UPDATE_CONTRACT_SNAPSHOT === '1') writeFileSync(snapshotPath, current);
    expect(readFileSync(snapshotPath, 'utf8')).toBe(current);
  });

  it('changes when a field of an event changes, so the committed copy catches it', () => {
    const before = defineEvent({ type: 'chain.BlockSeen', version: 1, data: z.object({ height: z.int() }) });
    const after = defineEvent({
      type: 'chain.BlockSeen',
      version: 1,
      data: z.object({ height: z.int(), hash: z.string() }),
    });
    expect(buildContractSnapshot([before], [])).not.toEqual(buildContractSnapshot([after], []));
  });

  it('changes when an rpc error code is added', () => {
    const declare = (errors: string[]) =>
      defineRpc({
        subject: 'rpc.billing.getBalance',
        request: z.object({ accountId: z.string() }),
        response: z.object({ balance: decimalStringSchema }),
        errors,
      });
    expect(buildContractSnapshot([], [declare(['NOT_FOUND'])])).not.toEqual(
      buildContractSnapshot([], [declare(['NOT_FOUND', 'FORBIDDEN'])]),
    );
  });

  it('renders decimal amounts as pattern-checked strings', () => {
    const rpc = defineRpc({
      subject: 'rpc.billing.getBalance',
      request: z.object({ accountId: z.string() }),
      response: z.object({ balance: decimalStringSchema }),
    });
    const rendered = buildContractSnapshot([], [rpc])['rpc:rpc.billing.getBalance'] as {
      response: { properties: { balance: { type: string; pattern: string } } };
    };
    expect(rendered.response.properties.balance).toMatchObject({
      type: 'string',
      pattern: '^(0|[1-9][0-9]*)$',
    });
  });
});
