// `driftgate completion bash|zsh|fish`: a completion script for the shell, made from the command
// table and the option tables the commands parse with, for `driftgate` and `kubectl-driftgate`.
import type { ParseArgsOptionsConfig } from 'node:util';
import { exitCodes, UsageError, type Command, parseCommandArgs } from './io.js';
import { completionOptions, completionWords, helpOption } from './options.js';

export interface CompletionEntry {
  readonly summary: string;
  readonly options: ParseArgsOptionsConfig;
  readonly files?: boolean;
  /** The words the command takes as its argument, offered where no option is being typed. */
  readonly words?: readonly string[];
}

const HELP = `Usage: driftgate completion bash|zsh|fish

Prints a completion script for the shell, covering every command and option of driftgate and
of kubectl-driftgate (the kubectl plugin). Load it with, for example:

  bash:  source <(driftgate completion bash)          (or save it in ~/.local/share/bash-completion/completions/driftgate)
  zsh:   driftgate completion zsh > "\${fpath[1]}/_driftgate"
  fish:  driftgate completion fish > ~/.config/fish/completions/driftgate.fish

Exit status: 0 printed, 2 bad input.
`;

const SHELLS = completionWords;
type Shell = (typeof SHELLS)[number];
const PROGRAMS = ['driftgate', 'kubectl-driftgate'] as const;

interface Flag {
  readonly long: string;
  readonly short: string | undefined;
  readonly takesValue: boolean;
  readonly repeatable: boolean;
}

/** Every option of a command as the command accepts it, `--help` included. */
export function flagsOf(options: ParseArgsOptionsConfig): Flag[] {
  const all: ParseArgsOptionsConfig = { ...options, ...helpOption };
  return Object.entries(all).map(([long, option]) => ({
    long,
    short: option.short,
    takesValue: option.type === 'string',
    repeatable: option.multiple === true,
  }));
}

export function completionScript(
  shell: Shell,
  commands: Readonly<Record<string, CompletionEntry>>,
): string {
  const entries = Object.entries(commands);
  switch (shell) {
    case 'bash':
      return bash(entries);
    case 'zsh':
      return zsh(entries);
    case 'fish':
      return fish(entries);
  }
}

type Entries = readonly (readonly [string, CompletionEntry])[];

function bash(entries: Entries): string {
  const cases = entries.map(([name, entry]) => {
    const flags = flagsOf(entry.options);
    const words = flags.flatMap((f) => [
      `--${f.long}`,
      ...(f.short === undefined ? [] : [`-${f.short}`]),
    ]);
    const valued = flags
      .filter((f) => f.takesValue)
      .flatMap((f) => [`--${f.long}`, ...(f.short === undefined ? [] : [`-${f.short}`])]);
    return [
      `    ${name})`,
      `      opts="${words.join(' ')}"`,
      `      valued="${valued.join(' ')}"`,
      `      files=${entry.files === true ? 1 : 0}`,
      `      words="${(entry.words ?? []).join(' ')}"`,
      '      ;;',
    ].join('\n');
  });
  return `# bash completion for driftgate and kubectl-driftgate (made by 'driftgate completion bash')
_driftgate() {
  local cur=\${COMP_WORDS[COMP_CWORD]}
  local prev=\${COMP_WORDS[COMP_CWORD-1]}
  local first=1
  if [ "$COMP_CWORD" -eq "$first" ]; then
    COMPREPLY=($(compgen -W "${entries.map(([name]) => name).join(' ')} --help --version" -- "$cur"))
    return
  fi
  local opts="" valued="" files=0 words=""
  case "\${COMP_WORDS[first]}" in
${cases.join('\n')}
    *) return ;;
  esac
  if [ -n "$valued" ] && [[ " $valued " == *" $prev "* ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
    return
  fi
  if [[ "$cur" != -* ]] && [ -n "$words" ]; then
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  elif [[ "$cur" == -* ]] || [ "$files" -eq 0 ]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -F _driftgate ${PROGRAMS.join(' ')}
`;
}

/** Text inside single quotes of a zsh or fish word. */
const quoted = (text: string) => text.replace(/'/g, `'\\''`);

function zsh(entries: Entries): string {
  const describe = entries.map(
    ([name, entry]) => `    '${quoted(name)}:${quoted(entry.summary.replace(/:/g, '\\:'))}'`,
  );
  const cases = entries.map(([name, entry]) => {
    const specs = flagsOf(entry.options).map((f) => {
      const value = f.takesValue ? `:${f.long}:_files` : '';
      const repeat = f.repeatable ? "'*'" : '';
      // {--output,-o} must stay outside the quotes for zsh to expand it into both names.
      return f.short === undefined
        ? `'${f.repeatable ? '*' : ''}--${f.long}${value}'`
        : `${repeat}{--${f.long},-${f.short}}${value === '' ? '' : `'${value}'`}`;
    });
    if (entry.files === true) specs.push("'*:file:_files'");
    if (entry.words !== undefined) specs.push(`'1:argument:(${entry.words.join(' ')})'`);
    return `    ${name}) _arguments ${specs.join(' ')} ;;`;
  });
  return `#compdef ${PROGRAMS.join(' ')}
# zsh completion for driftgate and kubectl-driftgate (made by 'driftgate completion zsh')
_driftgate() {
  local -a commands
  commands=(
${describe.join('\n')}
  )
  if (( CURRENT == 2 )); then
    _describe 'driftgate command' commands
    return
  fi
  local command=$words[2]
  shift words
  (( CURRENT-- ))
  case $command in
${cases.join('\n')}
  esac
}
compdef _driftgate ${PROGRAMS.join(' ')}
`;
}

function fish(entries: Entries): string {
  const lines: string[] = [
    "# fish completion for driftgate and kubectl-driftgate (made by 'driftgate completion fish')",
  ];
  const names = entries.map(([name]) => name).join(' ');
  for (const program of PROGRAMS) {
    lines.push(`complete -c ${program} -f`);
    for (const [name, entry] of entries) {
      lines.push(
        `complete -c ${program} -n 'not __fish_seen_subcommand_from ${names}' -a ${name} -d '${quoted(entry.summary)}'`,
      );
      const when = `-n '__fish_seen_subcommand_from ${name}'`;
      for (const flag of flagsOf(entry.options)) {
        const short = flag.short === undefined ? '' : ` -s ${flag.short}`;
        lines.push(
          `complete -c ${program} ${when} -l ${flag.long}${short}${flag.takesValue ? ' -r -F' : ''}`,
        );
      }
      if (entry.files === true) lines.push(`complete -c ${program} ${when} -F`);
      if (entry.words !== undefined) {
        lines.push(`complete -c ${program} ${when} -a '${quoted(entry.words.join(' '))}'`);
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * What to offer for the word being typed (the last of `words`, which follow the program name):
 * the candidates, and whether file names fit too. For `kubectl driftgate`, whose completion
 * kubectl asks of the executable kubectl_complete-driftgate.
 */
export function candidates(
  commands: Readonly<Record<string, CompletionEntry>>,
  words: readonly string[],
): { readonly words: string[]; readonly files: boolean } {
  const current = words.at(-1) ?? '';
  const [name] = words;
  if (words.length <= 1) {
    const all = [...Object.keys(commands), '--help', '--version'];
    return { words: all.filter((w) => w.startsWith(current)), files: false };
  }
  const entry = commands[name ?? ''];
  if (entry === undefined) return { words: [], files: false };
  const flags = flagsOf(entry.options);
  const previous = words.at(-2) ?? '';
  const valued = flags.some(
    (f) => f.takesValue && (previous === `--${f.long}` || previous === `-${f.short ?? ''}`),
  );
  if (valued) return { words: [], files: true };
  if (!current.startsWith('-') && entry.words !== undefined) {
    return { words: entry.words.filter((w) => w.startsWith(current)), files: false };
  }
  if (!current.startsWith('-') && entry.files === true) return { words: [], files: true };
  const all = flags.flatMap((f) => [
    `--${f.long}`,
    ...(f.short === undefined ? [] : [`-${f.short}`]),
  ]);
  return { words: all.filter((w) => w.startsWith(current)), files: false };
}

/** Cobra's completion directives, which kubectl reads from a plugin's completion executable. */
const DIRECTIVE = { default: 0, noFiles: 4 } as const;

/** The output of kubectl_complete-driftgate: one candidate per line, then `:<directive>`. */
export function kubectlCompletion(
  commands: Readonly<Record<string, CompletionEntry>>,
  words: readonly string[],
): string {
  const offer = candidates(commands, words.length === 0 ? [''] : words);
  const directive = offer.files ? DIRECTIVE.default : DIRECTIVE.noFiles;
  return `${[...offer.words, `:${directive}`].join('\n')}\n`;
}

export function createCompletionCommand(
  commands: Readonly<Record<string, CompletionEntry>>,
): Command {
  return async (argv, io) => {
    const values = parseCommandArgs(
      argv.filter((a) => a.startsWith('-')),
      completionOptions,
      HELP,
    );
    if (values.help === true) {
      io.stdout(HELP);
      return exitCodes.ok;
    }
    const shells = argv.filter((a) => !a.startsWith('-'));
    const [shell] = shells;
    if (shells.length !== 1 || !(SHELLS as readonly string[]).includes(shell ?? '')) {
      throw new UsageError(`give one shell: bash, zsh or fish\n\n${HELP}`);
    }
    io.stdout(completionScript(shell as Shell, commands));
    return Promise.resolve(exitCodes.ok);
  };
}
