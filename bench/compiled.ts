// driftgate's sources compiled to JavaScript the way `npm run build` emits them (TypeScript's own
// transpiler, no type check), for benchmarks that must not measure tsx: to keep function names,
// tsx wraps every closure in a `__name()` call each time it is created, which production code
// never pays. Written under node_modules/.cache so that packages resolve as from dist/.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('..', import.meta.url));
const outDir = join(root, 'node_modules', '.cache', 'driftgate-bench', 'src');
let compiled = false;

function compileSources(): void {
  if (compiled) return;
  const src = join(root, 'src');
  const files = readdirSync(src, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .filter((entry) => !entry.name.endsWith('.test.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
  for (const file of files) {
    const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
      fileName: file,
      compilerOptions: {
        target: ts.ScriptTarget.ES2023,
        module: ts.ModuleKind.ESNext,
        verbatimModuleSyntax: true,
      },
    });
    const out = join(outDir, relative(src, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, outputText);
  }
  compiled = true;
}

/** Imports `path` (relative to src/, `.js`) from the compiled sources. */
export async function importCompiled<T>(path: string): Promise<T> {
  compileSources();
  return (await import(pathToFileURL(join(outDir, path)).href)) as T;
}
