// `driftgate render`: fetch and render every configured Git source once and print the desired
// objects (key, source, file, commit), conflicts and errors. Exit 0 ok, 1 a source failed, 2 bad input.
import { parseArgs } from 'node:util';
import { dump } from 'js-yaml';
import type { SourceStatus } from '../desired/provider.js';
import { formatConflict, type DesiredSnapshot } from '../desired/snapshot.js';
import { formatKey } from '../kube/object.js';
import { readConfig, renderOnce } from './one-shot.js';
import { exitCodes, UsageError, type Command } from './io.js';
import { helpOption, renderOptions } from './options.js';

const HELP = `Usage: driftgate render --config FILE [--output table|json|yaml]

Fetches every Git source of the config file, renders it as driftgate would, and prints each
desired object with its source, file and commit, then any conflicting declarations and any
source that failed. Nothing is persisted; clones go to the config's cacheDir.

Options:
  --config FILE        driftgate config file (required)
  --output FORMAT      table (default), json or yaml; json and yaml include the objects

Exit status: 0 rendered, 1 a source failed, 2 bad input.
`;

const OUTPUTS = ['table', 'json', 'yaml'] as const;
type Output = (typeof OUTPUTS)[number];

function parse(argv: readonly string[]): { config: string; output: Output } | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { ...renderOptions, ...helpOption },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n\n${HELP}`);
  }
  if (values.help === true) return 'help';
  if (values.config === undefined) throw new UsageError(`--config is required\n\n${HELP}`);
  const output = values.output;
  if (!(OUTPUTS as readonly string[]).includes(output)) {
    throw new UsageError(`--output must be one of ${OUTPUTS.join(', ')}, not "${output}"`);
  }
  return { config: values.config, output: output as Output };
}

function report(snapshot: DesiredSnapshot, statuses: readonly SourceStatus[]) {
  return {
    objects: [...snapshot.entries()].map((entry) => ({
      key: formatKey(entry.key),
      ...entry.key,
      source: entry.source,
      file: entry.file,
      line: entry.line,
      commit: entry.commit,
      object: entry.object,
    })),
    conflicts: snapshot.conflicts.map((conflict) => ({
      key: formatKey(conflict.key),
      kept: conflict.kept,
      dropped: conflict.dropped,
      message: formatConflict(conflict),
    })),
    sources: statuses.map(({ name, repoURL, revision, commit, objects, lastError }) => ({
      name,
      repoURL,
      revision,
      commit,
      objects,
      error: lastError === null ? null : { code: lastError.code, message: lastError.message },
    })),
  };
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows.reduce<number[]>(
    (max, row) => row.map((cell, index) => Math.max(max[index] ?? 0, cell.length)),
    [],
  );
  return rows
    .map((row) =>
      row
        .map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index] ?? 0)))
        .join('  '),
    )
    .join('\n');
}

function formatTable(result: ReturnType<typeof report>): string {
  const lines: string[] = [];
  lines.push(
    table([
      ['KEY', 'SOURCE', 'FILE', 'COMMIT'],
      ...result.objects.map((object) => [
        object.key,
        object.source,
        `${object.file}:${object.line}`,
        object.commit.slice(0, 12),
      ]),
    ]),
  );
  lines.push('', `${result.objects.length} objects`);
  if (result.conflicts.length > 0) {
    lines.push('', 'Conflicts (the first declaration is used):');
    for (const conflict of result.conflicts) lines.push(`  ${conflict.message}`);
  }
  const failed = result.sources.filter((source) => source.error !== null);
  if (failed.length > 0) {
    lines.push('', 'Failed sources:');
    for (const source of failed) {
      lines.push(`  ${source.error?.message ?? ''} [${source.error?.code ?? ''}]`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export const renderCommand: Command = async (argv, io) => {
  const args = parse(argv);
  if (args === 'help') {
    io.stdout(HELP);
    return exitCodes.ok;
  }
  const config = await readConfig(args.config, io.cwd);
  if (config.sources.length === 0) {
    io.stderr('driftgate render: the config has no Git sources to render\n');
    return exitCodes.ok;
  }
  const { snapshot, status } = await renderOnce(config, io.cwd);
  const result = report(snapshot, status);
  if (args.output === 'json') io.stdout(`${JSON.stringify(result, null, 2)}\n`);
  else if (args.output === 'yaml') io.stdout(dump(result, { noRefs: true }));
  else io.stdout(formatTable(result));
  return result.sources.some((source) => source.error !== null) ? exitCodes.finding : exitCodes.ok;
};
