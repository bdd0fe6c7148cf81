// driftgate serve watching a cluster, in a child process that reports every module of
// @kubernetes/client-node it resolves: with a token, a token file or a service account it must
// load none (the client's import alone costs tens of MB); an exec plugin still goes through it.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dump } from 'js-yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exampleConfig } from '../src/example.js';
import { waitFor } from './desired/git-fixture.js';
import { startFakeApiServer, TOKEN, type FakeApiServer } from './support/fake-apiserver.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const report = join(root, 'test/support/report-client-node.ts');
const LOADED = /^client-node module: (.*)$/gm;
const serving = /"url":"(https:[^"]+)",.*"msg":"driftgate is serving"/;

let api: FakeApiServer;
let dir: string;
beforeEach(async () => {
  api = await startFakeApiServer();
  dir = mkdtempSync(join(tmpdir(), 'driftgate-no-client-'));
});
afterEach(async () => {
  await api.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The environment of a process outside any pod, with only the given cluster credentials. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: dir, ...extra };
  delete env.KUBERNETES_SERVICE_HOST;
  delete env.KUBERNETES_SERVICE_PORT;
  if (extra.KUBECONFIG === undefined) delete env.KUBECONFIG;
  return env;
}

function post(url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const options = {
      method: 'POST',
      rejectUnauthorized: false,
      headers: { 'content-type': 'application/json' },
      timeout: 10_000,
    };
    const req = request(url, options, (res) => {
      res.resume();
      res.on('end', () => {
        resolve(res.statusCode ?? 0);
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A config reading the example repository (committed under `dir`) with the cluster watched. */
async function configFile(): Promise<string> {
  const example = await exampleConfig(join(dir, 'example'));
  const file = join(dir, 'driftgate.yaml');
  const sources = example.sources.map(({ name, repoURL, revision, path, namespace }) => ({
    name,
    repoURL,
    revision,
    path,
    namespace,
  }));
  writeFileSync(file, dump({ cacheDir: join(dir, 'cache'), sources, cluster: { watch: true } }));
  return file;
}

/**
 * serve with KUBECONFIG at `kubeconfig`: its watches synced, one denial reviewed and its Event
 * written, then SIGTERM. Resolves with the client-node modules it resolved meanwhile.
 */
async function serveOnce(kubeconfig: string): Promise<string[]> {
  const args = ['--import', import.meta.resolve('tsx'), '--import', report];
  args.push(join(root, 'src/cli.ts'), 'serve', '--config', await configFile());
  args.push('--port', '0', '--host', '127.0.0.1');
  args.push('--drain-seconds', '1');
  const child = spawn(process.execPath, args, {
    cwd: dir,
    env: childEnv({ KUBECONFIG: kubeconfig, LOG_LEVEL: 'info' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) =>
    child.on('exit', () => {
      resolve();
    }),
  );
  try {
    const synced = (watch: string) =>
      stdout.includes(`"watch":"${watch}"`) && stdout.includes('cluster watch synced');
    expect(
      await waitFor(() => serving.test(stdout) && synced('namespaces'), 30_000),
      `serve did not watch the cluster; stdout: ${stdout}; stderr: ${stderr}`,
    ).toBe(true);
    const url = serving.exec(stdout)?.[1] ?? '';
    const review = readFileSync(join(root, 'examples/reviews/set-image-by-alice.json'), 'utf8');
    expect(await post(`${url}/validate`, review)).toBe(200);
    expect(await waitFor(() => api.events.length > 0, 10_000), `stdout: ${stdout}`).toBe(true);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
  return [...stderr.matchAll(LOADED)].map((match) => match[1] ?? '');
}

describe('driftgate serve watching a cluster', () => {
  it(
    'with a token in the kubeconfig loads no module of the Kubernetes client',
    { timeout: 60_000 },
    async () => {
      const kubeconfig = join(dir, 'kubeconfig');
      writeFileSync(kubeconfig, api.kubeconfigText());
      expect(await serveOnce(kubeconfig)).toEqual([]);
    },
  );

  it('with a token file in the kubeconfig loads none either', { timeout: 60_000 }, async () => {
    writeFileSync(join(dir, 'token'), TOKEN);
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, api.kubeconfigText({ user: { tokenFile: 'token' } }));
    expect(await serveOnce(kubeconfig)).toEqual([]);
  });

  it(
    'with an exec plugin loads the client, and works through it as before',
    { timeout: 60_000 },
    async () => {
      const credential = JSON.stringify({
        apiVersion: 'client.authentication.k8s.io/v1',
        kind: 'ExecCredential',
        status: { token: TOKEN },
      });
      const exec = {
        apiVersion: 'client.authentication.k8s.io/v1',
        command: process.execPath,
        args: ['-e', `process.stdout.write(${JSON.stringify(credential)})`],
        interactiveMode: 'Never',
      };
      const kubeconfig = join(dir, 'kubeconfig');
      writeFileSync(kubeconfig, api.kubeconfigText({ user: { exec } }));
      const loaded = await serveOnce(kubeconfig);
      expect(loaded).toContainEqual(expect.stringMatching(/client-node\/dist\/config\.js$/));
    },
  );
});

describe('in a pod', () => {
  it(
    'the service account reaches the API server without the Kubernetes client',
    { timeout: 30_000 },
    async () => {
      const ca = /certificate-authority-data: (\S+)/.exec(api.kubeconfigText())?.[1] ?? '';
      writeFileSync(join(dir, 'ca.crt'), Buffer.from(ca, 'base64'));
      writeFileSync(join(dir, 'token'), TOKEN);
      const { host, port } = new URL(api.url);
      const script = `
        const { resolveKubeConfig } = await import(${JSON.stringify(pathToFileURL(join(root, 'src/cluster/kubeconfig.ts')).href)});
        const { getJson } = await import(${JSON.stringify(pathToFileURL(join(root, 'src/cluster/get-json.ts')).href)});
        const env = { KUBERNETES_SERVICE_HOST: ${JSON.stringify(host.split(':')[0])}, KUBERNETES_SERVICE_PORT: ${JSON.stringify(port)}, HOME: ${JSON.stringify(dir)} };
        const connection = await resolveKubeConfig('auto', { env, serviceAccountDir: ${JSON.stringify(dir)} });
        const list = await getJson(connection, '/api/v1/namespaces');
        process.stdout.write(list.kind);
      `;
      const args = ['--import', import.meta.resolve('tsx'), '--import', report];
      args.push('--input-type=module', '-e', script);
      const child = spawn(process.execPath, args, { cwd: dir, env: childEnv({}) });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(code, stderr).toBe(0);
      expect(stdout).toBe('NamespaceList');
      expect([...stderr.matchAll(LOADED)]).toEqual([]);
    },
  );
});
