// What `driftgate serve` does once started and before it listens (it gives back the memory
// starting up left behind there): the hook runs once, before the server listens.
import { describe, expect, it } from 'vitest';
import { captureLogger } from './desired/git-fixture.js';
import { startTestServer } from './support/server.js';

describe('startDriftgate beforeServing', () => {
  it('runs once, before the server listens', async () => {
    const log = captureLogger();
    const messages = () => log.lines().map((line) => String(line['msg']));
    const seen: string[][] = [];
    const server = await startTestServer({
      logger: log.logger,
      beforeServing: () => {
        seen.push(messages());
      },
    });
    try {
      expect(seen).toHaveLength(1);
      expect(seen[0]).not.toContain('driftgate is serving');
      expect(messages()).toContain('driftgate is serving');
    } finally {
      await server.stop();
    }
  });
});
