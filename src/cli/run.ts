// Subcommand dispatch for `driftgate`. Each subcommand lives in its own module, loaded only when
// it runs: `serve` alone pulls in express, the Kubernetes client and TLS, some 30 MB of memory
// that `driftgate audit` or `check` would otherwise carry for nothing.
import type { ParseArgsOptionsConfig } from 'node:util';
import { exitCodes, UsageError, type CliIO, type Command } from './io.js';
import {
  auditOptions,
  certsOptions,
  checkOptions,
  completionOptions,
  completionWords,
  configOptions,
  configWords,
  diffOptions,
  renderOptions,
  scanOptions,
  serveOptions,
} from './options.js';

const lazy =
  (load: () => Promise<Command>): Command =>
  async (argv, io) =>
    (await load())(argv, io);

const serveCommand = lazy(async () => (await import('./serve.js')).serveCommand);
const checkCommand = lazy(async () => (await import('./check.js')).checkCommand);
const diffCommand = lazy(async () => (await import('./diff.js')).diffCommand);
const certsCommand = lazy(async () => (await import('./certs.js')).certsCommand);
const renderCommand = lazy(async () => (await import('./render.js')).renderCommand);
const auditCommand = lazy(async () => (await import('./audit.js')).auditCommand);
const scanCommand = lazy(async () => (await import('./scan.js')).scanCommand);
const configCommand = lazy(async () => (await import('./config.js')).configCommand);
const completionCommand = lazy(async () =>
  (await import('./completion.js')).createCompletionCommand(commands),
);

export interface CommandEntry {
  readonly summary: string;
  /** What the command parses its arguments with (see options.ts); completion lists them. */
  readonly options: ParseArgsOptionsConfig;
  /** Whether it takes files as arguments besides its options. */
  readonly files?: boolean;
  /** The words it takes as its argument (`completion bash`, `config schema`); completion offers them. */
  readonly words?: readonly string[];
  readonly run: Command;
}

export const commands: Readonly<Record<string, CommandEntry>> = {
  serve: {
    summary: 'serve the admission webhooks (without --config: the bundled example)',
    options: serveOptions,
    run: serveCommand,
  },
  check: {
    summary: 'decide writes offline, from manifests or an AdmissionReview (exit 1 if denied)',
    options: checkOptions,
    run: checkCommand,
  },
  diff: {
    summary: 'compare a desired manifest with a live object (exit 1 on drift)',
    options: diffOptions,
    run: diffCommand,
  },
  certs: {
    summary: 'create the CA and serving certificate for the webhook, print its caBundle',
    options: certsOptions,
    run: certsCommand,
  },
  render: {
    summary: 'print the desired objects rendered from Git (exit 1 if a source fails)',
    options: renderOptions,
    run: renderCommand,
  },
  audit: {
    summary: 'review decision logs and API server audit logs: denials, break-glass, drift',
    options: auditOptions,
    run: auditCommand,
    files: true,
  },
  completion: {
    summary: 'print a shell completion script: completion bash|zsh|fish',
    options: completionOptions,
    words: completionWords,
    run: completionCommand,
  },
  config: {
    summary: 'print the JSON Schema of the config file: config schema',
    options: configOptions,
    words: configWords,
    run: configCommand,
  },
  scan: {
    summary: 'compare every object Git declares with the cluster (exit 1 on drift or missing)',
    options: scanOptions,
    run: scanCommand,
  },
};

function usage(program: string): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `Usage: ${program} <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun '${program} <command> --help' for a command's options.\n`;
}

export async function runCli(
  argv: readonly string[],
  io: CliIO & {
    readonly version: string;
    /** How the user called it: `driftgate`, or `kubectl driftgate` for the kubectl plugin. */
    readonly program?: string;
  },
): Promise<number> {
  const program = io.program ?? 'driftgate';
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(usage(program));
    return name === undefined ? exitCodes.badInput : exitCodes.ok;
  }
  if (name === '--version' || name === 'version') {
    io.stdout(`${io.version}\n`);
    return exitCodes.ok;
  }
  const command = commands[name];
  if (command === undefined) {
    io.stderr(`${program}: unknown command '${name}'\n\n${usage(program)}`);
    return exitCodes.badInput;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`${program} ${name}: ${error.message}\n`);
      return exitCodes.badInput;
    }
    throw error;
  }
}
