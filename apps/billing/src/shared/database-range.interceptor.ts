import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { catchError, throwError, type Observable } from 'rxjs';
import { billingErrors } from './errors.js';

/** The SQLSTATE Postgres (through pg, wrapped or not by TypeORM) reports, if any. */
function sqlStateOf(err: unknown): string | undefined {
  const candidate = (err as { driverError?: unknown } | null)?.driverError ?? err;
  const code = (candidate as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * Turns a value the database cannot hold (Postgres class 22, data exception: a number out of
 * range, a malformed value) into a typed validation error, instead of an INTERNAL with a
 * database message in the logs. The contracts bound every field, so this is the last line: a
 * bound that is too loose shows as VALIDATION_FAILED, never as a failure of the service.
 */
@Injectable()
export class DatabaseRangeInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next
      .handle()
      .pipe(
        catchError((err: unknown) =>
          throwError(() =>
            sqlStateOf(err)?.startsWith('22') ? billingErrors.outOfRange('request', err) : err,
          ),
        ),
      );
  }
}
