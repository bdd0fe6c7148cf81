// `driftgate scan`: what drift is already in the cluster, and what `enforce` would refuse,
// before it is switched on. Renders Git once, reads every declared object with paged LISTs and
// compares each as the validating webhook compares a write. Exit 0 in sync, 1 drift or missing, 2
// bad input or a cluster that could not be read.
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import pino from 'pino';
import type { ClusterConnection } from '../cluster/connection.js';
import { discoverOnce, DiscoveryReadError } from '../cluster/discover-once.js';
import { watchClusterSchemas } from '../cluster/openapi-schemas.js';
import type { DiscoveryResult } from '../discovery/result.js';
import { loadKubeConfigFile, resolveKubeConfig } from '../cluster/kubeconfig.js';
import { isDriftgateError } from '../desired/errors.js';
import { readScanFacts } from '../scan/facts.js';
import { ClusterReadError, createClusterReader, DEFAULT_QPS } from '../scan/reader.js';
import { scanHtml, scanJson, scanTable } from '../scan/report.js';
import { scanCluster } from '../scan/scan.js';
import { exitCodes, parseCommandArgs, UsageError, type Command } from './io.js';
import { scanOptions } from './options.js';
import { readConfig, renderOnce } from './one-shot.js';

const HELP = `Usage: driftgate scan --config FILE [--kubeconfig FILE] [--namespace NS]...
                      [--output table|json|html] [--out FILE] [--qps N]

Renders the config's Git sources, and those of the Argo CD Applications and Flux
Kustomizations its discovery finds in the cluster, reads every object they declare from the
cluster and compares each with Git exactly as the validating webhook compares a write (field
policy, ignore rules, allowances, HPAs, built-ins). Each object is in-sync, drifted (each field with
Git's and the cluster's value; Secret values are never shown), missing, or not-judged (with
the reason). The summary counts, per namespace, the writes enforce would refuse: a person's
next write that keeps the drift (the sync identity's writes are never refused).

Reads are paged LISTs (500 objects a page) per kind and namespace, never a GET per object.

Options:
  --config FILE        driftgate config file (required)
  --kubeconfig FILE    the cluster to read (default: KUBECONFIG, ~/.kube/config, in-cluster)
  --namespace NS       scan only this namespace (repeatable; leaves cluster-scoped objects out)
  --output FORMAT      table (default), json or html
  --out FILE           write the report to FILE instead of standard output
  --qps N              at most N requests a second to the API server (default ${DEFAULT_QPS})

Exit status: 0 all in sync, 1 drift or missing objects found, 2 bad input or the cluster
could not be read.
`;

const OUTPUTS = ['table', 'json', 'html'] as const;
type Output = (typeof OUTPUTS)[number];

function parse(argv: readonly string[]) {
  const values = parseCommandArgs(argv, scanOptions, HELP);
  if (values.help === true) return 'help' as const;
  if (values.config === undefined) throw new UsageError(`--config is required\n\n${HELP}`);
  if (!(OUTPUTS as readonly string[]).includes(values.output)) {
    throw new UsageError(`--output must be one of ${OUTPUTS.join(', ')}, not "${values.output}"`);
  }
  const qps = values.qps === undefined ? DEFAULT_QPS : Number(values.qps);
  if (!Number.isFinite(qps) || qps <= 0) {
    throw new UsageError(`--qps must be a positive number, not "${values.qps}"`);
  }
  return {
    config: values.config,
    kubeconfig: values.kubeconfig,
    namespaces: values.namespace ?? [],
    output: values.output as Output,
    out: values.out,
    qps,
  };
}

async function connectionFor(
  file: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<ClusterConnection> {
  try {
    if (file !== undefined) return await loadKubeConfigFile(file, '--kubeconfig');
    const found = await resolveKubeConfig(true, { env });
    if (found === undefined) throw new UsageError('no cluster credentials found');
    return found;
  } catch (error) {
    if (isDriftgateError(error)) throw new UsageError(error.message);
    throw error;
  }
}

export const scanCommand: Command = async (argv, io) => {
  const args = parse(argv);
  if (args === 'help') {
    io.stdout(HELP);
    return exitCodes.ok;
  }
  const config = await readConfig(args.config, io.cwd);
  const connection = await connectionFor(
    args.kubeconfig === undefined ? undefined : resolve(io.cwd, args.kubeconfig),
    io.env,
  );
  // Argo CD Applications and Flux Kustomizations are read once, as serve's discovery reads
  // them, and their sources rendered beside the configured ones.
  let discovered: DiscoveryResult;
  try {
    discovered = await discoverOnce(connection, config, {
      cwd: io.cwd,
      logger: pino({ level: 'silent' }),
    });
  } catch (error) {
    if (!(error instanceof DiscoveryReadError)) throw error;
    io.stderr(`driftgate scan: discovery: ${error.message}\n`);
    return exitCodes.badInput;
  }
  for (const problem of discovered.problems) {
    io.stderr(
      `driftgate scan: discovery: ${problem.object}: ${problem.effect === 'skipped' ? 'not scanned' : 'partly compared'}: ${problem.reason}\n`,
    );
  }
  const { snapshot, status, sources } = await renderOnce(config, io.cwd, discovered.sources);
  const failed = status.filter((source) => source.lastError !== null);
  if (failed.length > 0) {
    for (const source of failed) {
      io.stderr(
        `driftgate scan: source ${source.name} could not be rendered: ${source.lastError?.message ?? ''}\n`,
      );
    }
    return exitCodes.badInput;
  }

  const reader = createClusterReader(connection, { qps: args.qps });
  const schemas = watchClusterSchemas(connection, { logger: pino({ level: 'silent' }) });
  const now = new Date();
  let report;
  try {
    await schemas.refresh();
    const { facts, warnings } = await readScanFacts(reader, config, {
      namespaces: args.namespaces,
      schemaOf: (apiVersion, kind) => schemas.schemaOf(apiVersion, kind),
    });
    for (const warning of warnings) io.stderr(`driftgate scan: ${warning}\n`);
    const progress =
      io.stderrIsTerminal === true
        ? (done: number, total: number) => {
            io.stderr(`\rdriftgate scan: ${done}/${total} objects read`);
          }
        : undefined;
    report = await scanCluster({
      reader,
      snapshot,
      sources,
      config,
      facts,
      now,
      namespaces: args.namespaces,
      ...(progress === undefined ? {} : { onProgress: progress }),
    });
    if (progress !== undefined) io.stderr('\n');
  } catch (error) {
    if (error instanceof ClusterReadError) {
      io.stderr(`driftgate scan: the cluster could not be read: ${error.message}\n`);
      return exitCodes.badInput;
    }
    throw error;
  } finally {
    schemas.stop();
  }

  const text =
    args.output === 'json'
      ? scanJson(report)
      : args.output === 'html'
        ? scanHtml(report, now)
        : scanTable(report);
  if (args.out === undefined) io.stdout(text);
  else await writeFile(resolve(io.cwd, args.out), text);
  const { drifted, missing } = report.summary;
  return drifted + missing > 0 ? exitCodes.finding : exitCodes.ok;
};
