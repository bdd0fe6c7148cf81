// `driftgate check`: decide one AdmissionReview offline, against Git as the config renders it,
// and print the response the validating webhook would give. Exit 0 allowed, 1 denied, 2 bad input.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { review as reviewOf, parseReview } from '../admission/review.js';
import { validationResponse } from '../admission/handlers.js';
import { decide } from '../policy/decide.js';
import { noClusterFacts } from '../policy/facts.js';
import { readConfig, renderOnce } from './one-shot.js';
import { exitCodes, UsageError, type Command, parseCommandArgs } from './io.js';

const HELP = `Usage: driftgate check --config FILE --review FILE [--now TIME]

Renders the config's sources, decides the AdmissionReview in FILE as the validating webhook
would (without cluster facts: HPAs and namespace labels come from Git and the config only),
and prints the response AdmissionReview.

Options:
  --config FILE   the driftgate config (YAML)
  --review FILE   an admission.k8s.io/v1 AdmissionReview (JSON), as the API server sends it
  --now TIME      decide as of this RFC 3339 time (break-glass expiry); default: now

Exit status: 0 allowed, 1 denied, 2 bad input.
`;

export const checkCommand: Command = async (argv, io) => {
  const values = parseCommandArgs(
    argv,
    {
      config: { type: 'string' },
      review: { type: 'string' },
      now: { type: 'string' },
    },
    HELP,
  );
  if (values.help === true) {
    io.stdout(HELP);
    return exitCodes.ok;
  }
  if (values.config === undefined || values.review === undefined) {
    throw new UsageError(`--config and --review are required\n\n${HELP}`);
  }
  const now = values.now === undefined ? new Date() : new Date(values.now);
  if (Number.isNaN(now.getTime()))
    throw new UsageError(`--now must be an RFC 3339 time, not '${values.now ?? ''}'`);

  let body: Buffer;
  try {
    body = await readFile(resolve(io.cwd, values.review));
  } catch (error) {
    throw new UsageError(
      `${values.review}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  const parsed = parseReview(body);
  if (!parsed.ok) throw new UsageError(`${values.review}: ${parsed.message}`);

  const config = await readConfig(values.config, io.cwd);
  const { snapshot, status } = await renderOnce(config, io.cwd);
  const failed = status.filter((source) => source.lastError !== null);
  if (failed.length > 0) {
    const lines = failed.map((source) => `  ${source.name}: ${source.lastError?.message ?? ''}`);
    throw new UsageError(`could not render every source:\n${lines.join('\n')}`);
  }
  const decision = decide(parsed.request, snapshot, noClusterFacts, config, now);
  io.stdout(`${JSON.stringify(reviewOf(validationResponse(parsed.request, decision)), null, 2)}\n`);
  return decision.allowed ? exitCodes.ok : exitCodes.finding;
};
