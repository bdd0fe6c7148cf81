// What a CLI command may touch of the outside world, passed in so tests can run commands
// in-process and read exactly what a user would see.
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { helpOption } from './options.js';

export interface CliIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Standard error is a terminal: commands may show progress there. */
  readonly stderrIsTerminal?: boolean;
}

/** A subcommand: takes its own arguments (after the subcommand name), returns the exit code. */
export type Command = (argv: readonly string[], io: CliIO) => Promise<number>;

/** Exit codes shared by every subcommand. */
export const exitCodes = {
  ok: 0,
  /** `diff`: drift found; `check`: denied; `render`: a source failed; `scan`: drift or missing. */
  finding: 1,
  badInput: 2,
} as const;

/** An error whose message is meant for the user as it is: printed without a stack trace. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * Parses a subcommand's options strictly (unknown options and stray arguments are errors that
 * show the help), always with `-h/--help`.
 */
export function parseCommandArgs<const O extends ParseArgsOptionsConfig>(
  argv: readonly string[],
  options: O,
  help: string,
) {
  try {
    return parseArgs({
      args: [...argv],
      options: { ...options, ...helpOption },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${help}`);
  }
}
