// `driftgate diff`: compare a desired manifest with a live object, offline, with the same
// engine the webhook uses. Exit 0 when in sync, 1 on drift, 2 on bad input.
import {
  diff,
  diffWrite,
  type DiffOptions,
  type FieldDrift,
  type FieldPolicy,
} from '../drift/diff.js';
import { validateIgnoreRules, type IgnoreRule } from '../drift/ignore.js';
import { builtinScope } from '../kube/builtin.js';
import { formatKey, keyOf, sameKey, type KubeObject, type ScopeOf } from '../kube/object.js';
import { readDocuments, readObjectFile } from './files.js';
import { exitCodes, UsageError, type Command, parseCommandArgs } from './io.js';
import { diffOptions } from './options.js';

const HELP = `Usage: driftgate diff --desired FILE --live FILE [options]

Compares the fields a desired manifest declares with a live object (YAML or JSON, one object
per file). With --old, reports only the drift that the change from --old to --live introduced.

Options:
  --desired FILE          the manifest from Git
  --live FILE             the object as the API server has it
  --old FILE              the object before the write (judge a write, as the webhook does)
  --field-policy POLICY   declared (default) or strict: with --old, also undeclared fields the
                          write changed
  --ignore FILE           a YAML list of rules written as Argo CD's spec.ignoreDifferences
  --namespace NS          namespace for a namespaced manifest that does not name one
  --output FORMAT         text (default) or json: [{path, pointer, desired, live}]

Exit status: 0 no drift, 1 drift, 2 bad input.
`;

export const diffCommand: Command = async (argv, io) => {
  const values = parseCommandArgs(argv, diffOptions, HELP);
  if (values.help === true) {
    io.stdout(HELP);
    return exitCodes.ok;
  }
  if (values.desired === undefined || values.live === undefined) {
    throw new UsageError(`--desired and --live are required\n\n${HELP}`);
  }
  const policy = values['field-policy'];
  if (policy !== 'declared' && policy !== 'strict') {
    throw new UsageError(`--field-policy must be declared or strict, not '${policy}'`);
  }
  const output = values.output;
  if (output !== 'text' && output !== 'json') {
    throw new UsageError(`--output must be text or json, not '${output}'`);
  }
  if (policy === 'strict' && values.old === undefined) {
    throw new UsageError('--field-policy strict judges a write: it needs --old');
  }

  const desired = await readObjectFile(values.desired, io.cwd);
  const live = await readObjectFile(values.live, io.cwd);
  const old = values.old === undefined ? undefined : await readObjectFile(values.old, io.cwd);
  const ignore = values.ignore === undefined ? [] : await readIgnoreRules(values.ignore, io.cwd);
  const defaultNamespace = values.namespace ?? live.metadata?.namespace;
  checkSameObject(values.desired, desired, values.live, live, defaultNamespace);
  if (old !== undefined && values.old !== undefined) {
    checkSameObject(values.old, old, values.live, live, defaultNamespace);
  }

  const options: DiffOptions & { fieldPolicy: FieldPolicy } = {
    ignore,
    fieldPolicy: policy,
    ...(values.namespace === undefined ? {} : { defaultNamespace: values.namespace }),
  };
  const drift =
    old === undefined
      ? { introduced: diff(desired, live, options), preexisting: [] }
      : diffWrite(desired, old, live, options);

  if (output === 'json') {
    io.stdout(`${JSON.stringify(drift.introduced, null, 2)}\n`);
  } else {
    io.stdout(
      formatText(formatKey(keyOf(live)), drift.introduced, drift.preexisting, old !== undefined),
    );
  }
  return drift.introduced.length > 0 ? exitCodes.finding : exitCodes.ok;
};

async function readIgnoreRules(file: string, cwd: string): Promise<IgnoreRule[]> {
  const documents = await readDocuments(file, cwd);
  if (documents.length > 1) {
    throw new UsageError(
      `${file}: expected one YAML list of rules, found ${documents.length} documents`,
    );
  }
  const { rules, errors } = validateIgnoreRules(documents[0] ?? [], 'rules');
  if (errors.length > 0) {
    const lines = errors.map((e) => `  ${e.path}: ${e.message}`);
    throw new UsageError(`${file}: invalid ignore rules\n${lines.join('\n')}`);
  }
  return rules;
}

function checkSameObject(
  aFile: string,
  a: KubeObject,
  bFile: string,
  b: KubeObject,
  defaultNamespace: string | undefined,
): void {
  // The live object comes from the API server, which gives it a namespace exactly when its kind
  // is namespaced: that says the scope of a kind Kubernetes itself does not serve.
  const scopeOf: ScopeOf = (group, kind) =>
    builtinScope(group, kind) ?? (b.metadata?.namespace === undefined ? 'Cluster' : 'Namespaced');
  const aKey = keyOf(a, defaultNamespace, scopeOf);
  const bKey = keyOf(b, defaultNamespace, scopeOf);
  if (!sameKey(aKey, bKey)) {
    throw new UsageError(
      `${aFile} and ${bFile} are different objects: ${formatKey(aKey)} and ${formatKey(bKey)}`,
    );
  }
}

const MAX_VALUE_LENGTH = 200;

function formatValue(value: unknown): string {
  if (value === undefined) return '<absent>';
  const text = JSON.stringify(value);
  return text.length > MAX_VALUE_LENGTH ? `${text.slice(0, MAX_VALUE_LENGTH - 1)}…` : text;
}

function formatText(
  object: string,
  introduced: readonly FieldDrift[],
  preexisting: readonly FieldDrift[],
  judgingWrite: boolean,
): string {
  const lines: string[] = [];
  const describe = (drift: FieldDrift) => [
    `  ${drift.path}`,
    `    git:  ${formatValue(drift.desired)}`,
    `    live: ${formatValue(drift.live)}`,
  ];
  if (introduced.length === 0) {
    lines.push(`${object}: ${judgingWrite ? 'the write introduces no drift' : 'in sync with Git'}`);
  } else {
    const fields =
      introduced.length === 1 ? '1 field differs' : `${introduced.length} fields differ`;
    lines.push(`${object}: ${fields} from Git${judgingWrite ? ' because of this write' : ''}`);
    for (const drift of introduced) lines.push(...describe(drift));
  }
  if (preexisting.length > 0) {
    lines.push(`Already drifted before the write (left alone by it):`);
    for (const drift of preexisting) lines.push(...describe(drift));
  }
  return `${lines.join('\n')}\n`;
}
