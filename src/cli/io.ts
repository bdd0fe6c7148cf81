// What a CLI command may touch of the outside world, passed in so tests can run commands
// in-process and read exactly what a user would see.

export interface CliIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** A subcommand: takes its own arguments (after the subcommand name), returns the exit code. */
export type Command = (argv: readonly string[], io: CliIO) => Promise<number>;

/** Exit codes shared by every subcommand. */
export const exitCodes = {
  ok: 0,
  /** `diff`: drift found; `check`: denied; `render`: a source failed. */
  finding: 1,
  badInput: 2,
} as const;

/** An error whose message is meant for the user as it is: printed without a stack trace. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
