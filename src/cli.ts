#!/usr/bin/env node
// The `driftgate` command: picks a subcommand and hands it the process's I/O.
import { readFileSync } from 'node:fs';
import { runCli } from './cli/run.js';

const { version } = JSON.parse(
  readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
) as { version: string };

const code = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  cwd: process.cwd(),
  env: process.env,
  stderrIsTerminal: process.stderr.isTTY,
  version,
});
process.exitCode = code;
