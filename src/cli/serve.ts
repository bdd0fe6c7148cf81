// `driftgate serve`: run the admission webhook until SIGTERM, then drain and stop. Without
// --config it serves the example repository shipped with driftgate, on a development certificate.
import { serviceLog } from '../audit/log.js';
import { loadConfig } from '../config/load-config.js';
import { isDriftgateError } from '../desired/errors.js';
import { exampleConfig } from '../example.js';
import { startDriftgate } from '../main.js';
import { exitCodes, UsageError, type Command, parseCommandArgs } from './io.js';
import { serveOptions } from './options.js';
import { capYoungGeneration } from './young-generation.js';

const HELP = `Usage: driftgate serve [--config FILE] [--port N] [--host ADDRESS]

Serves the validating (/validate) and mutating (/mutate) admission webhooks over HTTPS.
Without --config, serves the example GitOps repository in examples/gitops on a self-signed
development certificate: try it with the reviews in examples/reviews.

Options:
  --config FILE         the driftgate config (YAML)
  --port N              overrides listen.port (default 8443)
  --host ADDRESS        address to listen on (default all interfaces)
  --drain-seconds N     on SIGTERM, keep serving this long before stopping (default 5):
                        the API server keeps sending to a terminating pod until its
                        endpoints are updated
`;

export const serveCommand: Command = async (argv, io) => {
  const values = parseCommandArgs(argv, serveOptions, HELP);
  if (values.help === true) {
    io.stdout(HELP);
    return exitCodes.ok;
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new UsageError(`--port must be a port number, not '${values.port ?? ''}'`);
  }
  const drainSeconds = Number(values['drain-seconds']);
  if (!Number.isFinite(drainSeconds) || drainSeconds < 0) {
    throw new UsageError(
      `--drain-seconds must be a number of seconds, not '${values['drain-seconds']}'`,
    );
  }

  // A process-wide V8 setting: serve runs alone in its process, as `driftgate audit` does.
  const youngGeneration = capYoungGeneration();
  const log = serviceLog(io.env.LOG_LEVEL ?? 'info');
  const { logger } = log;
  let config;
  try {
    config =
      values.config === undefined
        ? await exampleConfig('.driftgate-cache')
        : // In a pod, the downward API says which namespace driftgate (and its kill switch) is in.
          await loadConfig(values.config, { ownNamespace: io.env.POD_NAMESPACE ?? 'driftgate' });
  } catch (error) {
    if (isDriftgateError(error)) throw new UsageError(error.message);
    throw error;
  }
  if (values.config === undefined) {
    logger.warn(
      'no --config given: serving the example repository (examples/gitops), for trying driftgate out',
    );
  }
  const driftgate = await startDriftgate(config, {
    logger,
    decisionLog: log.decisions,
    droppedLogLines: log.droppedLines,
    beforeServing: () => {
      youngGeneration.releaseStartupMemory();
    },
    ...(port === undefined ? {} : { port }),
    ...(values.host === undefined ? {} : { host: values.host }),
  }).catch((error: unknown) => {
    if (isDriftgateError(error)) throw new UsageError(error.message);
    throw error;
  });
  if (values.config === undefined) {
    io.stdout(
      `driftgate is serving the example repository on ${driftgate.url}\n` +
        `Try: curl -sk ${driftgate.url}/validate -H 'Content-Type: application/json' --data @examples/reviews/set-image-by-alice.json\n`,
    );
  }

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => {
      resolve('SIGTERM');
    });
    process.once('SIGINT', () => {
      resolve('SIGINT');
    });
  });
  // SIGINT is a person at a terminal: stop now. SIGTERM is Kubernetes: drain first.
  const drainMs = signal === 'SIGTERM' ? drainSeconds * 1000 : 0;
  logger.info(
    { signal, drainMs },
    'stopping: serving until the drain delay passes, then finishing in-flight reviews',
  );
  await new Promise((resolve) => setTimeout(resolve, drainMs));
  await driftgate.stop();
  youngGeneration.stop();
  logger.info('stopped');
  return exitCodes.ok;
};
