// `driftgate completion bash|zsh|fish` lists the real commands and options (it is made from the
// tables the commands parse with), every one it lists is accepted, and bash completes with it.
// The package also installs the CLI as kubectl-driftgate, the kubectl plugin.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { completionScript } from '../src/cli/completion.js';
import { commands } from '../src/cli/run.js';
import { runDriftgate } from './support/cli.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'driftgate-completion-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const SHELLS = ['bash', 'zsh', 'fish'] as const;
const names = Object.keys(commands);

async function script(shell: string): Promise<string> {
  const result = await runDriftgate(dir, 'completion', shell);
  expect(result.code).toBe(0);
  return result.stdout;
}

/** The commands and, per command, the option words a script offers. */
function listed(shell: (typeof SHELLS)[number], text: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const add = (command: string, words: string[]) =>
    found.set(command, [...(found.get(command) ?? []), ...words]);
  if (shell === 'bash') {
    for (const [, command, opts] of text.matchAll(/^ {4}([\w-]+)\)\n {6}opts="([^"]*)"/gm)) {
      add(
        command ?? '',
        (opts ?? '').split(' ').filter((w) => w !== ''),
      );
    }
  } else if (shell === 'zsh') {
    for (const [, command, specs] of text.matchAll(/^ {4}([\w-]+)\) _arguments(.*) ;;$/gm)) {
      const words = [
        ...(specs ?? '').matchAll(/--[\w-]+/g),
        ...(specs ?? '').matchAll(/(?<=,)-\w(?=\})/g),
      ].map((m) => m[0]);
      add(command ?? '', words);
    }
  } else {
    for (const [, command] of text.matchAll(
      /^complete -c driftgate -n 'not [^']*' -a ([\w-]+) /gm,
    )) {
      add(command ?? '', []);
    }
    for (const [, command, long, short] of text.matchAll(
      /^complete -c driftgate -n '__fish_seen_subcommand_from ([\w-]+)' -l ([\w-]+)(?: -s (\w))?/gm,
    )) {
      add(command ?? '', [`--${long ?? ''}`, ...(short === undefined ? [] : [`-${short}`])]);
    }
  }
  return found;
}

describe('driftgate completion', () => {
  it.each(SHELLS)('%s: lists every command, each with options', async (shell) => {
    const offered = listed(shell, await script(shell));
    expect([...offered.keys()]).toEqual(names);
    for (const [command, words] of offered) {
      expect(words, command).toContain('--help');
    }
    expect(offered.get('check')).toEqual(
      expect.arrayContaining([
        '--config',
        '--object',
        '--old',
        '--operation',
        '--group',
        '--output',
      ]),
    );
    expect(offered.get('render')).toEqual(expect.arrayContaining(['--output', '-o']));
  });

  it.each(SHELLS)('%s: every option it lists is accepted by its command', async (shell) => {
    const offered = listed(shell, await script(shell));
    let checked = 0;
    for (const [command, words] of offered) {
      const entry = commands[command];
      expect(entry, command).toBeDefined();
      for (const word of words) {
        if (word === '--help' || word === '-h') continue;
        const long = word.startsWith('--')
          ? word.slice(2)
          : Object.entries(entry?.options ?? {}).find(([, o]) => o.short === word.slice(1))?.[0];
        const takesValue = (entry?.options ?? {})[long ?? '']?.type === 'string';
        // With --help the command parses everything, then prints its help: exit 0 means accepted.
        const result = await runDriftgate(
          dir,
          command,
          word,
          ...(takesValue ? ['x'] : []),
          '--help',
        );
        expect(result, `${command} ${word}`).toMatchObject({ code: 0 });
        expect(result.stdout).toMatch(/^Usage: /);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(30);
  });

  it('an option a command does not have is refused: the check above can fail', async () => {
    const result = await runDriftgate(dir, 'check', '--no-such-option', '--help');
    expect(result.code).toBe(2);
  });

  it.each(SHELLS)('%s: offers the words a command takes (config schema)', async (shell) => {
    const text = await script(shell);
    const line = {
      bash: /^ {4}config\)\n(?: {6}.*\n)*? {6}words="schema"$/m,
      zsh: /^ {4}config\) _arguments .*'1:argument:\(schema\)' ;;$/m,
      fish: /^complete -c driftgate -n '__fish_seen_subcommand_from config' -a 'schema'$/m,
    }[shell];
    expect(text).toMatch(line);
  });

  it('a command added to the table appears in every script', () => {
    const withScan = {
      ...commands,
      scan: { summary: 'a new command', options: { context: { type: 'string' as const } } },
    };
    for (const shell of SHELLS) {
      const offered = listed(shell, completionScript(shell, withScan));
      expect(offered.get('scan'), shell).toEqual(['--context', '--help', '-h']);
    }
  });

  it('bash: the script is valid and completes commands, options and files', async () => {
    const file = join(dir, 'driftgate.bash');
    writeFileSync(file, await script('bash'));
    expect(spawnSync('bash', ['-n', file]).status).toBe(0);
    const complete = (...words: string[]) => {
      const line = words.map((w) => `'${w}'`).join(' ');
      const result = spawnSync(
        'bash',
        [
          '-c',
          `source '${file}'; COMP_WORDS=(${line}); COMP_CWORD=${words.length - 1}; _driftgate; printf '%s\\n' "\${COMPREPLY[@]}"`,
        ],
        { encoding: 'utf8', cwd: dir },
      );
      expect(result.stderr).toBe('');
      return result.stdout.split('\n').filter((w) => w !== '');
    };
    expect(complete('driftgate', 'ch')).toEqual(['check']);
    expect(complete('driftgate', 'c')).toEqual(['check', 'certs', 'completion', 'config']);
    expect(complete('driftgate', 'config', '')).toEqual(['schema']);
    expect(complete('driftgate', 'completion', 'z')).toEqual(['zsh']);
    expect(complete('driftgate', 'config', '--h')).toEqual(['--help']);
    expect(complete('driftgate', 'check', '--ob')).toEqual(['--object']);
    expect(complete('kubectl-driftgate', 'audit', '--break')).toEqual(['--break-glass']);
    writeFileSync(join(dir, 'manifest.yaml'), 'kind: ConfigMap\n');
    expect(complete('driftgate', 'check', '--object', 'mani')).toEqual(['manifest.yaml']);
  });

  it.each([[[]], [['tcsh']], [['bash', 'zsh']]])('refuses %j: exit 2', async (argv) => {
    const result = await runDriftgate(dir, 'completion', ...argv);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('give one shell: bash, zsh or fish');
  });
});

describe('kubectl-driftgate, the kubectl plugin', () => {
  it('is installed from the same file as driftgate, with its completion for kubectl', () => {
    const { bin } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
    };
    expect(bin['kubectl-driftgate']).toBe(bin.driftgate);
    expect(bin['kubectl_complete-driftgate']).toBe(bin.driftgate);
  });

  it.each([
    { words: ['ch'], output: 'check\n:4\n' },
    { words: ['check', '--ob'], output: '--object\n:4\n' },
    { words: ['render', '-'], output: '--config\n--output\n-o\n--help\n-h\n:4\n' },
    // The word a command takes: config schema, completion bash|zsh|fish.
    { words: ['config', ''], output: 'schema\n:4\n' },
    { words: ['completion', 'f'], output: 'fish\n:4\n' },
    // A value of an option, or an audit log file: kubectl completes file names (directive 0).
    { words: ['check', '--object', ''], output: ':0\n' },
    { words: ['audit', 'aud'], output: ':0\n' },
  ])('kubectl_complete-driftgate $words prints $output', ({ words, output }) => {
    const plugin = join(dir, 'kubectl_complete-driftgate');
    rmSync(plugin, { force: true });
    symlinkSync(join(root, 'src/cli.ts'), plugin);
    const result = spawnSync(
      process.execPath,
      ['--import', import.meta.resolve('tsx'), plugin, ...words],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(output);
  });

  it('called by that name, it says how it was called', () => {
    const plugin = join(dir, 'kubectl-driftgate');
    symlinkSync(join(root, 'src/cli.ts'), plugin);
    const result = spawnSync(
      process.execPath,
      ['--import', import.meta.resolve('tsx'), plugin, 'help'],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^Usage: kubectl driftgate <command> \[options\]/);
    expect(result.stdout).toContain("Run 'kubectl driftgate <command> --help'");
  });
});
