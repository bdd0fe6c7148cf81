// Renderers: turn a checked-out source into manifests (plain files, kustomize, or any command
// that prints YAML), running untrusted tools as child processes with nothing worth stealing.
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import type { SourceConfig } from '../config/config.js';
import { DriftgateError, errorCodes } from './errors.js';
import { ManifestError, resolveInside, type RenderedDocument } from './manifest-parser.js';
import type { FileCounts, ParseWorkerPool, PersistRequest } from './parse-task.js';

export interface RenderLimits {
  /** Renderer process and parsing each get this long. */
  readonly timeoutMs: number;
  /** Renderer stdout beyond this is an error, not a partial snapshot. */
  readonly maxOutputBytes: number;
  readonly maxFileBytes: number;
  readonly maxFiles: number;
}

export const defaultRenderLimits: RenderLimits = {
  timeoutMs: 60_000,
  maxOutputBytes: 256 * 1024 * 1024,
  maxFileBytes: 16 * 1024 * 1024,
  maxFiles: 50_000,
};

export interface RenderRequest {
  readonly source: SourceConfig;
  /** Real path of the checkout of the source's commit. */
  readonly checkout: string;
  /** Scratch space for renderers (their HOME). */
  readonly workDir: string;
  readonly limits: RenderLimits;
  readonly persist: PersistRequest | null;
  /** Where YAML is parsed: off the event loop. */
  readonly parser: ParseWorkerPool;
  readonly onDocuments: (documents: readonly RenderedDocument[]) => void;
}

/**
 * Renders one source. Documents stream to `onDocuments`; the promise rejects with a
 * DriftgateError naming the source, the file and the line when anything is wrong, in which case
 * the documents seen so far must be thrown away. Resolves to how many manifest files were parsed
 * and how many were unchanged since the source's last render (plain sources; renderer output
 * is one text, parsed whole).
 */
export async function renderSource(request: RenderRequest): Promise<FileCounts> {
  const { source, checkout } = request;
  let directory: string;
  try {
    directory = resolveInside(checkout, source.path, source.path);
  } catch (error) {
    throw new DriftgateError(
      errorCodes.unsafeSource,
      `source ${source.name}: path ${source.path} ${error instanceof ManifestError ? error.problem.message : 'is not usable'}`,
      { source: source.name, file: source.path },
    );
  }
  if (!statSync(directory).isDirectory()) {
    throw new DriftgateError(
      errorCodes.render,
      `source ${source.name}: path ${source.path} is not a directory`,
      { source: source.name, file: source.path },
    );
  }

  if (source.render === 'plain') {
    const outcome = await request.parser.run(
      {
        kind: 'files',
        root: checkout,
        directory: source.path,
        include: source.include,
        exclude: source.exclude,
        maxFileBytes: request.limits.maxFileBytes,
        maxFiles: request.limits.maxFiles,
        persist: request.persist,
        cache: source.name,
      },
      request.onDocuments,
      request.limits.timeoutMs,
    );
    if (!outcome.ok) throw manifestFailure(source.name, outcome.problems);
    return outcome.files;
  }

  const argv = source.render === 'kustomize' ? [...kustomizeCommand(), '.'] : [...source.command];
  const label = `output of ${argv.join(' ')} in ${source.path}`;
  const output = await runRenderer(argv, directory, source.name, request.workDir, request.limits);
  const outcome = await request.parser.run(
    { kind: 'text', text: output, label, persist: request.persist },
    request.onDocuments,
    request.limits.timeoutMs,
  );
  if (!outcome.ok) throw manifestFailure(source.name, outcome.problems);
  return outcome.files;
}

function manifestFailure(
  source: string,
  problems: readonly { file: string; line: number; message: string }[],
): DriftgateError {
  const [first] = problems;
  const lines = problems.map((problem) =>
    problem.line > 0
      ? `${problem.file}:${problem.line}: ${problem.message}`
      : `${problem.file}: ${problem.message}`,
  );
  return new DriftgateError(errorCodes.manifest, `source ${source}: ${lines.join('; ')}`, {
    source,
    ...(first === undefined ? {} : { file: first.file, line: first.line }),
  });
}

function onPath(binary: string, path: string): boolean {
  return path.split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, binary)));
}

/** `kustomize build` when kustomize is installed, else the copy built into kubectl. */
export function kustomizeCommand(path = process.env['PATH'] ?? ''): string[] {
  if (onPath('kustomize', path)) return ['kustomize', 'build'];
  if (onPath('kubectl', path)) return ['kubectl', 'kustomize'];
  throw new DriftgateError(
    errorCodes.render,
    'render: kustomize needs the kustomize or kubectl binary on PATH',
  );
}

/**
 * The whole environment a renderer sees. No service-account token, TLS key, cloud or Git
 * credential variables: a kustomize remote base or Helm plugin from Git runs with only these.
 * Files the process can read are the pod's concern (mount nothing secret where renderers run).
 */
export function rendererEnvironment(workDir: string): Record<string, string> {
  return {
    PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: workDir,
    TMPDIR: workDir,
    LANG: 'C.UTF-8',
    // kustomize runs exec and container plugins only when asked; point its plugin home at
    // nothing so a plugin cannot be picked up from a shared directory either.
    KUSTOMIZE_PLUGIN_HOME: join(workDir, 'no-plugins'),
    XDG_CONFIG_HOME: join(workDir, 'config'),
    XDG_CACHE_HOME: join(workDir, 'cache'),
    XDG_DATA_HOME: join(workDir, 'data'),
    HELM_PLUGINS: join(workDir, 'no-plugins'),
  };
}

/** Runs `argv` in `cwd`; stdout as text, or a DriftgateError (exit code, timeout, size). */
export async function runRenderer(
  argv: readonly string[],
  cwd: string,
  source: string,
  workDir: string,
  limits: Pick<RenderLimits, 'timeoutMs' | 'maxOutputBytes'>,
): Promise<string> {
  const [program, ...args] = argv;
  if (program === undefined) {
    throw new DriftgateError(errorCodes.render, `source ${source}: empty render command`, {
      source,
    });
  }
  await mkdir(workDir, { recursive: true });
  const shown = argv.join(' ');
  return new Promise((resolve, reject) => {
    // Its own process group, so a timeout also ends whatever the renderer started.
    const child = spawn(program, args, {
      cwd,
      env: rendererEnvironment(workDir),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = '';
    let failure: DriftgateError | undefined;
    const kill = (reason: DriftgateError): void => {
      failure ??= reason;
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }
    };
    const timer = setTimeout(() => {
      kill(
        new DriftgateError(
          errorCodes.renderTimeout,
          `source ${source}: ${shown} did not finish within ${limits.timeoutMs} ms and was stopped`,
          { source },
        ),
      );
    }, limits.timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > limits.maxOutputBytes) {
        kill(
          new DriftgateError(
            errorCodes.renderOutputLimit,
            `source ${source}: ${shown} printed more than ${limits.maxOutputBytes} bytes`,
            { source },
          ),
        );
        return;
      }
      stdout.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      // Keep the end: that is where tools print the error.
      stderr = (stderr + chunk.toString('utf8')).slice(-4000);
    });
    child.on('error', (error) => {
      kill(
        new DriftgateError(
          errorCodes.render,
          `source ${source}: cannot run ${program}: ${error.message}`,
          { source },
        ),
      );
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (failure !== undefined) {
        reject(failure);
        return;
      }
      if (code !== 0) {
        const detail = stderr.trim().split('\n').slice(-5).join('; ');
        reject(
          new DriftgateError(
            errorCodes.render,
            `source ${source}: ${shown} failed (${signal ?? `exit ${code}`}): ${detail}`,
            { source },
          ),
        );
        return;
      }
      resolve(Buffer.concat(stdout).toString('utf8'));
    });
  });
}
