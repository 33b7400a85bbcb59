import { trace } from '@opentelemetry/api';
import {
  pino,
  type Bindings,
  type ChildLoggerOptions,
  type DestinationStream,
  type Logger,
  type LevelWithSilent,
} from 'pino';
import pinoPretty from 'pino-pretty';
import { currentCorrelationId } from './correlation.js';
import { redactSecrets } from './redact.js';

/** The structured logger every Tessera component writes to (pino). */
export type PlatformLogger = Logger;

/** Options for {@link createLogger}. */
export interface CreateLoggerOptions {
  service: string;
  level?: LevelWithSilent;
  /** Where lines go; stdout when omitted. Tests pass a stream to read them back. */
  destination?: DestinationStream;
  /**
   * `json` (one object per line, for log collectors) or `pretty` (readable lines, for a person at
   * a terminal). Default: `pretty` when the lines go to stdout and stdout is a terminal, else `json`.
   */
  format?: LogFormat;
}

/** How log lines are written. */
export type LogFormat = 'json' | 'pretty';

/** The format {@link createLogger} picks when none is asked for. */
export function defaultLogFormat(destination: DestinationStream | undefined): LogFormat {
  return destination === undefined && process.stdout.isTTY ? 'pretty' : 'json';
}

/**
 * Readable lines through pino-pretty, written synchronously like the JSON destination, so nothing
 * is lost when the process exits right after a line. Redaction happened before: the pretty stream
 * sees the same (redacted) object a JSON line would hold.
 */
function prettyDestination(destination: DestinationStream | undefined): DestinationStream {
  return pinoPretty({
    sync: true,
    destination: destination ?? 1,
    colorize: destination === undefined && process.stdout.isTTY,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
  });
}

/**
 * Creates the logger (JSON lines, or readable ones on a terminal). Every line carries `service`, the active span's `traceId`/`spanId` and
 * the current `correlationId`, and secret-named keys are redacted at any depth.
 */
export function createLogger(options: CreateLoggerOptions): PlatformLogger {
  const logger = pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Errors are serialised (and redacted) in formatters.log below; keep pino from doing it twice.
      serializers: { err: (value: unknown) => value },
      mixin() {
        const fields: Record<string, string> = {};
        const spanContext = trace.getActiveSpan()?.spanContext();
        if (spanContext && trace.isSpanContextValid(spanContext)) {
          fields['traceId'] = spanContext.traceId;
          fields['spanId'] = spanContext.spanId;
        }
        const correlationId = currentCorrelationId();
        if (correlationId !== undefined) fields['correlationId'] = correlationId;
        return fields;
      },
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => redactSecrets(object) as Record<string, unknown>,
        bindings: (bindings) => redactSecrets(bindings) as Record<string, unknown>,
      },
    },
    (options.format ?? defaultLogFormat(options.destination)) === 'pretty'
      ? prettyDestination(options.destination)
      : // pino's default destination (synchronous stdout) when none is given: no lines lost on exit.
        (options.destination ?? pino.destination(1)),
  );
  return redactChildBindings(logger);
}

/**
 * pino applies `formatters.bindings` to the root bindings only, not to `child({ ... })` bindings,
 * so children redact their bindings on the way in (and so do their own children).
 */
function redactChildBindings(logger: PlatformLogger): PlatformLogger {
  const originalChild = logger.child.bind(logger);
  // Cast: pino types `child` generically over custom levels, which we never use.
  logger.child = ((bindings: Bindings, childOptions?: ChildLoggerOptions) =>
    redactChildBindings(
      originalChild(redactSecrets(bindings) as Bindings, childOptions),
    )) as unknown as PlatformLogger['child'];
  return logger;
}
