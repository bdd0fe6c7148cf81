// deploy/ rendered as a cluster admin applies it: `kubectl kustomize` (or the standalone
// kustomize) of an overlay of the user's own, on an overlay of the project with its components.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { loadAll } from 'js-yaml';

const run = promisify(execFile);

export type Manifest = Record<string, unknown>;

export async function renderDir(dir: string): Promise<Manifest[]> {
  let stdout: string;
  const options = { timeout: 30_000, maxBuffer: 16 * 1024 * 1024 };
  try {
    ({ stdout } = await run('kubectl', ['kustomize', dir], options));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    ({ stdout } = await run('kustomize', ['build', dir], options));
  }
  return loadAll(stdout).filter((doc): doc is Manifest => typeof doc === 'object' && doc !== null);
}

/** deploy/overlays/<overlay> with these deploy/components, as a user's overlay includes them. */
export async function renderDeploy(
  overlay: string,
  components: readonly string[] = [],
): Promise<Manifest[]> {
  const dir = mkdtempSync(join(tmpdir(), 'driftgate-overlay-'));
  try {
    const deploy = relative(dir, join(import.meta.dirname, '..', '..', 'deploy'));
    writeFileSync(
      join(dir, 'kustomization.yaml'),
      `resources: [${deploy}/overlays/${overlay}]\ncomponents: [${components
        .map((component) => `${deploy}/components/${component}`)
        .join(', ')}]\n`,
    );
    return await renderDir(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
