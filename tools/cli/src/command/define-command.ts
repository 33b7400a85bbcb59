import { type RpcContract, type RpcRequestOf, type RpcResponseOf } from '@tessera/contracts';
import { type OptionSpec } from './options.js';

/** What a command gets besides its option values. */
export interface CommandContext {
  /** Calls a service over NATS as the operator (the connection opens on the first call). */
  call<C extends RpcContract>(contract: C, request: RpcRequestOf<C>): Promise<RpcResponseOf<C>>;
  /** Where relative paths the operator typed are resolved (the shell's directory, also under `npm run`). */
  readonly cwd: string;
  /** A line for the operator on stderr, kept out of the output scripts read. */
  note(line: string): void;
}

/** What a command produced: the reply as JSON (`--json`) and as text for people. */
export interface CommandOutcome {
  readonly json: unknown;
  readonly text: string;
  /** 0 unless the command found problems it reports (a reconciliation that disagrees). */
  readonly exitCode?: number;
}

/** A command's options by value name; the values' types follow from the specs. */
export type OptionSpecs<Values> = { readonly [Name in keyof Values]: OptionSpec<Values[Name]> };

/** One `tessera` command, e.g. `tessera accounts open`. */
export interface CliCommand<Values> {
  /** The words after `tessera`: a group and a verb (`['accounts', 'open']`), or one word (`['credit']`). */
  readonly path: readonly [string] | readonly [string, string];
  /** One line, shown in the group's list and on top of the command's help. */
  readonly summary: string;
  /** More help after the options: what the command does that the summary cannot say. */
  readonly details?: string;
  /** Command lines shown under "Examples" in the help. */
  readonly examples?: readonly string[];
  readonly options: OptionSpecs<Values>;
  run(values: Values, context: CommandContext): Promise<CommandOutcome>;
}

/** A command with its value types erased, as the command table holds them. */
export interface AnyCliCommand {
  readonly path: readonly [string] | readonly [string, string];
  readonly summary: string;
  readonly details?: string;
  readonly examples?: readonly string[];
  readonly options: Readonly<Record<string, OptionSpec<unknown>>>;
  run(values: Readonly<Record<string, unknown>>, context: CommandContext): Promise<CommandOutcome>;
}

/**
 * Declares a command; `run` receives each option already parsed by its spec (amounts in base
 * units, ids checked against the contract), so it only builds the request and the output.
 */
export function defineCommand<Values>(command: CliCommand<Values>): AnyCliCommand {
  // The program fills `values` from exactly these specs, so each value has its spec's type.
  return command as unknown as AnyCliCommand;
}

/** A group of commands (`accounts`), with the line its `--help` starts with. */
export interface CommandGroup {
  readonly name: string;
  readonly summary: string;
}

/** What one service (or one concern) adds to `tessera`: its groups and its commands. */
export interface CommandSet {
  readonly groups: readonly CommandGroup[];
  readonly commands: readonly AnyCliCommand[];
}
