import { Controller } from '@nestjs/common';
import { ReconcileBilling, type RpcResponseOf } from '@tessera/contracts';
import { RpcHandler } from '@tessera/platform/messaging';
import { ReconciliationService } from './reconciliation.service.js';

/** The operator's reconciliation report. */
@Controller()
export class ReconciliationHandler {
  constructor(private readonly reconciliation: ReconciliationService) {}

  @RpcHandler(ReconcileBilling)
  reconcile(): Promise<RpcResponseOf<typeof ReconcileBilling>> {
    return this.reconciliation.reconcile();
  }
}
