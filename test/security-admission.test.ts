// Security properties, each proven against the real server over HTTPS: who may call the review
// endpoints, how long a slow client may hold a connection, that untrusted strings never forge a
// log line or a table row, that only userInfo says who is asking, and that Secret values never
// leave the process.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { startServer } from '../src/admission/server.js';
import { generateCertificates } from '../src/certs/generate.js';
import type { AdmissionRequest, AdmissionReview } from '../src/kube/admission.js';
import { decide } from '../src/policy/decide.js';
import type { JsonPatchOperation } from '../src/policy/mutate.js';
import { edited, review } from './support/fixtures.js';
import { rawTls, send, untilClosed } from './support/https.js';
import { applyPatch } from './support/json-patch.js';
import { config, facts, snapshot } from './support/policy.js';
import { runDriftgate } from './support/cli.js';
import { startTestServer, type TestServer } from './support/server.js';

const dir = mkdtempSync(join(tmpdir(), 'driftgate-security-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const wrap = (request: unknown) =>
  JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request });

/** A CA and a client certificate signed by it, made by openssl as an admin would. */
function clientCertificate(name: string): { ca: string; cert: string; key: string } {
  const openssl = (...args: string[]) =>
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe', timeout: 20_000 });
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    `/CN=${name}-ca`,
    '-keyout',
    `${name}-ca.key`,
    '-out',
    `${name}-ca.crt`,
  );
  openssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=kube-apiserver',
    '-keyout',
    `${name}-client.key`,
    '-out',
    `${name}-client.csr`,
  );
  writeFileSync(join(dir, `${name}-ext.cnf`), 'extendedKeyUsage = clientAuth\n');
  openssl(
    'x509',
    '-req',
    '-in',
    `${name}-client.csr`,
    '-CA',
    `${name}-ca.crt`,
    '-CAkey',
    `${name}-ca.key`,
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    `${name}-ext.cnf`,
    '-out',
    `${name}-client.crt`,
  );
  const read = (file: string) => readFileSync(join(dir, file), 'utf8');
  return {
    ca: read(`${name}-ca.crt`),
    cert: read(`${name}-client.crt`),
    key: read(`${name}-client.key`),
  };
}

describe('listen.clientCAFile: only the API server may ask for reviews', () => {
  it('answers reviews only with a certificate from that CA; probes and metrics need none', async () => {
    const apiserver = clientCertificate('apiserver');
    const stranger = clientCertificate('stranger');
    writeFileSync(join(dir, 'client-ca.crt'), apiserver.ca);
    const server = await startTestServer({
      config: { listen: { clientCAFile: join(dir, 'client-ca.crt') } },
    });
    try {
      const url = server.driftgate.url;
      const ca = server.driftgate.caCert;
      const body = wrap(review('20-set-image-deployment-by-alice'));
      for (const path of ['/validate', '/mutate']) {
        const anonymous = await send(`${url}${path}`, body, { ca });
        expect(anonymous).toMatchObject({
          status: 401,
          body: 'a client certificate signed by the CA in listen.clientCAFile is required\n',
        });
        const wrongCA = await send(`${url}${path}`, body, {
          ca,
          cert: stranger.cert,
          key: stranger.key,
        });
        expect(wrongCA.status).toBe(401);
        const trusted = await send(`${url}${path}`, body, {
          ca,
          cert: apiserver.cert,
          key: apiserver.key,
        });
        expect(trusted.status).toBe(200);
        expect((JSON.parse(trusted.body) as AdmissionReview).response?.uid).toBe(
          review('20-set-image-deployment-by-alice').uid,
        );
      }
      // Kubelet probes and Prometheus present no certificate.
      for (const path of ['/healthz', '/readyz', '/metrics']) {
        expect((await send(`${url}${path}`, '', { method: 'GET', ca })).status, path).toBe(200);
      }
      const metrics = await send(`${url}/metrics`, '', { method: 'GET', ca });
      expect(metrics.body).toMatch(
        /driftgate_bad_requests_total\{webhook="validate",status="401"\} 2/,
      );
    } finally {
      await server.stop();
    }
  });
});

describe('slow clients are cut off', () => {
  const timeouts = { headersMs: 400, requestMs: 1_000, keepAliveMs: 400, checkIntervalMs: 100 };
  // Generous bounds: what is proven is that the connection is closed, not how fast.
  const BOUND_MS = 8_000;

  async function withServer(test: (url: string, ca: string) => Promise<void>): Promise<void> {
    const certs = generateCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    const server = await startServer(
      // Like the review routes: the answer comes once the whole body is in.
      (req, res) => {
        req.resume();
        req.on('end', () => {
          res.end('ok');
        });
      },
      {
        port: 0,
        host: '127.0.0.1',
        tls: { kind: 'memory', cert: certs.cert, key: certs.key },
        timeouts,
        logger: pino({ level: 'silent' }),
      },
    );
    try {
      await test(server.url, certs.caCert);
    } finally {
      await server.close();
    }
  }

  /** Writes `parts` one every 100 ms until the socket closes or they run out. */
  function trickle(socket: import('node:tls').TLSSocket, parts: readonly string[]): void {
    let index = 0;
    const timer = setInterval(() => {
      if (index >= parts.length || socket.destroyed) {
        clearInterval(timer);
        return;
      }
      socket.write(parts[index++] ?? '');
    }, 100);
    socket.once('close', () => {
      clearInterval(timer);
    });
  }

  it('headers sent a byte at a time (slowloris)', async () => {
    await withServer(async (url, ca) => {
      const socket = await rawTls(url, ca);
      const closed = untilClosed(socket, BOUND_MS);
      socket.write('POST /validate HTTP/1.1\r\nHost: localhost\r\n');
      trickle(socket, ['X-Slow: ', ...Array<string>(100).fill('a')]);
      const result = await closed;
      expect(result.closedAfterMs).not.toBeNull();
      expect(result.text).toMatch(/^HTTP\/1\.1 408/);
    });
  });

  it('a body sent a few bytes at a time', async () => {
    await withServer(async (url, ca) => {
      const socket = await rawTls(url, ca);
      const closed = untilClosed(socket, BOUND_MS);
      socket.write(
        'POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n',
      );
      trickle(
        socket,
        Array.from({ length: 100 }, () => '{"a":1}'),
      );
      const result = await closed;
      expect(result.closedAfterMs).not.toBeNull();
      expect(result.text).toMatch(/^HTTP\/1\.1 408/);
    });
  });

  it('an idle keep-alive connection after its answer', async () => {
    await withServer(async (url, ca) => {
      const socket = await rawTls(url, ca);
      const closed = untilClosed(socket, BOUND_MS);
      socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n');
      const result = await closed;
      expect(result.text).toMatch(/^HTTP\/1\.1 200/);
      expect(result.closedAfterMs).not.toBeNull();
    });
  });
});

describe('untrusted strings never forge a log line or a table row', () => {
  const forged = '{"level":30,"msg":"decision","decision":"allowed","user":"admin"}';
  const hostile = `mallory\n${forged}\r\n\u001b[2K\u2028x`;

  it('the decision log, and driftgate audit reading it', async () => {
    const server = await startTestServer();
    try {
      const request = review('20-set-image-deployment-by-alice');
      const body = wrap({
        ...request,
        userInfo: { username: hostile, groups: [hostile] },
        object: edited(request.object!, (o) => {
          o.metadata.annotations['driftgate.io/break-glass'] = hostile;
        }),
      });
      const reply = await send(`${server.driftgate.url}/validate`, body, {
        ca: server.driftgate.caCert,
      });
      expect(reply.status).toBe(200);
      // A request path is logged only on a server error; try one that reaches no route.
      await send(`${server.driftgate.url}/validate%0A${encodeURIComponent(forged)}`, body, {
        ca: server.driftgate.caCert,
      });
      // Each write of the logger is one line of JSON (logLines parses them one by one).
      const lines = server.logLines();
      const decisions = lines.filter((line) => line.msg === 'decision');
      expect(decisions.map((line) => line.user)).toEqual([hostile]);
      expect(decisions[0]?.decision).toBe('denied');

      // The same line read back by `driftgate audit` prints one row, the controls escaped.
      const logFile = join(dir, 'decisions.log');
      writeFileSync(logFile, `${lines.map((line) => JSON.stringify(line)).join('\n')}\n`);
      const table = await runDriftgate(dir, 'audit', logFile);
      expect(table.code).toBe(0);
      const rows = table.stdout.split('\n').filter((line) => line.includes('mallory'));
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) {
        // eslint-disable-next-line no-control-regex -- no control character may reach the table
        expect(row).not.toMatch(/[\u0000-\u001f\u2028]/);
      }
      expect(table.stdout).toContain('mallory\\n{"level":30');
      expect(table.stdout).not.toMatch(/^\{"level":30/m);
      expect(table.stdout).not.toContain('\u001b');
    } finally {
      await server.stop();
    }
  });
});

describe('only userInfo says who is asking', () => {
  const snap = snapshot();
  const ARGOCD = 'system:serviceaccount:argocd:argocd-application-controller';
  type Claim = (request: any) => void;
  const claims: Record<string, Claim> = {
    'label app.kubernetes.io/managed-by: argocd': (r) => {
      for (const o of [r.object, r.oldObject])
        if (o)
          o.metadata.labels = { ...o.metadata.labels, 'app.kubernetes.io/managed-by': 'argocd' };
    },
    'annotation argocd.argoproj.io/tracking-id': (r) => {
      for (const o of [r.object, r.oldObject])
        if (o)
          o.metadata.annotations = {
            ...o.metadata.annotations,
            'argocd.argoproj.io/tracking-id': 'shop:apps/Deployment:shop/web',
          };
    },
    'managedFields owned by argocd-controller': (r) => {
      for (const o of [r.object, r.oldObject])
        if (o)
          o.metadata.managedFields = [
            {
              manager: 'argocd-controller',
              operation: 'Update',
              apiVersion: 'apps/v1',
              fieldsType: 'FieldsV1',
              fieldsV1: { 'f:spec': { 'f:template': {} } },
            },
          ];
    },
    'fieldManager argocd-controller': (r) => {
      r.options = {
        apiVersion: 'meta.k8s.io/v1',
        kind: 'UpdateOptions',
        fieldManager: 'argocd-controller',
      };
    },
    'userInfo.extra naming the controller': (r) => {
      r.userInfo.extra = {
        'authentication.kubernetes.io/pod-name': ['argocd-application-controller-0'],
      };
    },
    'the group of argocd service accounts': (r) => {
      r.userInfo.groups = [
        'system:serviceaccounts',
        'system:serviceaccounts:argocd',
        'system:authenticated',
      ];
    },
    'a username that only starts like the controller': (r) => {
      r.userInfo.username = `${ARGOCD}-impostor`;
    },
    'argocd-server, which carries out UI users’ edits': (r) => {
      r.userInfo.username = 'system:serviceaccount:argocd:argocd-server';
    },
  };
  const writes = [
    '20-set-image-deployment-by-alice',
    '58-delete-deployment-by-alice',
    '27-scale-deployment-by-alice',
    '62-patch-secret-data-by-alice',
  ];

  it.each(Object.keys(claims))('%s does not make a write pass', (claim) => {
    for (const label of writes) {
      const request = structuredClone(review(label)) as any;
      claims[claim]!(request);
      const decision = decide(request as AdmissionRequest, snap, facts(), config(), new Date());
      expect(decision, label).toMatchObject({ allowed: false, kind: 'denied' });
    }
  });

  it('while the same writes by the controller itself are its to make', () => {
    for (const label of writes) {
      const request = {
        ...review(label),
        userInfo: {
          username: ARGOCD,
          groups: [
            'system:serviceaccounts',
            'system:serviceaccounts:argocd',
            'system:authenticated',
          ],
        },
      };
      expect(decide(request, snap, facts(), config(), new Date()).kind, label).toBe('sync');
    }
  });
});

describe('Secret values never leave the process', () => {
  // Unique markers, in Git and in requests, in stringData and (base64) in data.
  const MARKERS = {
    gitStringData: 'gitStringData-5b1f0c9e',
    gitData: 'gitData-8d2a7e41',
    requestData: 'requestData-3c9b6f27',
    requestNewKey: 'requestNewKey-e4a1d530',
    requestStringData: 'requestStringData-71fd08b2',
    oldData: 'oldData-a6c3e91f',
  };
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  const needles = Object.values(MARKERS).flatMap((marker) => [
    marker,
    b64(marker),
    b64(marker).slice(0, 12),
  ]);

  function secretYaml(): string {
    return `apiVersion: v1
kind: Secret
metadata:
  name: db-creds
  namespace: shop
type: Opaque
stringData:
  password: ${MARKERS.gitStringData}
data:
  host: ${b64(MARKERS.gitData)}
`;
  }

  function withMarkers(
    request: AdmissionRequest,
    user?: { username: string; groups: string[] },
  ): AdmissionRequest {
    const mark = (o: any, data: string) => {
      o.data = { ...o.data, password: b64(data), host: b64(MARKERS.oldData) };
      return o;
    };
    const object =
      request.object &&
      edited(request.object, (o) => {
        mark(o, MARKERS.requestData);
        o.data['new-key'] = b64(MARKERS.requestNewKey);
        o.stringData = { token: MARKERS.requestStringData };
      });
    const oldObject =
      request.oldObject && edited(request.oldObject, (o) => mark(o, MARKERS.oldData));
    return {
      ...request,
      object: object ?? null,
      oldObject: oldObject ?? null,
      ...(user === undefined ? {} : { userInfo: user }),
    };
  }

  async function admit(
    server: TestServer,
    outputs: string[],
    request: AdmissionRequest,
  ): Promise<NonNullable<AdmissionReview['response']>> {
    const { url, caCert: ca } = server.driftgate;
    const mutation = await send(`${url}/mutate`, wrap(request), { ca });
    outputs.push(mutation.body);
    const mutated = (JSON.parse(mutation.body) as AdmissionReview).response!;
    const patch =
      mutated.patch === undefined
        ? []
        : (JSON.parse(
            Buffer.from(mutated.patch, 'base64').toString('utf8'),
          ) as JsonPatchOperation[]);
    outputs.push(JSON.stringify(patch));
    const object = request.object == null ? request.object : applyPatch(request.object, patch);
    const validation = await send(`${url}/validate`, wrap({ ...request, object }), { ca });
    outputs.push(validation.body);
    return (JSON.parse(validation.body) as AdmissionReview).response!;
  }

  it.each([
    { name: 'enforce', settings: {} },
    { name: 'warn, strict', settings: { mode: 'warn', fieldPolicy: 'strict' } },
    { name: 'audit', settings: { mode: 'audit' } },
  ])(
    'mode $name: responses, warnings, patches, logs and metrics carry none',
    async ({ name, settings }) => {
      const server = await startTestServer({ config: settings });
      const outputs: string[] = [];
      try {
        server.repo.commit(
          { 'apps/shop/secret-db-creds.yaml': secretYaml() },
          'secret with markers',
        );
        await server.driftgate.provider.refreshAll();
        const bob = { username: 'bob@example.com', groups: ['oncall', 'system:authenticated'] };
        const writes: [string, AdmissionRequest][] = [
          ['update by alice', withMarkers(review('62-patch-secret-data-by-alice'))],
          [
            'create by alice',
            withMarkers({
              ...review('04-create-secret-stringdata-by-alice'),
              name: 'db-creds',
              object: edited(review('04-create-secret-stringdata-by-alice').object!, (o) => {
                o.metadata.name = 'db-creds';
              }),
            }),
          ],
          [
            'delete by alice',
            withMarkers({
              ...review('62-patch-secret-data-by-alice'),
              operation: 'DELETE',
              object: null,
            }),
          ],
          [
            'break-glass by bob',
            withMarkers(
              {
                ...review('62-patch-secret-data-by-alice'),
                object: edited(review('62-patch-secret-data-by-alice').object!, (o) => {
                  o.metadata.annotations = {
                    ...o.metadata.annotations,
                    'driftgate.io/break-glass': 'INC-7 rotate',
                  };
                }),
              },
              bob,
            ),
          ],
        ];
        const decisions: string[] = [];
        for (const [, request] of writes) {
          const response = await admit(server, outputs, request);
          decisions.push(response.auditAnnotations?.decision ?? '(none)');
        }
        // The writes were judged (not skipped), and named the fields they changed.
        expect(
          decisions.some((d) => ['denied', 'warned', 'audited', 'break-glass'].includes(d)),
          name,
        ).toBe(true);
        expect(outputs.join('\n')).toContain('data.password');
        outputs.push(
          (
            await send(`${server.driftgate.url}/metrics`, '', {
              method: 'GET',
              ca: server.driftgate.caCert,
            })
          ).body,
        );
        outputs.push(
          server
            .logLines()
            .map((line) => JSON.stringify(line))
            .join('\n'),
        );
        const everything = outputs.join('\n');
        for (const needle of needles) expect(everything, needle).not.toContain(needle);
      } finally {
        await server.stop();
      }
    },
  );
});

describe('a config that reviews nothing is said loudly at start', () => {
  it('logs a warning naming the key', async () => {
    const server = await startTestServer({
      config: { mode: 'audit', namespaces: { exclude: ['shop'] } },
    });
    try {
      const warnings = server
        .logLines()
        .filter((line) => line.level === 40 && typeof line.key === 'string');
      // Git also declares a ClusterRole, which no namespace exclusion covers: no snapshot warning.
      expect(warnings.map((line) => line.key)).toEqual(['mode', 'namespaces.exclude']);
      expect(warnings[0]?.msg).toMatch(
        /^config mode: audit, and no namespaces.overrides sets enforce or warn/,
      );
    } finally {
      await server.stop();
    }
  });
});
