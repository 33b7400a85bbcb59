import { Controller, Get, HttpStatus, Res } from '@nestjs/common';
import { HealthRegistry, type ReadinessReport } from './health-registry.js';

/** What Express' response and Fastify's reply both offer (`send` writes an object as JSON in both). */
interface StatusResponse {
  status(code: number): { send(body: unknown): unknown };
}

/** Kubernetes probes: liveness says the process runs, readiness says it should get traffic. */
@Controller('health')
export class HealthController {
  constructor(private readonly registry: HealthRegistry) {}

  /** Up while the event loop answers; never checks dependencies (a NATS outage must not restart us). */
  @Get('live')
  live(): { status: 'up' } {
    return { status: 'up' };
  }

  /** 200 when every indicator is up and we are not shutting down, 503 otherwise; the body lists each indicator. */
  @Get('ready')
  async ready(@Res() res: StatusResponse): Promise<void> {
    const report: ReadinessReport = await this.registry.readiness();
    res.status(report.ready ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE).send(report);
  }
}
