// Generates src/drift/generated/builtin-schema.json from a real API server's OpenAPI v3
// documents: what the comparison needs to know of each built-in kind, and nothing else.
//
//   tsx scripts/generate-builtin-schema.ts <openapi-dir> [out-file]
//
// <openapi-dir> holds the server's answers to `GET /openapi/v3/api/v1` and
// `GET /openapi/v3/apis/<group>/<version>` saved as `api/v1.json` and `apis/<group>/<version>.json`
// (`kubectl get --raw /openapi/v3/apis/apps/v1 > apis/apps/v1.json`). Custom resources are left
// out: their schema comes from their CustomResourceDefinition, at run time.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compactDefinitions, type OpenApiDocument } from '../src/drift/schema-compact.js';

const DEFAULT_OUT = fileURLToPath(
  new URL('../src/drift/generated/builtin-schema.json', import.meta.url),
);

function documentsUnder(directory: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(directory).sort()) {
    const full = path.join(directory, name);
    if (statSync(full).isDirectory()) found.push(...documentsUnder(full));
    else if (name.endsWith('.json')) found.push(full);
  }
  return found;
}

export function generate(openapiDirectory: string): string {
  const documents: OpenApiDocument[] = [];
  for (const file of documentsUnder(openapiDirectory)) {
    const relative = path.relative(openapiDirectory, file).split(path.sep).join('/');
    // v3.json is the index of documents, not a document.
    if (!relative.startsWith('api/') && !relative.startsWith('apis/')) continue;
    documents.push(JSON.parse(readFileSync(file, 'utf8')) as OpenApiDocument);
  }
  return `${JSON.stringify(compactDefinitions(documents), null, 1)}\n`;
}

if (process.argv[1] !== undefined && import.meta.url === `file://${process.argv[1]}`) {
  const [openapiDirectory, out = DEFAULT_OUT] = process.argv.slice(2);
  if (openapiDirectory === undefined) {
    console.error('usage: tsx scripts/generate-builtin-schema.ts <openapi-dir> [out-file]');
    process.exit(2);
  }
  writeFileSync(out, generate(openapiDirectory));
  console.log(`wrote ${out}`);
}
