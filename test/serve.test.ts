// `driftgate serve` as a newcomer runs it: no config, the bundled example repository, a
// development certificate; then SIGTERM drains and exits cleanly.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const cwd = mkdtempSync(join(tmpdir(), 'driftgate-serve-'));
afterAll(() => {
  rmSync(cwd, { recursive: true, force: true });
});

function post(url: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // The development certificate's CA lives only in the server process.
    const options = {
      method: 'POST',
      rejectUnauthorized: false,
      headers: { 'content-type': 'application/json' },
      timeout: 10_000,
    };
    const req = request(url, options, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** `driftgate serve` on the example, in a child process; resolves once it prints its URL. */
async function startServe(logLevel = 'warn'): Promise<{
  child: ReturnType<typeof spawn>;
  url: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}> {
  const args = ['--import', import.meta.resolve('tsx'), join(root, 'src/cli.ts'), 'serve'];
  args.push('--port', '0', '--host', '127.0.0.1', '--drain-seconds', '1');
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...process.env, LOG_LEVEL: logLevel },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const deadline = Date.now() + 30_000;
  while (!/on (https:\/\/\S+)/.test(stdout) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const url = /on (https:\/\/\S+)/.exec(stdout)?.[1] ?? '';
  return { child, url, stdout: () => stdout, stderr: () => stderr, exited };
}

describe('driftgate serve without a config', () => {
  it(
    'serves the example, denies the example review, drains on SIGTERM',
    { timeout: 60_000 },
    async () => {
      const { child, url, stdout, stderr, exited } = await startServe();
      try {
        expect(url, `no URL printed; stdout: ${stdout()}; stderr: ${stderr()}`).not.toBe('');
        expect(stdout()).toContain('--data @examples/reviews/set-image-by-alice.json');

        const example = readFileSync(
          join(root, 'examples/reviews/set-image-by-alice.json'),
          'utf8',
        );
        const reply = await post(`${url}/validate`, example);
        expect(reply.status).toBe(200);
        const response = JSON.parse(reply.body).response;
        expect(response.allowed).toBe(false);
        expect(response.status.message).toContain('spec.template.spec.containers[name=app].image');

        child.kill('SIGTERM');
        // Still answering during the drain delay.
        const during = await post(`${url}/validate`, example);
        expect(during.status).toBe(200);
        expect(await exited).toBe(0);
      } finally {
        child.kill('SIGKILL');
      }
    },
  );
});

describe('npm run demo', () => {
  it('replays the example reviews and prints each decision', { timeout: 60_000 }, async () => {
    const child = spawn(
      process.execPath,
      ['--import', import.meta.resolve('tsx'), join(root, 'examples/demo.ts')],
      {
        cwd,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    const decisions = stdout
      .split('\n')
      .slice(2)
      .filter((line) => line !== '')
      .map((line) => line.split(/\s{2,}/).slice(0, 3));
    expect(decisions).toEqual([
      ['kubectl set image', 'alice', 'denied'],
      ['HPA controller scales', 'horizontal-pod-autoscaler', 'exempt'],
      ['Argo CD applies Git', 'argocd-application-controller', 'sync'],
      ['kubectl edit configmap', 'alice', 'denied'],
      ['kubectl delete deployment', 'alice', 'denied'],
      ['kubectl annotate break-glass', 'bob (oncall)', 'allowed'],
      ['kubectl set image (incident)', 'bob (oncall)', 'break-glass'],
    ]);
  });
});

describe('driftgate serve under load', () => {
  it(
    'loses no review on SIGTERM: each one sent is answered in full, or its connection refused, and logged',
    { timeout: 90_000 },
    async () => {
      const { child, url, exited, stdout } = await startServe('info');
      try {
        expect(url).not.toBe('');
        const example = readFileSync(
          join(root, 'examples/reviews/set-image-by-alice.json'),
          'utf8',
        );
        const outcome = {
          answered: 0,
          answeredAfterSigterm: 0,
          refused: 0,
          broken: [] as string[],
        };
        let running = true;
        let signalled = false;
        // A new connection per review, as a terminating pod's are: a connection the server
        // accepted must carry its answer to the end.
        const once = () =>
          new Promise<void>((resolve) => {
            const req = request(
              `${url}/validate`,
              {
                method: 'POST',
                agent: false,
                rejectUnauthorized: false,
                headers: { 'content-type': 'application/json' },
              },
              (res) => {
                let text = '';
                res.on('data', (chunk: Buffer) => (text += chunk.toString()));
                res.on('error', (error) => {
                  outcome.broken.push(`response: ${error.message}`);
                  resolve();
                });
                res.on('end', () => {
                  const allowed = (JSON.parse(text) as { response?: { allowed?: boolean } })
                    .response?.allowed;
                  if (res.statusCode === 200 && allowed === false) {
                    outcome.answered += 1;
                    if (signalled) outcome.answeredAfterSigterm += 1;
                  } else outcome.broken.push(`status ${String(res.statusCode)}: ${text}`);
                  resolve();
                });
              },
            );
            // Connections still in the listen backlog when the listener closes are reset by the
            // kernel before TLS could start: never accepted, like a refused one. A reset after
            // the handshake would be a review the server accepted and dropped.
            let accepted = false;
            req.on('socket', (socket) => {
              socket.once('secureConnect', () => {
                accepted = true;
              });
            });
            req.on('error', (error: NodeJS.ErrnoException) => {
              if (error.code === 'ECONNREFUSED' || (error.code === 'ECONNRESET' && !accepted)) {
                outcome.refused += 1;
              } else outcome.broken.push(`request: ${error.code ?? error.message}`);
              resolve();
            });
            req.end(example);
          });
        const loop = async () => {
          while (running) await once();
        };
        const loops = Array.from({ length: 6 }, loop);
        await new Promise((resolve) => setTimeout(resolve, 500));
        signalled = true;
        child.kill('SIGTERM');
        expect(await exited).toBe(0);
        await new Promise((resolve) => setTimeout(resolve, 200));
        running = false;
        await Promise.all(loops);
        expect(outcome.broken).toEqual([]);
        expect(outcome.answeredAfterSigterm).toBeGreaterThan(0);
        expect(outcome.refused).toBeGreaterThan(0);
        // Each answer has its decision line, the last ones too: the log is written out on exit.
        const decisionLines = stdout()
          .split('\n')
          .filter((line) => line.includes('"msg":"decision"'));
        expect(decisionLines).toHaveLength(outcome.answered);
      } finally {
        child.kill('SIGKILL');
      }
    },
  );
});
