import { type LoggerService } from '@nestjs/common';
import { type PlatformLogger } from './logger.js';

/**
 * Routes Nest's own logging (and `new Logger(ctx)` in apps) into the pino logger, so start-up
 * messages are JSON with the same fields as everything else. nestjs-pino would do this but needs
 * Node 22.
 */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly logger: PlatformLogger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    // Nest calls error(message, stack?, context?); keep the stack as a field, not in the message.
    const context = takeContext(params);
    const [stack] = params;
    const fields: Record<string, unknown> = context === undefined ? {} : { context };
    if (message instanceof Error) fields['err'] = message;
    else if (typeof stack === 'string') fields['stack'] = stack;
    this.logger.error(fields, message instanceof Error ? message.message : describe(message));
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  private write(
    level: 'info' | 'warn' | 'debug' | 'trace' | 'fatal',
    message: unknown,
    params: unknown[],
  ): void {
    const context = takeContext(params);
    const fields: Record<string, unknown> = context === undefined ? {} : { context };
    if (typeof message === 'object' && message !== null && !(message instanceof Error)) {
      this.logger[level]({ ...fields, ...message });
    } else {
      this.logger[level](fields, describe(message));
    }
  }
}

/** Nest passes the logger context as the last string parameter. */
function takeContext(params: unknown[]): string | undefined {
  const last = params[params.length - 1];
  if (typeof last === 'string') {
    params.pop();
    return last;
  }
  return undefined;
}

function describe(message: unknown): string {
  if (message instanceof Error) return message.message;
  return typeof message === 'string' ? message : String(message);
}
