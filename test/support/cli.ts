// Runs the `driftgate` CLI in-process, capturing what a user would see on each stream.
import { runCli } from '../../src/cli/run.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function runDriftgate(cwd: string, ...argv: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    cwd,
    env: {},
    version: '0.0.0-test',
  });
  return { code, stdout, stderr };
}
