// A real Git smart-HTTP server for tests: node's https on 127.0.0.1 with a certificate from the
// project's own generator, HTTP Basic auth in front, and `git http-backend` behind it as CGI.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfSignedForDevelopment } from '../../src/certs/generate.js';

export interface GitHttpsServerOptions {
  /** The directory holding the bare repositories (GIT_PROJECT_ROOT). */
  readonly projectRoot: string;
  readonly username: string;
  readonly password: string;
  /** A CGI run that takes longer is killed (default 20 s). */
  readonly requestTimeoutMs?: number;
}

export interface GitHttpsRequests {
  /** Requests that carried the right username and password and went to http-backend. */
  readonly authenticated: number;
  /** Requests answered 401: no credentials or wrong ones. */
  readonly refused: number;
}

export interface GitHttpsServer {
  readonly port: number;
  /** `https://127.0.0.1:PORT/NAME`, without credentials. */
  url(repoName: string): string;
  /** The CA that signed the server's certificate, as a PEM file. */
  readonly caFile: string;
  readonly requests: GitHttpsRequests;
  /** From now on only this password is accepted. */
  setPassword(password: string): void;
  close(): Promise<void>;
}

const httpBackend = join(
  execFileSync('git', ['--exec-path'], { encoding: 'utf8', timeout: 10_000 }).trim(),
  'git-http-backend',
);

/** Largest CGI header block read before the answer is given up as malformed. */
const MAX_CGI_HEADER_BYTES = 64 * 1024;

interface CgiHead {
  readonly status: number;
  readonly headers: [string, string][];
}

/** The CGI header block (`Status:` and the rest), or null when it is malformed. */
function parseCgiHead(text: string): CgiHead | null {
  let status = 200;
  const headers: [string, string][] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return null;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'status') {
      const code = Number.parseInt(value, 10);
      if (!Number.isInteger(code) || code < 100 || code > 599) return null;
      status = code;
    } else {
      headers.push([name, value]);
    }
  }
  return { status, headers };
}

/** Where the header block ends: the index of the blank line and the separator's length. */
function headEnd(buffer: Buffer): { at: number; length: number } | null {
  const crlf = buffer.indexOf('\r\n\r\n');
  const lf = buffer.indexOf('\n\n');
  if (crlf === -1 && lf === -1) return null;
  if (lf === -1 || (crlf !== -1 && crlf < lf)) return { at: crlf, length: 4 };
  return { at: lf, length: 2 };
}

function credentialsOf(req: IncomingMessage): { username: string; password: string } | null {
  const header = req.headers.authorization;
  if (header === undefined) return null;
  const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header.trim());
  if (match?.[1] === undefined) return null;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return null;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export async function startGitHttpsServer(options: GitHttpsServerOptions): Promise<GitHttpsServer> {
  const timeoutMs = options.requestTimeoutMs ?? 20_000;
  const certificate = selfSignedForDevelopment(['127.0.0.1']);
  const dir = mkdtempSync(join(tmpdir(), 'driftgate-git-https-'));
  const caFile = join(dir, 'ca.crt');
  writeFileSync(caFile, certificate.caCert);

  let password = options.password;
  const counts = { authenticated: 0, refused: 0 };
  const children = new Set<ChildProcess>();

  const refuse = (res: ServerResponse): void => {
    counts.refused += 1;
    res.writeHead(401, {
      'WWW-Authenticate': 'Basic realm="git"',
      'Content-Type': 'text/plain',
    });
    res.end('authentication required\n');
  };

  const fail = (res: ServerResponse, status: number, message: string): void => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(status, { 'Content-Type': 'text/plain' });
    res.end(`${message}\n`);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const given = credentialsOf(req);
    if (given?.username !== options.username || given.password !== password) {
      req.resume();
      refuse(res);
      return;
    }
    counts.authenticated += 1;
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const env: Record<string, string> = {
      PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin',
      GIT_PROJECT_ROOT: options.projectRoot,
      GIT_HTTP_EXPORT_ALL: '1',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GATEWAY_INTERFACE: 'CGI/1.1',
      SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
      REQUEST_METHOD: req.method ?? 'GET',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.replace(/^\?/, ''),
      REMOTE_USER: given.username,
      REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
    };
    const contentType = req.headers['content-type'];
    if (contentType !== undefined) env['CONTENT_TYPE'] = contentType;
    const contentLength = req.headers['content-length'];
    if (contentLength !== undefined) env['CONTENT_LENGTH'] = contentLength;
    // git gzips large upload-pack requests; http-backend inflates them itself when told so.
    const contentEncoding = req.headers['content-encoding'];
    if (contentEncoding !== undefined) env['HTTP_CONTENT_ENCODING'] = contentEncoding;
    // Protocol v2 is asked for in this header and passed on the way a web server passes it.
    const gitProtocol = req.headers['git-protocol'];
    if (typeof gitProtocol === 'string') env['HTTP_GIT_PROTOCOL'] = gitProtocol;

    const child = spawn(httpBackend, [], { env, stdio: ['pipe', 'pipe', 'ignore'] });
    children.add(child);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      res.destroy();
    }, timeoutMs);
    child.once('close', () => {
      clearTimeout(timer);
      children.delete(child);
    });
    child.once('error', () => {
      fail(res, 500, 'cannot run git http-backend');
    });
    // The client went away before the answer was complete: nobody will read the rest.
    res.once('close', () => {
      if (!res.writableFinished) child.kill('SIGKILL');
    });
    child.stdin.on('error', () => undefined);
    req.pipe(child.stdin);

    let head: Buffer | null = Buffer.alloc(0);
    child.stdout.on('data', (chunk: Buffer) => {
      if (head === null) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = headEnd(head);
      if (end === null) {
        if (head.length > MAX_CGI_HEADER_BYTES) {
          child.kill('SIGKILL');
          fail(res, 502, 'CGI header block too large');
          head = null;
        }
        return;
      }
      const parsed = parseCgiHead(head.subarray(0, end.at).toString('latin1'));
      const body = head.subarray(end.at + end.length);
      head = null;
      if (parsed === null) {
        child.kill('SIGKILL');
        fail(res, 502, 'malformed CGI answer');
        return;
      }
      res.statusCode = parsed.status;
      for (const [name, value] of parsed.headers) res.appendHeader(name, value);
      if (body.length > 0) res.write(body);
    });
    child.stdout.once('end', () => {
      if (head !== null) {
        fail(res, 502, 'CGI answer ended before its headers');
        return;
      }
      if (!res.writableEnded) res.end();
    });
  };

  const server: Server = createServer(
    { cert: certificate.cert, key: certificate.key },
    (req, res) => {
      handle(req, res);
    },
  );
  server.headersTimeout = timeoutMs;
  server.requestTimeout = timeoutMs;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const port = address.port;

  return {
    port,
    url: (repoName) => `https://127.0.0.1:${port}/${repoName}`,
    caFile,
    requests: counts,
    setPassword(next) {
      password = next;
    },
    async close() {
      for (const child of children) child.kill('SIGKILL');
      server.closeAllConnections();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
