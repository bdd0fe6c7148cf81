// A server for the HTTP benchmark, in its own process: `driftgate` (the real webhook on a Git
// repository of N generated manifests plus the captured Deployment, set up as `driftgate serve`
// sets it up), `noop` (express over HTTPS answering allowed: true with the review's uid) or
// `bare` (the same answer from node:https alone, as driftgate's review routes are served).
// Prints its URL, runs until killed.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { importCompiled } from './compiled.js';

// The webhook as `npm run build` compiles it: what is measured is what ships, not tsx.
const { selfSignedForDevelopment } =
  await importCompiled<typeof import('../src/certs/generate.js')>('certs/generate.js');
const { validateConfig } =
  await importCompiled<typeof import('../src/config/config.js')>('config/config.js');
const { startDriftgate } = await importCompiled<typeof import('../src/main.js')>('main.js');
const { serviceLog } = await importCompiled<typeof import('../src/audit/log.js')>('audit/log.js');
const { capYoungGeneration } =
  await importCompiled<typeof import('../src/cli/young-generation.js')>('cli/young-generation.js');

const [mode = 'noop', countText = '10000', extraManifests] = process.argv.slice(2);
// Exit cleanly on SIGINT so that `node --cpu-prof` can write its profile.
process.on('SIGINT', () => process.exit(0));
const tls = selfSignedForDevelopment();

if (mode === 'noop') {
  const app = express();
  const answer = (req: express.Request, res: express.Response): void => {
    const review = JSON.parse((req.body as Buffer).toString('utf8')) as {
      request: { uid: string };
    };
    res.json({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: review.request.uid, allowed: true },
    });
  };
  const body = express.raw({ type: () => true, limit: 7 * 1024 * 1024 });
  app.post('/validate', body, answer);
  app.post('/mutate', body, answer);
  const server = createServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, app);
  server.listen(0, '127.0.0.1', () => {
    console.log(`https://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
} else if (mode === 'bare') {
  const server = createServer(
    { cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          request: { uid: string };
        };
        const body = JSON.stringify({
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          response: { uid: review.request.uid, allowed: true },
        });
        res.writeHead(200, {
          'Content-Type': 'application/json; charset=utf-8',
          'Content-Length': Buffer.byteLength(body),
        });
        res.end(body);
      });
    },
  );
  server.listen(0, '127.0.0.1', () => {
    console.log(`https://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
} else {
  const root = mkdtempSync(join(tmpdir(), 'driftgate-bench-http-'));
  const work = join(root, 'repo');
  mkdirSync(join(work, 'apps'), { recursive: true });
  const deployment = readFileSync(
    new URL('../test/fixtures/captured/manifests/deploy-web.yaml', import.meta.url),
    'utf8',
  );
  writeFileSync(join(work, 'apps', 'deploy-web.yaml'), deployment);
  if (extraManifests !== undefined) {
    const manifests = JSON.parse(readFileSync(extraManifests, 'utf8')) as Record<string, string>;
    for (const [name, text] of Object.entries(manifests)) {
      writeFileSync(join(work, 'apps', name), text);
    }
  }
  const count = Number(countText);
  // A source reads at most 50,000 files: past 10,000 objects, ten ConfigMaps share a file.
  const perFile = count > 10_000 ? 10 : 1;
  for (let first = 0; first < count; first += perFile) {
    const documents: string[] = [];
    for (let i = first; i < Math.min(count, first + perFile); i++) {
      documents.push(
        `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${i}\n  namespace: bench\ndata:\n  index: "${i}"\n`,
      );
    }
    writeFileSync(join(work, 'apps', `cm-${first}.yaml`), documents.join('---\n'));
  }
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: work,
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 'b',
        GIT_AUTHOR_EMAIL: 'b@b',
        GIT_COMMITTER_NAME: 'b',
        GIT_COMMITTER_EMAIL: 'b@b',
      },
    });
  git('init', '--quiet', '--initial-branch=main');
  git('add', '-A');
  git('commit', '--quiet', '-m', 'bench');
  const result = validateConfig({
    cacheDir: join(root, 'cache'),
    sources: [
      {
        name: 'shop',
        repoURL: `file://${work}`,
        revision: 'main',
        path: 'apps',
        namespace: 'shop',
      },
    ],
  });
  if ('errors' in result) throw new Error(JSON.stringify(result.errors));
  // The log `driftgate serve` writes, a line per decision, here to /dev/null; and serve's
  // young-generation cap, with the collection it runs before it listens.
  const log = serviceLog('info', openSync('/dev/null', 'a'));
  const youngGeneration = capYoungGeneration();
  const driftgate = await startDriftgate(result.config, {
    logger: log.logger,
    decisionLog: log.decisions,
    droppedLogLines: log.droppedLines,
    host: '127.0.0.1',
    port: 0,
    tls: { kind: 'memory', cert: tls.cert, key: tls.key },
    beforeServing: () => {
      youngGeneration.releaseStartupMemory();
    },
  });
  console.log(`${driftgate.url} objects=${driftgate.provider.current().size}`);
}
