#!/usr/bin/env node
// The `driftgate` command, also installed as `kubectl-driftgate` (the kubectl plugin) and
// `kubectl_complete-driftgate` (its completion): checks the Node.js version, then picks a
// subcommand and hands it the process's I/O.
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
  const { runCli, commands } = await import('./cli/run.js');
  const name = basename(process.argv[1] ?? '');
  if (name.startsWith('kubectl_complete-')) {
    // kubectl asks its plugin for completions through this executable (kubectl 1.26 and later).
    const { kubectlCompletion } = await import('./cli/completion.js');
    process.stdout.write(kubectlCompletion(commands, process.argv.slice(2)));
  } else {
    process.exitCode = await runCli(process.argv.slice(2), {
      stdout: (text) => process.stdout.write(text),
      stderr: (text) => process.stderr.write(text),
      cwd: process.cwd(),
      env: process.env,
      stderrIsTerminal: process.stderr.isTTY,
      version,
      // kubectl runs a plugin by its file name, kubectl-driftgate: messages then say how it was called.
      program: name.startsWith('kubectl-') ? 'kubectl driftgate' : 'driftgate',
    });
  }
}
