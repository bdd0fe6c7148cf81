// driftgate's sources compiled to JavaScript as `npm run build` emits them, for benchmarks that
// must not measure tsx: to keep function names, tsx wraps every closure in a `__name()` call
// each time it is created, which production code never pays. Compiled by bench/compile.ts in a
// process of its own when a source changed; written under node_modules/.cache so that packages
// resolve as they do from dist/.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
export const srcDir = join(root, 'src');
export const compiledDir = join(root, 'node_modules', '.cache', 'driftgate-bench', 'src');
export const stampFile = join(compiledDir, '..', 'stamp');

/** The sources to compile, and the JSON data they import (copied as the build copies it). */
export function sourceFiles(): string[] {
  return readdirSync(srcDir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.(ts|json)$/.test(entry.name))
    .filter((entry) => !entry.name.endsWith('.test.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** Names and modification times of the sources: any change calls for a new compile. */
export function sourceStamp(): string {
  return sourceFiles()
    .map((file) => `${file} ${String(statSync(file).mtimeMs)}`)
    .sort()
    .join('\n');
}

let checked = false;

function ensureCompiled(): void {
  if (checked) return;
  const fresh = existsSync(stampFile) && readFileSync(stampFile, 'utf8') === sourceStamp();
  if (!fresh) {
    const result = spawnSync(
      process.execPath,
      [
        '--import',
        import.meta.resolve('tsx'),
        fileURLToPath(new URL('compile.ts', import.meta.url)),
      ],
      { stdio: 'inherit' },
    );
    if (result.status !== 0) throw new Error('bench/compile.ts failed');
  }
  checked = true;
}

/** Imports `path` (relative to src/, `.js`) from the compiled sources. */
export async function importCompiled<T>(path: string): Promise<T> {
  ensureCompiled();
  return (await import(pathToFileURL(join(compiledDir, path)).href)) as T;
}
