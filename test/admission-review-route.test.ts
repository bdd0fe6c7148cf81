// The review route on its own, with handlers that fail: every request still gets an answer, and
// the server keeps answering.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FailClosed } from '../src/admission/handlers.js';
import { createMetrics } from '../src/admission/metrics.js';
import { reviewRoute } from '../src/admission/review-route.js';
import { selfSignedForDevelopment } from '../src/certs/generate.js';
import type { AdmissionRequest, AdmissionResponse } from '../src/kube/admission.js';
import { captureLogger } from './desired/git-fixture.js';
import { review } from './support/fixtures.js';
import { send } from './support/https.js';

const tls = selfSignedForDevelopment(['127.0.0.1']);
const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    await new Promise((resolve) => server.close(resolve));
  }
});

async function serve(
  handle: (request: AdmissionRequest) => Promise<AdmissionResponse>,
): Promise<{ url: string; logged: () => Record<string, unknown>[] }> {
  const log = captureLogger();
  const metrics = createMetrics({
    current: () => {
      throw new Error('not used');
    },
    status: () => [],
  });
  const server = createServer(
    { cert: tls.cert, key: tls.key },
    reviewRoute('validate', { logger: log.logger, metrics }, handle),
  );
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `https://127.0.0.1:${port}/validate`, logged: log.lines };
}

async function post(url: string): Promise<{ status: number; type: string; body: string }> {
  const reply = await send(
    url,
    JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: review('20-set-image-deployment-by-alice'),
    }),
    { ca: tls.caCert },
  );
  return { status: reply.status, type: String(reply.headers['content-type']), body: reply.body };
}

describe('the review route when judging fails', () => {
  it.each([
    {
      name: 'a handler that throws before returning a promise',
      handle: (): Promise<AdmissionResponse> => {
        throw new Error('boom');
      },
    },
    {
      name: 'a handler whose promise rejects',
      handle: (): Promise<AdmissionResponse> => Promise.reject(new Error('boom')),
    },
  ])('$name: a plain 500, logged, and the next review is answered', async ({ handle }) => {
    const { url, logged } = await serve(handle);
    for (let attempt = 0; attempt < 2; attempt++) {
      expect(await post(url)).toEqual({
        status: 500,
        type: 'text/plain; charset=utf-8',
        body: 'internal error\n',
      });
    }
    expect(logged().filter((line) => line['msg'] === 'request failed')).toHaveLength(2);
  });

  it('a write that cannot be judged fails closed with the reason', async () => {
    const { url } = await serve(() => Promise.reject(new FailClosed('no desired snapshot yet')));
    expect(await post(url)).toEqual({
      status: 500,
      type: 'text/plain; charset=utf-8',
      body: 'driftgate could not judge this write: no desired snapshot yet\n',
    });
  });
});
