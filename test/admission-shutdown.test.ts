// Stopping the server: a connection the server accepted gets its answer, even when its review
// arrives just after the stop began, and every answer from then on closes its connection, so a
// keep-alive connection cannot hold the stop for the keep-alive timeout.
import { describe, expect, it } from 'vitest';
import { review } from './support/fixtures.js';
import { rawTls, untilClosed } from './support/https.js';
import { startTestServer } from './support/server.js';

describe('stopping', () => {
  it('answers a review sent on an open connection just after the stop began', async () => {
    const server = await startTestServer();
    const { driftgate } = server;
    try {
      const socket = await rawTls(driftgate.url, driftgate.caCert);
      const answer = untilClosed(socket, 10_000);
      const stopped = driftgate.stop();
      await new Promise((resolve) => setTimeout(resolve, 100));
      const body = JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: review('20-set-image-deployment-by-alice'),
      });
      socket.write(
        `POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${String(Buffer.byteLength(body))}\r\n\r\n${body}`,
      );
      const { text, closedAfterMs } = await answer;
      // Closed by the server, not left open until the 10 s bound of this test.
      expect(closedAfterMs).not.toBeNull();
      expect(text).toMatch(/^HTTP\/1\.1 200 /);
      expect(text.toLowerCase()).toContain('connection: close');
      expect(text).toContain('"allowed":false');
      await stopped;
    } finally {
      await server.stop();
    }
  });
});
