// Compiles driftgate's sources the way `npm run build` emits them (TypeScript's own transpiler,
// no type check) for bench/compiled.ts. A process of its own: the compiler holds a few hundred
// megabytes that no measured process may carry. Run: npx tsx bench/compile.ts
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';
import { compiledDir, sourceFiles, sourceStamp, srcDir, stampFile } from './compiled.js';

// Another benchmark process may be loading these files while this one writes them.
function writeAtomically(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const temp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temp, text);
  renameSync(temp, file);
}

for (const file of sourceFiles()) {
  if (file.endsWith('.json')) {
    writeAtomically(join(compiledDir, relative(srcDir, file)), readFileSync(file, 'utf8'));
    continue;
  }
  const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
    fileName: file,
    compilerOptions: {
      target: ts.ScriptTarget.ES2023,
      module: ts.ModuleKind.ESNext,
      verbatimModuleSyntax: true,
    },
  });
  writeAtomically(join(compiledDir, relative(srcDir, file)).replace(/\.ts$/, '.js'), outputText);
}
// ES modules, as the package's own "type" says; under node_modules it is not looked up.
writeAtomically(join(compiledDir, '..', 'package.json'), '{"type":"module"}\n');
writeAtomically(stampFile, sourceStamp());
