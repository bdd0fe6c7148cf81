// `driftgate diff` as a user runs it: files in, text or JSON out, exit codes 0/1/2.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runDriftgate } from './support/cli.js';
import { afterAll, describe, expect, it } from 'vitest';
import { captured131, edited, fixturePath, review } from './support/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'driftgate-cli-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

function driftgate(...argv: string[]) {
  return runDriftgate(dir, ...argv);
}

const desired = fixturePath('captured/manifests/deploy-web.yaml');
const created = review('10-apply-create-deployment-by-argocd').object!;
const inSync = file('live-in-sync.json', created);
const drifted = file(
  'live-drifted.json',
  edited(created, (d) => {
    d.spec.replicas = 3;
    d.spec.template.spec.containers[0].image = 'registry.example.com/shop/web:2.0.0';
  }),
);

describe('driftgate diff', () => {
  it('exits 0 and says so when the object matches Git', async () => {
    const result = await driftgate('diff', '--desired', desired, '--live', inSync);
    expect(result).toEqual({
      code: 0,
      stdout: 'apps/Deployment shop/web: in sync with Git\n',
      stderr: '',
    });
  });

  it('pairs a cluster-scoped custom resource with its manifest, whatever namespace Git gave it', async () => {
    // The ClusterWidget as kubectl created it on kube-apiserver v1.31 (step 73a); Git's copy
    // carries the namespace kustomize's `namespace:` sets on kinds it does not know.
    const live = file(
      'live-clusterwidget.json',
      captured131.review('73a-apply-create-clusterwidget-by-argocd').object,
    );
    const git = file(
      'clusterwidget.json',
      edited(captured131.manifest('clusterwidget-global'), (w) => {
        w.metadata.namespace = 'platform';
      }),
    );
    expect(await driftgate('diff', '--desired', git, '--live', live)).toEqual({
      code: 0,
      stdout: 'capture.example.com/ClusterWidget global: in sync with Git\n',
      stderr: '',
    });
  });

  it('exits 1 and names each field with both values', async () => {
    const result = await driftgate('diff', '--desired', desired, '--live', drifted);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe(
      [
        'apps/Deployment shop/web: 2 fields differ from Git',
        '  spec.replicas',
        '    git:  2',
        '    live: 3',
        '  spec.template.spec.containers[name=app].image',
        '    git:  "registry.example.com/shop/web:1.4.2"',
        '    live: "registry.example.com/shop/web:2.0.0"',
        '',
      ].join('\n'),
    );
  });

  it('prints [{path, pointer, desired, live}] with --output json', async () => {
    const result = await driftgate(
      'diff',
      '--desired',
      desired,
      '--live',
      drifted,
      '--output',
      'json',
    );
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual([
      { path: 'spec.replicas', pointer: '/spec/replicas', desired: 2, live: 3 },
      {
        path: 'spec.template.spec.containers[name=app].image',
        pointer: '/spec/template/spec/containers/0/image',
        desired: 'registry.example.com/shop/web:1.4.2',
        live: 'registry.example.com/shop/web:2.0.0',
      },
    ]);
  });

  it('applies Argo CD ignore rules from --ignore', async () => {
    const rules = file(
      'ignore.yaml',
      '- group: apps\n  kind: Deployment\n  jsonPointers:\n  - /spec/replicas\n  - /spec/template/spec/containers/0/image\n',
    );
    const result = await driftgate(
      'diff',
      '--desired',
      desired,
      '--live',
      drifted,
      '--ignore',
      rules,
    );
    expect(result.code).toBe(0);
  });

  it('judges a write with --old: only what the write changed counts', async () => {
    const request = review('20-set-image-deployment-by-alice');
    const old = file('old.json', request.oldObject);
    const live = file('new.json', request.object);
    const result = await driftgate('diff', '--desired', desired, '--old', old, '--live', live);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('1 field differs from Git because of this write');
    expect(result.stdout).toContain(
      'Already drifted before the write (left alone by it):\n  spec.replicas',
    );
  });

  it('strict field policy reports an undeclared label the write added', async () => {
    const request = review('25-label-deployment-by-alice');
    const old = file('old-25.json', request.oldObject);
    const live = file('new-25.json', request.object);
    const declared = await driftgate('diff', '--desired', desired, '--old', old, '--live', live);
    expect(declared.code).toBe(0);
    const strict = await driftgate(
      'diff',
      '--desired',
      desired,
      '--old',
      old,
      '--live',
      live,
      '--field-policy',
      'strict',
      '--output',
      'json',
    );
    expect(strict.code).toBe(1);
    expect(JSON.parse(strict.stdout)).toEqual([
      { path: 'metadata.labels.tier', pointer: '/metadata/labels/tier', live: 'frontend' },
    ]);
  });

  it.each([
    {
      name: 'a missing file',
      args: () => ['--desired', join(dir, 'nope.yaml'), '--live', inSync],
      message: /nope\.yaml: cannot read it \(no such file\)/,
    },
    {
      name: 'broken YAML',
      args: () => ['--desired', file('broken.yaml', 'kind: [\n  x: y\n'), '--live', inSync],
      message: /broken\.yaml: not valid YAML or JSON at line \d+/,
    },
    {
      name: 'two objects in one file',
      args: () => ['--desired', file('two.yaml', 'a: 1\n---\nb: 2\n'), '--live', inSync],
      message: /two\.yaml: expected exactly one object, found 2 documents/,
    },
    {
      name: 'an AdmissionReview',
      args: () => [
        '--desired',
        desired,
        '--live',
        fixturePath('captured/reviews/20-set-image-deployment-by-alice.validating.json'),
      ],
      message: /is an AdmissionReview; give the object itself/,
    },
    {
      name: 'not a Kubernetes object',
      args: () => ['--desired', file('cfg.yaml', 'name: x\n'), '--live', inSync],
      message: /cfg\.yaml: not a Kubernetes object/,
    },
    {
      name: 'two different objects',
      args: () => ['--desired', fixturePath('captured/manifests/svc-web.yaml'), '--live', inSync],
      message: /are different objects: \/Service shop\/web and apps\/Deployment shop\/web/,
    },
    {
      name: 'an unknown option',
      args: () => ['--desired', desired, '--live', inSync, '--colour'],
      message: /Unknown option '--colour'/,
    },
    {
      name: 'a missing --live',
      args: () => ['--desired', desired],
      message: /--desired and --live are required/,
    },
    {
      name: 'a bad field policy',
      args: () => ['--desired', desired, '--live', inSync, '--field-policy', 'loose'],
      message: /--field-policy must be declared or strict/,
    },
    {
      name: 'strict without --old',
      args: () => ['--desired', desired, '--live', inSync, '--field-policy', 'strict'],
      message: /needs --old/,
    },
    {
      name: 'jq ignore rules',
      args: () => [
        '--desired',
        desired,
        '--live',
        inSync,
        '--ignore',
        file('jq.yaml', '- kind: Deployment\n  jqPathExpressions: [.spec.replicas]\n'),
      ],
      message: /rules\[0\]\.jqPathExpressions: not supported/,
    },
  ])('exits 2 with a clear message for $name', async ({ args, message }) => {
    const result = await driftgate('diff', ...args());
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^driftgate diff: /);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('the driftgate executable exits with the command’s code', async () => {
    const run = promisify(execFile);
    const cli = fixturePath('../../src/cli.ts');
    const failure = await run(process.execPath, [
      '--import',
      'tsx',
      cli,
      'diff',
      '--desired',
      desired,
      '--live',
      drifted,
    ]).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stdout: string }).stdout).toContain('2 fields differ from Git');
  });
});
