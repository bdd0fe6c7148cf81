// The HTTPS listener: TLS 1.2 or newer, certificates reloaded when cert-manager rotates them
// (kubelet swaps the Secret volume's `..data` symlink) and only then, and a graceful stop that
// drains.
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { createSecureContext } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { RequestListener } from 'node:http';
import type { Logger } from 'pino';
import { watchTlsFiles, type TlsFilesWatch } from './tls-files.js';
import { DriftgateError, errorCodes } from '../desired/errors.js';

export type TlsSource =
  | { readonly kind: 'files'; readonly certFile: string; readonly keyFile: string }
  | { readonly kind: 'memory'; readonly cert: string; readonly key: string };

export interface ServerOptions {
  readonly port: number;
  readonly host?: string;
  readonly tls: TlsSource;
  /**
   * PEM file of the CA that signs the API server's client certificate. The server then asks
   * every client for a certificate but does not refuse the handshake without one: kubelet
   * probes present none. Routes that need it check `req.socket.authorized` (see app.ts).
   */
  readonly clientCAFile?: string | null;
  readonly timeouts?: Partial<ServerTimeouts>;
  readonly logger: Logger;
  /** Called with the serving certificate (PEM) each time it is loaded: at start and on reload. */
  readonly onCertificate?: (certPem: string) => void;
}

/** How long a client may take; slow or idle connections are closed. */
export interface ServerTimeouts {
  /** Until the request's headers are complete. */
  readonly headersMs: number;
  /** Until the whole request, body included, is in. */
  readonly requestMs: number;
  /** An idle keep-alive connection after a response. */
  readonly keepAliveMs: number;
  /** How often the two limits above are checked. */
  readonly checkIntervalMs: number;
}

// The API server sends a whole review at once and gives up after its webhook timeout (at most
// 30 s). A slow client must not hold a connection longer. keepAlive above the 60 s idle timeout
// of Go's HTTP client, so the API server, not driftgate, closes idle connections.
export const defaultTimeouts: ServerTimeouts = {
  headersMs: 10_000,
  requestMs: 30_000,
  keepAliveMs: 65_000,
  checkIntervalMs: 1_000,
};

/** A rotation writes several entries at once: the files are read once it has settled. */
const TLS_SETTLE_MS = 200;

export interface RunningServer {
  readonly server: Server;
  readonly url: string;
  /** Reads the certificate files again; resolves false (keeping the old ones) when they are unusable. */
  reloadTls(): Promise<boolean>;
  /** Stops accepting connections, lets in-flight requests finish, closes idle keep-alives. */
  close(): Promise<void>;
}

interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
  readonly ca?: string;
}

const sameMaterial = (a: TlsMaterial, b: TlsMaterial) =>
  a.cert === b.cert && a.key === b.key && a.ca === b.ca;

async function readPem(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : (code ?? String(error));
    throw new DriftgateError(errorCodes.tlsFile, `${what} ${file}: cannot read it (${reason})`, {
      file,
    });
  }
}

/**
 * Reads the serving certificate, its key and the client CA, and checks that TLS can use them,
 * so a missing or wrong file is one error naming the file (code DRIFTGATE_ERR_TLS_FILE).
 */
export async function readTls(tls: TlsSource, clientCAFile: string | null): Promise<TlsMaterial> {
  const ca = clientCAFile === null ? undefined : await readPem(clientCAFile, 'client CA');
  const withCA = ca === undefined ? {} : { ca };
  if (tls.kind === 'memory') return { cert: tls.cert, key: tls.key, ...withCA };
  const [cert, key] = await Promise.all([
    readPem(tls.certFile, 'serving certificate'),
    readPem(tls.keyFile, 'serving key'),
  ]);
  try {
    createSecureContext({ cert, key, ...withCA });
  } catch (error) {
    const files = `${tls.certFile} and ${tls.keyFile}${clientCAFile === null ? '' : ` (client CA ${clientCAFile})`}`;
    throw new DriftgateError(
      errorCodes.tlsFile,
      `serving certificate and key ${files}: not usable (${(error as Error).message})`,
      { file: tls.certFile },
    );
  }
  return { cert, key, ...withCA };
}

export async function startServer(
  app: RequestListener,
  options: ServerOptions,
): Promise<RunningServer> {
  const { logger } = options;
  const clientCAFile = options.clientCAFile ?? null;
  const timeouts = { ...defaultTimeouts, ...options.timeouts };
  const initial = await readTls(options.tls, clientCAFile);
  options.onCertificate?.(initial.cert);
  const server = createServer(
    {
      ...initial,
      minVersion: 'TLSv1.2',
      ...(clientCAFile === null ? {} : { requestCert: true, rejectUnauthorized: false }),
      requestTimeout: timeouts.requestMs,
      headersTimeout: timeouts.headersMs,
      keepAliveTimeout: timeouts.keepAliveMs,
      connectionsCheckingInterval: timeouts.checkIntervalMs,
    },
    app,
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  let stopping = false;
  server.prependListener('request', (_request, response) => {
    if (stopping) response.setHeader('Connection', 'close');
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let served: TlsMaterial = initial;
  /** Serves the files as they are now; with `ifChanged`, only when they differ from what is served. */
  const reload = async (ifChanged: boolean): Promise<boolean> => {
    try {
      const material = await readTls(options.tls, clientCAFile);
      if (ifChanged && sameMaterial(material, served)) {
        logger.debug('certificate files touched but unchanged: not reloaded');
        return true;
      }
      server.setSecureContext({ ...material, minVersion: 'TLSv1.2' });
      served = material;
      options.onCertificate?.(material.cert);
      logger.info('serving certificate reloaded');
      return true;
    } catch (error) {
      logger.error(
        { err: error },
        `could not reload the serving certificate; keeping the current one: ${(error as Error).message}`,
      );
      return false;
    }
  };
  // One reload at a time, so two checks cannot both see the same change.
  let reloading: Promise<boolean> = Promise.resolve(true);
  const queueReload = (ifChanged: boolean): Promise<boolean> =>
    (reloading = reloading.then(() => reload(ifChanged)));

  let watcher: TlsFilesWatch | undefined;
  if (options.tls.kind === 'files') {
    watcher = watchTlsFiles(
      [options.tls.certFile, options.tls.keyFile],
      () => void queueReload(true),
      {
        settleMs: TLS_SETTLE_MS,
        failed: (error) => {
          logger.warn(
            { err: error },
            'cannot watch the certificate files: a rotated certificate is served only after a restart',
          );
        },
      },
    );
  }
  const reloadTls = () => queueReload(false);

  return {
    server,
    url: `https://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`,
    reloadTls,
    close: () =>
      new Promise<void>((resolve) => {
        watcher?.close();
        // Reviews in flight are answered, and their connections then closed: a keep-alive
        // connection left open would hold the stop for the whole keep-alive timeout.
        stopping = true;
        server.close(() => {
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
