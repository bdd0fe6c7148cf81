// `driftgate config schema`: print the config file's JSON Schema, so an editor checks and
// completes a config with `# yaml-language-server: $schema=<file>` as its first line.
import { configJsonSchema } from '../config/schema.js';
import { exitCodes, UsageError, type Command, parseCommandArgs } from './io.js';
import { configOptions, configWords } from './options.js';

const HELP = `Usage: driftgate config schema

Prints the JSON Schema (draft-07) of driftgate's config file: every key with its type, default
and description. Save it and name it on the config's first line for completion and checks in
any editor that uses yaml-language-server (VS Code's YAML extension, JetBrains, Neovim):

  driftgate config schema > driftgate-config.schema.json
  # yaml-language-server: $schema=./driftgate-config.schema.json

docs/config.md documents the same keys.

Exit status: 0 printed, 2 bad input.
`;

export const configCommand: Command = (argv, io) => {
  const values = parseCommandArgs(
    argv.filter((a) => a.startsWith('-')),
    configOptions,
    HELP,
  );
  if (values.help === true) {
    io.stdout(HELP);
    return Promise.resolve(exitCodes.ok);
  }
  const words = argv.filter((a) => !a.startsWith('-'));
  if (words.length !== 1 || words[0] !== 'schema') {
    throw new UsageError(`give what to print: ${configWords.join(', ')}\n\n${HELP}`);
  }
  io.stdout(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  return Promise.resolve(exitCodes.ok);
};
