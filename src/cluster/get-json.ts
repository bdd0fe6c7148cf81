// One GET of a JSON document from the API server, over node:https with the KubeConfig's TLS and
// credentials: for the documents that are not lists of objects (OpenAPI, discovery).
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

/** An answer other than 200, with the status the API server gave. */
export class ApiGetError extends Error {
  constructor(
    message: string,
    readonly statusCode: number | undefined,
    /** The API server's own explanation: a Status's message, else the start of the body. */
    readonly reason?: string,
  ) {
    super(message);
  }
}

const TIMEOUT_MS = 30_000;
// An OpenAPI document of a large group is a few MB; nothing the API server sends is near this.
const MAX_BYTES = 64 * 1024 * 1024;

export async function getJson(kubeConfig: KubeConfig, path: string): Promise<unknown> {
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) throw new Error('the kubeconfig has no current cluster');
  const url = new URL(cluster.server.replace(/\/$/, '') + path);
  const options: RequestOptions = { method: 'GET', headers: { Accept: 'application/json' } };
  await kubeConfig.applyToHTTPSOptions(options);
  return new Promise((resolve, reject) => {
    const request = httpsRequest(url, options, (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BYTES) request.destroy(new Error(`GET ${path}: over ${MAX_BYTES} bytes`));
        else chunks.push(chunk);
      });
      response.on('error', reject);
      response.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (response.statusCode !== 200) {
          reject(
            new ApiGetError(
              `GET ${path}: HTTP ${String(response.statusCode)}: ${body.slice(0, 200).trim()}`,
              response.statusCode,
              statusMessage(body),
            ),
          );
          return;
        }
        try {
          resolve(JSON.parse(body));
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
    });
    request.setTimeout(TIMEOUT_MS, () => request.destroy(new Error(`GET ${path}: timed out`)));
    request.on('error', reject);
    request.end();
  });
}

function statusMessage(body: string): string {
  try {
    const status = JSON.parse(body) as { message?: unknown };
    if (typeof status.message === 'string') return status.message;
  } catch {
    // Not a Status: an unknown API group answers text/plain.
  }
  return body.slice(0, 200).trim();
}
