// The HTTPS listener: TLS 1.2 or newer, certificates reloaded when cert-manager rotates them
// (kubelet swaps the Secret volume's `..data` symlink), and a graceful stop that drains.
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import type { RequestListener } from 'node:http';
import type { Logger } from 'pino';

export type TlsSource =
  | { readonly kind: 'files'; readonly certFile: string; readonly keyFile: string }
  | { readonly kind: 'memory'; readonly cert: string; readonly key: string };

export interface ServerOptions {
  readonly port: number;
  readonly host?: string;
  readonly tls: TlsSource;
  readonly logger: Logger;
}

export interface RunningServer {
  readonly server: Server;
  readonly url: string;
  /** Reads the certificate files again; resolves false (keeping the old ones) when they are unusable. */
  reloadTls(): Promise<boolean>;
  /** Stops accepting connections, lets in-flight requests finish, closes idle keep-alives. */
  close(): Promise<void>;
}

async function readTls(tls: TlsSource): Promise<{ cert: string; key: string }> {
  if (tls.kind === 'memory') return { cert: tls.cert, key: tls.key };
  const [cert, key] = await Promise.all([
    readFile(tls.certFile, 'utf8'),
    readFile(tls.keyFile, 'utf8'),
  ]);
  return { cert, key };
}

export async function startServer(
  app: RequestListener,
  options: ServerOptions,
): Promise<RunningServer> {
  const { logger } = options;
  const initial = await readTls(options.tls);
  const server = createServer(
    {
      ...initial,
      minVersion: 'TLSv1.2',
      // Slow clients must not hold connections open: the API server sends whole bodies at once.
      requestTimeout: 30_000,
      headersTimeout: 10_000,
      keepAliveTimeout: 65_000,
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
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  const reloadTls = async (): Promise<boolean> => {
    try {
      server.setSecureContext({ ...(await readTls(options.tls)), minVersion: 'TLSv1.2' });
      logger.info('serving certificate reloaded');
      return true;
    } catch (error) {
      logger.error(
        { err: error },
        'could not reload the serving certificate; keeping the current one',
      );
      return false;
    }
  };

  let watcher: FSWatcher | undefined;
  if (options.tls.kind === 'files') {
    let timer: NodeJS.Timeout | undefined;
    watcher = watch(dirname(options.tls.certFile), () => {
      // A rotation touches several files at once: reload once it settles.
      clearTimeout(timer);
      timer = setTimeout(() => void reloadTls(), 200);
      timer.unref();
    });
    watcher.unref();
  }

  return {
    server,
    url: `https://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`,
    reloadTls,
    close: () =>
      new Promise<void>((resolve) => {
        watcher?.close();
        server.close(() => {
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
