// Subcommand dispatch for `driftgate`. Each subcommand lives in its own module, loaded only when
// it runs: `serve` alone pulls in express, the Kubernetes client and TLS, some 30 MB of memory
// that `driftgate audit` or `check` would otherwise carry for nothing.
import { exitCodes, UsageError, type CliIO, type Command } from './io.js';

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

const commands: Readonly<Record<string, { summary: string; run: Command }>> = {
  serve: {
    summary: 'serve the admission webhooks (without --config: the bundled example)',
    run: serveCommand,
  },
  check: {
    summary: 'decide one AdmissionReview offline, print the response (exit 1 if denied)',
    run: checkCommand,
  },
  diff: {
    summary: 'compare a desired manifest with a live object (exit 1 on drift)',
    run: diffCommand,
  },
  certs: {
    summary: 'create the CA and serving certificate for the webhook, print its caBundle',
    run: certsCommand,
  },
  render: {
    summary: 'print the desired objects rendered from Git (exit 1 if a source fails)',
    run: renderCommand,
  },
  audit: {
    summary: 'review decision logs and API server audit logs: denials, break-glass, drift',
    run: auditCommand,
  },
  scan: {
    summary: 'compare every object Git declares with the cluster (exit 1 on drift or missing)',
    run: scanCommand,
  },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`);
  return `Usage: driftgate <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun 'driftgate <command> --help' for a command's options.\n`;
}

export async function runCli(
  argv: readonly string[],
  io: CliIO & { readonly version: string },
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(usage());
    return name === undefined ? exitCodes.badInput : exitCodes.ok;
  }
  if (name === '--version' || name === 'version') {
    io.stdout(`${io.version}\n`);
    return exitCodes.ok;
  }
  const command = commands[name];
  if (command === undefined) {
    io.stderr(`driftgate: unknown command '${name}'\n\n${usage()}`);
    return exitCodes.badInput;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`driftgate ${name}: ${error.message}\n`);
      return exitCodes.badInput;
    }
    throw error;
  }
}
