import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { kubeconfigSettings } from './connection.js';
import { loadKubeConfigFile, resolveKubeConfig } from './kubeconfig.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'driftgate-kubeconfig-'));
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
  rmSync(dir, { recursive: true, force: true });
});

const base64 = (text: string) => Buffer.from(text).toString('base64');

/** A kubeconfig file of named clusters, users and contexts. */
function kubeconfig(
  file: string,
  doc: {
    clusters?: Record<string, Record<string, unknown>>;
    users?: Record<string, Record<string, unknown>>;
    contexts?: Record<string, { cluster: string; user: string }>;
    current?: string;
  },
): string {
  const path = join(dir, file);
  const named = <T>(entries: Record<string, T> | undefined, key: string) =>
    Object.entries(entries ?? {}).map(([name, value]) => ({ name, [key]: value }));
  writeFileSync(
    path,
    dump({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: named(doc.clusters, 'cluster'),
      users: named(doc.users, 'user'),
      contexts: named(doc.contexts, 'context'),
      ...(doc.current === undefined ? {} : { 'current-context': doc.current }),
    }),
  );
  return path;
}

const prod = { server: 'https://prod.example:6443/', 'certificate-authority-data': base64('CA') };
const one = (user: Record<string, unknown>, cluster: Record<string, unknown> = prod) =>
  kubeconfig('config', {
    clusters: { prod: cluster },
    users: { admin: user },
    contexts: { prod: { cluster: 'prod', user: 'admin' } },
    current: 'prod',
  });

async function applied(connection: { authenticate(o: RequestOptions): Promise<void> }) {
  const options: RequestOptions = { headers: { Accept: 'application/json' } };
  await connection.authenticate(options);
  return options;
}

describe('a kubeconfig read without the Kubernetes client', () => {
  it.each([
    {
      name: 'a token and CA data',
      user: { token: 'abc' },
      cluster: prod,
      expected: { ca: Buffer.from('CA'), token: 'abc' },
    },
    {
      name: 'client certificate and key data',
      user: { 'client-certificate-data': base64('CERT'), 'client-key-data': base64('KEY') },
      cluster: prod,
      expected: { ca: Buffer.from('CA'), cert: Buffer.from('CERT'), key: Buffer.from('KEY') },
    },
    {
      name: 'insecure-skip-tls-verify and a TLS server name',
      user: { token: 'abc' },
      cluster: {
        server: 'https://10.0.0.1',
        'insecure-skip-tls-verify': true,
        'tls-server-name': 'kubernetes',
      },
      expected: {
        insecureSkipTlsVerify: true,
        tlsServerName: 'kubernetes',
        token: 'abc',
      },
    },
  ])('reads $name', ({ user, cluster, expected }) => {
    const settings = kubeconfigSettings([one(user, cluster)]);
    expect(settings).toEqual({ server: cluster.server, ...expected });
  });

  it('reads files relative to the kubeconfig that names them', async () => {
    mkdirSync(join(dir, 'pki'));
    writeFileSync(join(dir, 'pki', 'ca.crt'), 'CA FILE');
    writeFileSync(join(dir, 'pki', 'admin.crt'), 'CERT FILE');
    writeFileSync(join(dir, 'pki', 'admin.key'), 'KEY FILE');
    const file = one(
      { 'client-certificate': 'pki/admin.crt', 'client-key': join(dir, 'pki', 'admin.key') },
      { server: 'https://prod.example', 'certificate-authority': 'pki/ca.crt' },
    );
    const options = await applied(await loadKubeConfigFile(file, 'hub'));
    expect(options).toMatchObject({
      ca: Buffer.from('CA FILE'),
      cert: Buffer.from('CERT FILE'),
      key: Buffer.from('KEY FILE'),
    });
    expect(options.headers).toEqual({ Accept: 'application/json' });
  });

  it('reads a tokenFile and certificate files again once a minute, as they rotate', async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const rotate = (round: string) => {
      writeFileSync(join(dir, 'token'), `${round}\n`);
      writeFileSync(join(dir, 'admin.crt'), `${round} CERT`);
    };
    rotate('first');
    const file = one({
      tokenFile: 'token',
      'client-certificate': 'admin.crt',
      'client-key-data': base64('KEY'),
    });
    const connection = await loadKubeConfigFile(file, 'hub');
    const seen = async () => {
      const options = await applied(connection);
      return [options.headers, options.cert?.toString()];
    };
    expect(await seen()).toMatchObject([{ Authorization: 'Bearer first' }, 'first CERT']);
    rotate('second');
    vi.advanceTimersByTime(30_000);
    expect(await seen()).toMatchObject([{ Authorization: 'Bearer first' }, 'first CERT']);
    vi.advanceTimersByTime(31_000);
    expect(await seen()).toMatchObject([{ Authorization: 'Bearer second' }, 'second CERT']);
  });

  it('merges KUBECONFIG files as client-node does: a later current-context wins', () => {
    const first = kubeconfig('a', {
      clusters: { prod },
      users: { admin: { token: 'prod-token' } },
      contexts: { prod: { cluster: 'prod', user: 'admin' } },
      current: 'prod',
    });
    const noContext = kubeconfig('b', {
      clusters: { dev: { server: 'https://dev.example', 'insecure-skip-tls-verify': true } },
      users: { dev: { token: 'dev-token' } },
      contexts: { dev: { cluster: 'dev', user: 'dev' } },
    });
    expect(kubeconfigSettings([first, noContext])?.token).toBe('prod-token');
    const switching = kubeconfig('c', { current: 'dev' });
    expect(kubeconfigSettings([first, noContext, switching])).toEqual({
      server: 'https://dev.example',
      insecureSkipTlsVerify: true,
      token: 'dev-token',
    });
  });

  it.each([
    { name: 'an exec plugin', user: { exec: { command: 'aws' } } },
    { name: 'an auth provider', user: { 'auth-provider': { name: 'oidc' } } },
    { name: 'a password', user: { username: 'admin', password: 'secret' } },
    { name: 'impersonation', user: { token: 'abc', as: 'someone' } },
    { name: 'no credentials at all', user: {} },
  ])('leaves $name to client-node', ({ user }) => {
    expect(kubeconfigSettings([one(user)])).toBeUndefined();
  });

  it('leaves a proxy and a plain-HTTP server to client-node', () => {
    expect(kubeconfigSettings([one({ token: 'a' }, { ...prod, 'proxy-url': 'http://p' })])).toBe(
      undefined,
    );
    expect(kubeconfigSettings([one({ token: 'a' }, { server: 'http://localhost:8080' })])).toBe(
      undefined,
    );
  });
});

describe('the fallback to client-node', () => {
  it('runs an exec plugin as before', async () => {
    const credential = JSON.stringify({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { token: 'from-exec' },
    });
    const file = one({
      exec: {
        apiVersion: 'client.authentication.k8s.io/v1',
        command: process.execPath,
        args: ['-e', `process.stdout.write(${JSON.stringify(credential)})`],
        interactiveMode: 'Never',
      },
    });
    vi.stubEnv('KUBECONFIG', file);
    const connection = await resolveKubeConfig(true);
    expect(connection?.server).toBe('https://prod.example:6443');
    expect((await applied(connection!)).headers).toMatchObject({
      Authorization: 'Bearer from-exec',
    });
  });

  it('keeps client-node’s refusal of a name given twice', async () => {
    const file = one({ token: 'a' });
    vi.stubEnv('KUBECONFIG', [file, file].join(':'));
    await expect(resolveKubeConfig(true)).rejects.toThrow(/Duplicate cluster: prod/);
  });
});

describe('in a pod', () => {
  it.each([
    { host: '10.96.0.1', server: 'https://10.96.0.1:443' },
    { host: 'fd00::1', server: 'https://[fd00::1]:443' },
  ])('reaches $host with the service account’s CA and token', async ({ host, server }) => {
    writeFileSync(join(dir, 'ca.crt'), 'SA CA');
    writeFileSync(join(dir, 'token'), 'sa-token');
    const env = { KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: '443', HOME: dir };
    const connection = await resolveKubeConfig('auto', { env, serviceAccountDir: dir });
    expect(connection?.server).toBe(server);
    const options = await applied(connection!);
    expect(options.ca).toEqual(Buffer.from('SA CA'));
    expect(options.headers).toMatchObject({ Authorization: 'Bearer sa-token' });
  });
});
