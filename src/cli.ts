#!/usr/bin/env node
// The `driftgate` command, also installed as `kubectl-driftgate` (the kubectl plugin): checks
// the Node.js version, then picks a subcommand and hands it the process's I/O.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { nodeVersionProblem } from './cli/node-version.js';

const { version, engines } = JSON.parse(
  readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
) as { version: string; engines?: { node?: string } };

const problem = nodeVersionProblem(engines?.node ?? '', process.versions.node);
if (problem !== null) {
  process.stderr.write(`${problem}\n`);
  process.exitCode = 2;
} else {
  // Imported only once the version is known to be good: the commands use APIs older Node
  // versions lack, and would fail with a stack trace instead of the line above.
  const { runCli } = await import('./cli/run.js');
  process.exitCode = await runCli(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    cwd: process.cwd(),
    env: process.env,
    version,
    // kubectl runs a plugin by its file name, kubectl-driftgate: messages then say how it was called.
    program: basename(process.argv[1] ?? '').startsWith('kubectl-')
      ? 'kubectl driftgate'
      : 'driftgate',
  });
}
