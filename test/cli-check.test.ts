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
import { requestFor } from '../src/cli/manifest-review.js';
import type { KubeObject } from '../src/kube/object.js';
import { runDriftgate } from './support/cli.js';
import { fixturePath, review } from './support/fixtures.js';

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
      '--output',
      'json',
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
      '--output',
      'json',
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

describe('driftgate check --object: the review built from plain manifests', () => {
  const webManifest = () => readFileSync(join(capturedManifests, 'deploy-web.yaml'), 'utf8');
  const write = (name: string, text: string) => {
    const file = join(dir.path, name);
    writeFileSync(file, text);
    return file;
  };
  const editedImage = () =>
    webManifest().replace(
      'registry.example.com/shop/web:1.4.2',
      'registry.example.com/shop/web:1.5.0',
    );
  const denialPrefix =
    'Error from server (Forbidden): admission webhook "validate.driftgate.io" denied the request: ';

  it('fills the same request fields a real API server sends, with the same values', () => {
    const real = review('20-set-image-deployment-by-alice');
    const built = requestFor({
      operation: 'UPDATE',
      object: real.object as KubeObject,
      old: real.oldObject as KubeObject,
      username: 'alice@example.com',
      groups: ['developers'],
      now: new Date('2026-01-01T00:00:00Z'),
    });
    expect(Object.keys(built).sort()).toEqual(Object.keys(real).sort());
    for (const field of [
      'kind',
      'resource',
      'requestKind',
      'requestResource',
      'name',
      'namespace',
      'operation',
      'userInfo',
      'dryRun',
      'object',
      'oldObject',
    ] as const) {
      expect(built[field], field).toEqual(real[field]);
    }
    expect(built.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect((built.options as { kind: string }).kind).toBe('UpdateOptions');
  });

  it.each([
    { name: 'a Namespace names itself', kind: 'Namespace', apiVersion: 'v1', namespace: 'shop' },
    {
      name: 'a cluster-scoped kind has none',
      kind: 'ClusterRole',
      apiVersion: 'rbac.authorization.k8s.io/v1',
      namespace: undefined,
    },
  ])('request.namespace: $name', ({ kind, apiVersion, namespace }) => {
    const built = requestFor({
      operation: 'CREATE',
      object: { apiVersion, kind, metadata: { name: 'shop' } },
      username: 'alice@example.com',
      groups: [],
      now: new Date(),
    });
    expect(built.namespace).toBe(namespace);
    expect(built.oldObject).toBeNull();
    expect(built.resource.resource).toBe(`${kind.toLowerCase()}s`);
  });

  it('a DELETE sends the stored object as oldObject and no object', () => {
    const object = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'c', namespace: 'shop' },
    };
    const built = requestFor({
      operation: 'DELETE',
      object,
      username: 'a',
      groups: [],
      now: new Date(),
    });
    expect(built.object).toBeNull();
    expect(built.oldObject).toMatchObject(object);
    expect(built.options).toMatchObject({ kind: 'DeleteOptions' });
  });

  it('prints the denial as kubectl does, exit 1', async () => {
    const result = await check(
      '--config',
      configFile,
      '--object',
      write('edited.yaml', editedImage()),
      '--old',
      write('stored.yaml', webManifest()),
      '--user',
      'alice@example.com',
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('');
    expect(result.stdout.startsWith(denialPrefix)).toBe(true);
    expect(result.stdout).toContain('UPDATE of apps/Deployment shop/web by alice@example.com');
    expect(result.stdout).toContain(
      'spec.template.spec.containers[name=app].image: Git has "registry.example.com/shop/web:1.4.2", the request has "registry.example.com/shop/web:1.5.0"',
    );
  });

  it('decides each document: an unchanged one allowed, an edited one denied', async () => {
    const other = editedImage();
    const result = await check(
      '--config',
      configFile,
      '--object',
      write('two.yaml', `${webManifest()}\n---\n${other}`),
      '--operation',
      'CREATE',
      '--user',
      'alice@example.com',
      '--group',
      'developers',
    );
    expect(result.code).toBe(1);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toBe('CREATE apps/Deployment shop/web: allowed');
    expect(lines[1]?.startsWith(denialPrefix)).toBe(true);
  });

  it('exit 0 when every write is allowed; --output json gives one AdmissionReview per document', async () => {
    const result = await check(
      '--config',
      configFile,
      '--object',
      write('same.yaml', webManifest()),
      '--old',
      write('stored.yaml', webManifest()),
      '--output',
      'json',
    );
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout) as { response: { allowed: boolean; uid: string } }[];
    expect(printed).toHaveLength(1);
    expect(printed[0]).toMatchObject({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { allowed: true },
    });
  });

  it.each([
    {
      name: 'an unknown operation',
      args: () => ['--object', configFile, '--operation', 'PATCH'],
      message: /--operation must be CREATE, UPDATE or DELETE, not 'PATCH'/,
    },
    {
      name: 'an UPDATE without the stored object',
      args: () => ['--object', write('edited.yaml', editedImage()), '--operation', 'UPDATE'],
      message: /--operation UPDATE needs --old/,
    },
    {
      name: '--old without the object written',
      args: () => [
        '--object',
        write('edited.yaml', editedImage()),
        '--old',
        write(
          'other.yaml',
          'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: shop}\n',
        ),
      ],
      message: /other\.yaml: holds no apps\/Deployment shop\/web/,
    },
    {
      name: 'both --review and --object',
      args: () => [
        '--object',
        configFile,
        '--review',
        reviewFile('20-set-image-deployment-by-alice'),
      ],
      message: /one of --review or --object/,
    },
    {
      name: 'a document that is not an object',
      args: () => ['--object', write('list.yaml', 'apiVersion: v1\nkind: ConfigMap\n---\n- 1\n')],
      message: /list\.yaml \(document 1\): not a Kubernetes object/,
    },
    {
      name: 'an unknown output',
      args: () => ['--object', configFile, '--output', 'yaml'],
      message: /--output must be text or json/,
    },
  ])('exit 2 for $name', async ({ args, message }) => {
    const result = await check('--config', configFile, ...args());
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
  });
});
