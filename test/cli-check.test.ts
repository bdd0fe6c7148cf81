// `driftgate check`: one review decided offline against a real Git repository.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  capturedManifests,
  createTestRepo,
  tempDir,
  type TestRepo,
} from './desired/git-fixture.js';
import { runDriftgate } from './support/cli.js';
import { fixturePath } from './support/fixtures.js';

let repo: TestRepo;
let dir: { path: string; cleanup: () => void };
let configFile: string;

beforeAll(() => {
  repo = createTestRepo();
  repo.commit({
    'apps/shop/deploy-web.yaml': readFileSync(join(capturedManifests, 'deploy-web.yaml'), 'utf8'),
  });
  dir = tempDir('driftgate-check-');
  configFile = join(dir.path, 'config.yaml');
  writeFileSync(
    configFile,
    [
      `cacheDir: ${join(dir.path, 'cache')}`,
      'sources:',
      `  - { name: shop, repoURL: "${repo.fileURL}", revision: main, path: apps/shop, namespace: shop }`,
      'breakGlass: { groups: [oncall] }',
      '',
    ].join('\n'),
  );
});

afterAll(() => {
  dir.cleanup();
  repo.cleanup();
});

function check(...argv: string[]) {
  return runDriftgate(dir.path, 'check', ...argv);
}

const reviewFile = (label: string) => fixturePath(`captured/reviews/${label}.validating.json`);

describe('driftgate check', () => {
  it('prints the denial the validating webhook would send, exit 1', async () => {
    const result = await check(
      '--config',
      configFile,
      '--review',
      reviewFile('20-set-image-deployment-by-alice'),
    );
    expect(result.code).toBe(1);
    const printed = JSON.parse(result.stdout);
    expect(printed).toMatchObject({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: {
        uid: '3460a080-bb57-4c2a-b0dd-8e5d228a7c71',
        allowed: false,
        status: { code: 403 },
      },
    });
    expect(printed.response.status.message).toContain(
      'spec.template.spec.containers[name=app].image',
    );
  });

  it('exit 0 for the sync identity', async () => {
    const result = await check(
      '--config',
      configFile,
      '--review',
      reviewFile('11-apply-unchanged-deployment-by-argocd'),
    );
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).response).toMatchObject({
      allowed: true,
      auditAnnotations: { decision: 'sync' },
    });
  });

  it.each([
    {
      name: 'a review file that is not a review',
      args: () => ['--config', configFile, '--review', configFile],
      message: /config\.yaml: the body is not JSON/,
    },
    {
      name: 'a missing review file',
      args: () => ['--config', configFile, '--review', 'nope.json'],
      message: /nope\.json: cannot read it \(ENOENT\)/,
    },
    {
      name: 'an invalid config',
      args: () => [
        '--config',
        fixturePath('captured/manifests/deploy-web.yaml'),
        '--review',
        reviewFile('20-set-image-deployment-by-alice'),
      ],
      message: /invalid config/,
    },
    {
      name: 'a bad --now',
      args: () => [
        '--config',
        configFile,
        '--review',
        reviewFile('20-set-image-deployment-by-alice'),
        '--now',
        'soon',
      ],
      message: /--now must be an RFC 3339 time/,
    },
  ])('exit 2 with a clear message for $name', async ({ args, message }) => {
    const result = await check(...args());
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
  });
});
