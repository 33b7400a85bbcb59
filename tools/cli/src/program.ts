import { join, resolve } from 'node:path';
import { type RawEnv } from '@tessera/platform/config';
import {
  ValidationError,
  isTesseraError,
  toValidationIssues,
  type RpcContract,
  type RpcRequestOf,
  type RpcResponseOf,
} from '@tessera/contracts';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { z } from 'zod';
import { type AnyCliCommand, type CommandContext, type CommandSet } from './command/define-command.js';
import { wholeNumber, type OptionSpec } from './command/options.js';
import { commandTable } from './command-table.js';
import { ExitCode } from './exit-codes.js';
import { parseCliEnv, type CliEnv } from './connection/cli-env.js';
import {
  resolveConnectionSettings,
  type OperatorConnectionSettings,
} from './connection/connection-settings.js';
import { type OperatorRpc } from './connection/operator-connection.js';

/** Where output goes: stdout for results, stderr for errors and notes. */
export interface CliOutput {
  stdout(text: string): void;
  stderr(text: string): void;
}

export interface RunTesseraOptions {
  /** The arguments after `tessera`. */
  readonly argv: readonly string[];
  readonly env: RawEnv;
  /** The repository the CLI belongs to: `<root>/.data` is where `npm start` keeps its data. */
  readonly repoRoot: string;
  readonly cwd: string;
  readonly output: CliOutput;
  /** The commands; {@link commandTable} unless a test narrows it. */
  readonly commands?: readonly CommandSet[];
}

interface GlobalOptions {
  json: boolean | undefined;
  natsUrl: string | undefined;
  seedFile: string | undefined;
  timeout: number;
}

/** Runs one `tessera` command line and resolves to its exit code. */
export async function runTessera(options: RunTesseraOptions): Promise<number> {
  const { output } = options;
  let env: CliEnv;
  try {
    env = parseCliEnv(options.env);
  } catch (err) {
    reportError(err, output);
    return ExitCode.usage;
  }
  const cwd = env.INIT_CWD ?? options.cwd;
  const dataDir = resolve(cwd, env.TESSERA_DATA_DIR ?? join(options.repoRoot, '.data'));

  let exitCode: number = ExitCode.ok;
  const program = buildProgram(options.commands ?? commandTable, output, async (command, values, globals) => {
    const session = new OperatorSession(
      resolveConnectionSettings({ natsUrl: globals.natsUrl, seedFile: globals.seedFile }, env, dataDir, cwd),
      globals.timeout,
    );
    const context: CommandContext = {
      call: (contract, request) => session.call(contract, request),
      cwd,
      note: (line) => output.stderr(`${line}\n`),
    };
    try {
      const outcome = await command.run(values, context);
      output.stdout(`${globals.json === true ? JSON.stringify(outcome.json, null, 2) : outcome.text}\n`);
      exitCode = outcome.exitCode ?? ExitCode.ok;
    } catch (err) {
      reportError(await session.explain(err), output);
      exitCode = err instanceof RequestNotSent ? ExitCode.usage : ExitCode.failed;
    } finally {
      await session.close();
    }
  });

  try {
    await program.parseAsync([...options.argv], { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help asked for is a success; help shown because a word was missing is a usage error.
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    reportError(err, output);
    return ExitCode.failed;
  }
}

/** One NATS connection per command, opened on its first call. */
class OperatorSession {
  private connection: Promise<OperatorRpc> | undefined;

  constructor(
    readonly settings: OperatorConnectionSettings,
    private readonly timeoutMs: number,
  ) {}

  async call<C extends RpcContract>(contract: C, request: RpcRequestOf<C>): Promise<RpcResponseOf<C>> {
    // Each option was checked alone; the contract's cross-field rules (min replicas at most max)
    // are checked here, before connecting, so such a command line is refused like a bad option.
    const checked = contract.request.safeParse(request);
    if (!checked.success) throw new RequestNotSent(contract, checked.error);
    this.connection ??= import('./connection/operator-connection.js').then(({ connectAsOperator }) =>
      connectAsOperator(this.settings, this.timeoutMs),
    );
    return (await this.connection).rpc.call(contract, request);
  }

  /** The error to print: NATS refusing this identity a subject becomes `FORBIDDEN`, naming it. */
  async explain(err: unknown): Promise<unknown> {
    if (this.connection === undefined) return err;
    const { permissionRefusal } = await import('./connection/operator-connection.js');
    return permissionRefusal(err, this.settings) ?? err;
  }

  async close(): Promise<void> {
    const connection = await this.connection?.catch(() => undefined);
    await connection?.close();
  }
}

/** A request the contract refuses, so nothing was sent: its issues name the fields. */
class RequestNotSent extends ValidationError {
  constructor(contract: RpcContract, error: z.ZodError) {
    super(`request to ${contract.subject} (nothing was sent)`, toValidationIssues(error), error);
  }
}

type Execute = (
  command: AnyCliCommand,
  values: Readonly<Record<string, unknown>>,
  globals: GlobalOptions,
) => Promise<void>;

function buildProgram(sets: readonly CommandSet[], output: CliOutput, execute: Execute): Command {
  const program = new Command('tessera')
    .description(
      'Operate Tessera: accounts, keys, credit, prices, statements, deposits and dead letters, over NATS as the operator identity.',
    )
    // Before any subcommand exists: subcommands copy these settings.
    .configureOutput({ writeOut: output.stdout, writeErr: output.stderr })
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .configureHelp({ showGlobalOptions: true })
    .helpCommand(false)
    .addOption(new Option('--json', 'print the reply as JSON (amounts in nano-USD / rao strings)'))
    .addOption(
      new Option(
        '--nats-url <url>',
        'NATS server(s); default: NATS_URL, else the URL npm start wrote to .data/nats-keys/nats-url',
      ),
    )
    .addOption(
      new Option(
        '--seed-file <path>',
        "file holding the operator's nkey seed; default: NATS_NKEY_SEED, else .data/nats-keys/operator.nk (npm start)",
      ),
    )
    .addOption(
      new Option('--timeout <ms>', 'how long to wait for each reply')
        .argParser(asCommanderParser(wholeNumber(z.int().min(100).max(600_000))))
        .default(10_000),
    )
    .addHelpText(
      'after',
      `
Run from the repository after \`npm start\`, the CLI finds NATS and the operator's seed by itself.
Amounts are typed as people say them (--usd 5.00) and converted exactly; more decimals than the
unit has are refused, never rounded.

Exit codes: 0 done; 1 refused or failed (the error's code says why); 2 bad command line (nothing
was sent); 3 done, but the check found problems.`,
    );

  const summaries = new Map<string, string>();
  for (const group of sets.flatMap((set) => set.groups)) {
    if (summaries.has(group.name)) throw new Error(`two command groups named ${group.name}`);
    summaries.set(group.name, group.summary);
  }
  // Groups appear where their first command is, so the help lists commands in the table's order.
  const groups = new Map<string, Command>();
  for (const command of sets.flatMap((set) => set.commands)) {
    const [first, second] = command.path;
    if (second === undefined) {
      addCommand(program, first, command, execute);
      continue;
    }
    let group = groups.get(first);
    if (!group) {
      const summary = summaries.get(first);
      if (summary === undefined)
        throw new Error(`${command.path.join(' ')}: no command group named ${first}`);
      group = program.command(first).description(summary).helpCommand(false);
      groups.set(first, group);
    }
    addCommand(group, second, command, execute);
  }
  return program;
}

function addCommand(parent: Command, name: string, command: AnyCliCommand, execute: Execute): void {
  const leaf = parent.command(name).summary(command.summary).description(command.summary);
  const attributes: [string, Option, OptionSpec<unknown>][] = [];
  for (const [valueName, spec] of Object.entries(command.options)) {
    const option = toCommanderOption(spec);
    leaf.addOption(option);
    attributes.push([valueName, option, spec]);
  }
  const after = [
    command.details ?? '',
    command.examples?.length ? `Examples:\n${command.examples.map((line) => `  ${line}`).join('\n')}` : '',
  ].filter((text) => text !== '');
  if (after.length > 0) leaf.addHelpText('after', `\n${after.join('\n\n')}`);
  leaf.action(async (_options: unknown, self: Command) => {
    const given = self.opts<Record<string, unknown>>();
    const values = Object.fromEntries(
      attributes.map(([valueName, option, spec]) => [
        valueName,
        given[option.attributeName()] ?? spec.defaultValue,
      ]),
    );
    await execute(command, values, self.optsWithGlobals<GlobalOptions>());
  });
}

/** Defaults are applied by the action, so the help shows them as each description words them. */
function toCommanderOption(spec: OptionSpec<unknown>): Option {
  const option = new Option(spec.flags, spec.description);
  if (spec.mandatory) option.makeOptionMandatory();
  if (spec.choices) option.choices(spec.choices);
  else if (spec.parse) option.argParser(asCommanderParser(spec.parse));
  return option;
}

/** Commander reports a parser's `InvalidArgumentError` as a usage error naming the option. */
function asCommanderParser<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text);
    } catch (err) {
      throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
    }
  };
}

/**
 * Prints an error as `error <CODE>: <message>`, then one line per invalid field. A `TesseraError`
 * is what a service or this CLI refused on purpose; anything else is a bug (`INTERNAL`).
 */
function reportError(err: unknown, output: CliOutput): void {
  if (!isTesseraError(err)) {
    output.stderr(`error INTERNAL: ${err instanceof Error ? err.message : String(err)}\n`);
    return;
  }
  const lines = [`error ${err.code}: ${err.message}`];
  const issues = err.details?.['issues'];
  if (Array.isArray(issues)) {
    for (const issue of issues as unknown[]) {
      const { path, message } = (issue ?? {}) as { path?: unknown; message?: unknown };
      if (typeof path === 'string' && typeof message === 'string')
        lines.push(`  field ${path || '(request)'}: ${message}`);
    }
  }
  output.stderr(`${lines.join('\n')}\n`);
}
