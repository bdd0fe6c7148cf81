// What a test leaves behind (repositories, caches, providers, servers), undone after each test,
// newest first.
import { afterEach } from 'vitest';
import { createTestRepo, type TestRepo } from '../desired/git-fixture.js';

export interface Cleanups {
  /** Undone after the test that pushed it. */
  readonly cleanups: (() => unknown)[];
  /** A test repository, removed after the test. */
  readonly repo: () => TestRepo;
}

/** Call once at the top of a test file. */
export function cleanedAfterEach(): Cleanups {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return {
    cleanups,
    repo: () => {
      const created = createTestRepo();
      cleanups.push(() => {
        created.cleanup();
      });
      return created;
    },
  };
}
