// How driftgate reaches the API server: its address, and the TLS and credentials each request
// carries. Read here without @kubernetes/client-node, whose import alone costs tens of MB.
import { readFileSync } from 'node:fs';
import type { OutgoingHttpHeaders } from 'node:http';
import type { RequestOptions } from 'node:https';
import { isIPv6 } from 'node:net';
import { dirname, isAbsolute, join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { load } from 'js-yaml';
import { SERVICE_ACCOUNT_DIR } from './kubeconfig-present.js';

export interface ClusterConnection {
  /** The API server's URL without a trailing slash: `https://10.96.0.1:443`. */
  readonly server: string;
  /** Sets the CA, the client certificate and the credentials on one request. */
  authenticate(request: RequestOptions): Promise<void>;
}

/**
 * Bytes given inline, or a file read again at most once a minute: projected service account
 * tokens rotate, and so may certificates (client-node reads them on every request).
 */
export type Material = Buffer | { readonly file: string };

/** What one request needs, as a kubeconfig or a service account gives it. */
export interface ConnectionSettings {
  readonly server: string;
  readonly ca?: Material;
  readonly insecureSkipTlsVerify?: boolean;
  readonly tlsServerName?: string;
  readonly cert?: Material;
  readonly key?: Material;
  readonly token?: string | { readonly file: string };
}

const REREAD_MS = 60_000;

export function connectionFrom(settings: ConnectionSettings): ClusterConnection {
  const files = new Map<string, { readonly bytes: Buffer; readonly readAt: number }>();
  const bytesOf = (material: Material | undefined): Buffer | undefined => {
    if (material === undefined || Buffer.isBuffer(material)) return material;
    const known = files.get(material.file);
    if (known !== undefined && performance.now() - known.readAt < REREAD_MS) return known.bytes;
    const bytes = readFileSync(material.file);
    files.set(material.file, { bytes, readAt: performance.now() });
    return bytes;
  };
  return {
    server: settings.server.replace(/\/$/, ''),
    authenticate(request) {
      if (settings.insecureSkipTlsVerify === true) request.rejectUnauthorized = false;
      if (settings.tlsServerName !== undefined) request.servername = settings.tlsServerName;
      const ca = bytesOf(settings.ca);
      const cert = bytesOf(settings.cert);
      const key = bytesOf(settings.key);
      if (ca !== undefined) request.ca = ca;
      if (cert !== undefined) request.cert = cert;
      if (key !== undefined) request.key = key;
      const bearer =
        typeof settings.token === 'string'
          ? settings.token
          : bytesOf(settings.token)?.toString('utf8').trim();
      if (bearer !== undefined) {
        // driftgate's requests name their headers in an object, never as a raw list.
        const headers = (request.headers ?? {}) as OutgoingHttpHeaders;
        request.headers = { ...headers, Authorization: `Bearer ${bearer}` };
      }
      return Promise.resolve();
    },
  };
}

/** A client-node KubeConfig (exec, auth providers…) seen as a connection. */
export function connectionOfKubeConfig(kubeConfig: KubeConfig): ClusterConnection {
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) throw new Error('the kubeconfig has no current cluster');
  return {
    server: cluster.server.replace(/\/$/, ''),
    authenticate: (request) => kubeConfig.applyToHTTPSOptions(request),
  };
}

/** The pod's own service account, as client-node's loadFromCluster() reads it. */
export function inClusterSettings(
  env: NodeJS.ProcessEnv,
  dir: string = SERVICE_ACCOUNT_DIR,
): ConnectionSettings {
  const host = env.KUBERNETES_SERVICE_HOST ?? '';
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  return {
    server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`,
    ca: { file: join(dir, 'ca.crt') },
    token: { file: join(dir, 'token') },
  };
}

/**
 * The connection settings of a kubeconfig's current context, or undefined when they need more
 * than this reads (exec, an auth provider, a password, impersonation, a proxy): client-node
 * serves those. `files` are merged as client-node merges KUBECONFIG: the first file gives the
 * start, a later file's current-context replaces it, and a name given twice is an error there.
 */
export function kubeconfigSettings(files: readonly string[]): ConnectionSettings | undefined {
  const clusters = new Map<string, { entry: Record<string, unknown>; dir: string }>();
  const users = new Map<string, { entry: Record<string, unknown>; dir: string }>();
  const contexts = new Map<string, Record<string, unknown>>();
  let currentContext: string | undefined;
  for (const file of files) {
    const dir = dirname(file);
    const doc = objectOf(load(readFileSync(file, 'utf8')));
    if (doc === undefined) continue;
    const current = doc['current-context'];
    if (typeof current === 'string' && current !== '') currentContext = current;
    for (const [list, into, key] of [
      [doc.clusters, clusters, 'cluster'],
      [doc.users, users, 'user'],
    ] as const) {
      for (const named of Array.isArray(list) ? list : []) {
        const { name, [key]: entry } = objectOf(named) ?? {};
        if (typeof name !== 'string') return undefined;
        // client-node refuses a name twice; it says so in its own words.
        if (into.has(name)) return undefined;
        into.set(name, { entry: objectOf(entry) ?? {}, dir });
      }
    }
    for (const named of Array.isArray(doc.contexts) ? doc.contexts : []) {
      const { name, context } = objectOf(named) ?? {};
      if (typeof name !== 'string' || contexts.has(name)) return undefined;
      contexts.set(name, objectOf(context) ?? {});
    }
  }
  const context = currentContext === undefined ? undefined : contexts.get(currentContext);
  const clusterName = context?.cluster;
  const userName = context?.user;
  if (typeof clusterName !== 'string' || typeof userName !== 'string') return undefined;
  const cluster = clusters.get(clusterName);
  const user = users.get(userName);
  if (cluster === undefined || user === undefined) return undefined;
  return settingsOf(cluster, user);
}

const CLUSTER_KEYS = new Set([
  'server',
  'certificate-authority',
  'certificate-authority-data',
  'insecure-skip-tls-verify',
  'tls-server-name',
  'extensions',
]);
const USER_KEYS = new Set([
  'token',
  'tokenFile',
  'token-file',
  'client-certificate',
  'client-certificate-data',
  'client-key',
  'client-key-data',
  'extensions',
]);

function settingsOf(
  cluster: { entry: Record<string, unknown>; dir: string },
  user: { entry: Record<string, unknown>; dir: string },
): ConnectionSettings | undefined {
  const c = cluster.entry;
  const u = user.entry;
  if (!Object.keys(c).every((key) => CLUSTER_KEYS.has(key))) return undefined;
  if (!Object.keys(u).every((key) => USER_KEYS.has(key))) return undefined;
  if (typeof c.server !== 'string' || c.server === '') return undefined;
  if (!c.server.startsWith('https://')) return undefined;
  const text = (value: unknown): string | undefined =>
    typeof value === 'string' && value !== '' ? value : undefined;
  // Paths in a kubeconfig are relative to the file that names them; a file wins over data, as
  // in client-node.
  const fileIn = (path: unknown, dir: string): { file: string } | undefined => {
    const file = text(path);
    return file === undefined ? undefined : { file: isAbsolute(file) ? file : join(dir, file) };
  };
  const material = (path: unknown, dir: string, base64: unknown): Material | undefined => {
    const file = fileIn(path, dir);
    if (file !== undefined) return file;
    const data = text(base64);
    return data === undefined ? undefined : Buffer.from(data, 'base64');
  };
  const token = text(u.token);
  const settings: ConnectionSettings = {
    server: c.server,
    ...optional(
      'ca',
      material(c['certificate-authority'], cluster.dir, c['certificate-authority-data']),
    ),
    ...(c['insecure-skip-tls-verify'] === true ? { insecureSkipTlsVerify: true } : {}),
    ...optional('tlsServerName', text(c['tls-server-name'])),
    ...optional('cert', material(u['client-certificate'], user.dir, u['client-certificate-data'])),
    ...optional('key', material(u['client-key'], user.dir, u['client-key-data'])),
    // An inline token wins over a token file, as in kubectl.
    ...optional('token', token ?? fileIn(u.tokenFile ?? u['token-file'], user.dir)),
  };
  const credentials =
    settings.token !== undefined || (settings.cert !== undefined && settings.key !== undefined);
  return credentials ? settings : undefined;
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function objectOf(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}
