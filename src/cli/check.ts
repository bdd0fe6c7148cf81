// `driftgate check`: decide writes offline, against Git as the config renders it, and print what
// the validating webhook would answer — from a recorded AdmissionReview, or from plain manifests
// turned into the review an API server would send. Exit 0 allowed, 1 denied, 2 bad input.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { review as reviewOf, parseReview } from '../admission/review.js';
import { validationResponse } from '../admission/handlers.js';
import type { AdmissionRequest, AdmissionResponse, Operation } from '../kube/admission.js';
import type { KubeObject } from '../kube/object.js';
import { decide } from '../policy/decide.js';
import { noClusterFacts } from '../policy/facts.js';
import { readObjectsFile } from './files.js';
import { requestFor } from './manifest-review.js';
import { readConfig, renderOnce } from './one-shot.js';
import { exitCodes, UsageError, type Command, parseCommandArgs } from './io.js';
import { checkOptions } from './options.js';

const HELP = `Usage: driftgate check --config FILE --review FILE [--now TIME] [--output text|json]
       driftgate check --config FILE --object FILE [--old FILE] [--operation CREATE|UPDATE|DELETE]
                       [--user NAME] [--group G]... [--namespace NS] [--now TIME] [--output text|json]

Renders the config's sources and decides each write as the validating webhook would (without
cluster facts: HPAs and namespace labels come from Git and the config only).

Options:
  --config FILE      the driftgate config (YAML)
  --review FILE      an admission.k8s.io/v1 AdmissionReview (JSON), as the API server sends it
  --object FILE      manifests (YAML or JSON, several documents): each is one write, decided
  --old FILE         the stored objects the writes replace (matched by kind, namespace, name)
  --operation OP     CREATE, UPDATE or DELETE; default: UPDATE with --old, else CREATE
  --user NAME        who writes; default: $USER
  --group G          a group of the user (repeat for more); system:authenticated is always added
  --namespace NS     for manifests without metadata.namespace, as kubectl -n
  --now TIME         decide as of this RFC 3339 time (break-glass expiry); default: now
  --output FORMAT    text (default): what kubectl prints; json: the AdmissionReview response
                     (with --object: a JSON list of them, one per document)

Exit status: 0 allowed, 1 denied, 2 bad input.
`;

const OPERATIONS: readonly Operation[] = ['CREATE', 'UPDATE', 'DELETE'];

export const checkCommand: Command = async (argv, io) => {
  const values = parseCommandArgs(argv, checkOptions, HELP);
  if (values.help === true) {
    io.stdout(HELP);
    return exitCodes.ok;
  }
  if (
    values.config === undefined ||
    (values.review === undefined) === (values.object === undefined)
  ) {
    throw new UsageError(`--config and one of --review or --object are required\n\n${HELP}`);
  }
  const output = values.output ?? 'text';
  if (output !== 'text' && output !== 'json')
    throw new UsageError(`--output must be text or json, not '${output}'`);
  const now = values.now === undefined ? new Date() : new Date(values.now);
  if (Number.isNaN(now.getTime()))
    throw new UsageError(`--now must be an RFC 3339 time, not '${values.now ?? ''}'`);

  let requests: AdmissionRequest[];
  if (values.review !== undefined) {
    for (const option of ['old', 'operation', 'user', 'group', 'namespace'] as const) {
      if (values[option] !== undefined)
        throw new UsageError(`--${option} goes with --object; a review already says it`);
    }
    requests = [await readReview(values.review, io.cwd)];
  } else {
    const operation = values.operation ?? (values.old === undefined ? 'CREATE' : 'UPDATE');
    if (!(OPERATIONS as readonly string[]).includes(operation))
      throw new UsageError(`--operation must be CREATE, UPDATE or DELETE, not '${operation}'`);
    const objects = await readObjectsFile(values.object ?? '', io.cwd);
    const olds = values.old === undefined ? [] : await readObjectsFile(values.old, io.cwd);
    if (operation === 'UPDATE' && values.old === undefined)
      throw new UsageError('--operation UPDATE needs --old: the stored objects the write replaces');
    requests = objects.map((object) =>
      requestFor({
        operation: operation as Exclude<Operation, 'CONNECT'>,
        object,
        old: olds.find((old) => sameObject(old, object, values.namespace)),
        username: values.user ?? io.env.USER ?? 'unknown',
        groups: values.group ?? [],
        namespace: values.namespace,
        now,
      }),
    );
    if (operation === 'UPDATE') {
      const missing = requests.find((request) => request.oldObject === null);
      if (missing !== undefined)
        throw new UsageError(`${values.old ?? ''}: holds no ${describe(missing)}`);
    }
  }

  const config = await readConfig(values.config, io.cwd);
  const { snapshot, status } = await renderOnce(config, io.cwd);
  const failed = status.filter((source) => source.lastError !== null);
  if (failed.length > 0) {
    const lines = failed.map((source) => `  ${source.name}: ${source.lastError?.message ?? ''}`);
    throw new UsageError(`could not render every source:\n${lines.join('\n')}`);
  }
  const answers = requests.map((request) => ({
    request,
    response: validationResponse(request, decide(request, snapshot, noClusterFacts, config, now)),
  }));

  if (output === 'json') {
    const reviews = answers.map(({ response }) => reviewOf(response));
    io.stdout(`${JSON.stringify(values.review !== undefined ? reviews[0] : reviews, null, 2)}\n`);
  } else {
    io.stdout(answers.map(({ request, response }) => asKubectlPrints(request, response)).join(''));
  }
  return answers.every(({ response }) => response.allowed) ? exitCodes.ok : exitCodes.finding;
};

async function readReview(file: string, cwd: string): Promise<AdmissionRequest> {
  let body: Buffer;
  try {
    body = await readFile(resolve(cwd, file));
  } catch (error) {
    throw new UsageError(
      `${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  const parsed = parseReview(body);
  if (!parsed.ok) throw new UsageError(`${file}: ${parsed.message}`);
  return parsed.request;
}

function sameObject(a: KubeObject, b: KubeObject, namespace: string | undefined): boolean {
  const group = (o: KubeObject) => (o.apiVersion ?? '').split('/').slice(0, -1).join('/');
  return (
    group(a) === group(b) &&
    a.kind === b.kind &&
    a.metadata?.name === b.metadata?.name &&
    (a.metadata?.namespace ?? namespace) === (b.metadata?.namespace ?? namespace)
  );
}

function describe(request: AdmissionRequest): string {
  const group = request.kind.group === '' ? '' : `${request.kind.group}/`;
  const where = request.namespace === undefined ? '' : `${request.namespace}/`;
  return `${group}${request.kind.kind} ${where}${request.name ?? ''}`;
}

// The webhook names in deploy/base/webhooks.yaml: the API server puts the name in the denial.
function webhookName(request: AdmissionRequest): string {
  const clusterScoped =
    request.namespace === undefined ||
    (request.kind.group === '' && request.kind.kind === 'Namespace');
  return clusterScoped ? 'validate-cluster.driftgate.io' : 'validate.driftgate.io';
}

/** The lines kubectl prints for this answer: its warnings, then the denial or nothing. */
export function asKubectlPrints(request: AdmissionRequest, response: AdmissionResponse): string {
  const lines = (response.warnings ?? []).map((warning) => `Warning: ${warning}`);
  if (response.allowed) {
    lines.push(`${request.operation} ${describe(request)}: allowed`);
  } else {
    const reason = response.status?.reason ?? 'Forbidden';
    lines.push(
      `Error from server (${reason}): admission webhook "${webhookName(request)}" denied the request: ${response.status?.message ?? ''}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
