// `driftgate render` run in-process against a real repository, as a user would run it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { exitCodes } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/run.js';
import { capturedManifests, createTestRepo, listDir, tempDir } from './git-fixture.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

async function render(configYaml: string | null, ...args: string[]) {
  const dir = tempDir('driftgate-cli-');
  cleanups.push(dir.cleanup);
  if (configYaml !== null) writeFileSync(join(dir.path, 'driftgate.yaml'), configYaml);
  let stdout = '';
  let stderr = '';
  const code = await runCli(['render', ...args], {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    cwd: dir.path,
    env: {},
    version: '0.0.0',
  });
  return { code, stdout, stderr, dir: dir.path };
}

function repoWithShop() {
  const repo = createTestRepo();
  cleanups.push(() => {
    repo.cleanup();
  });
  const manifest = (name: string) => readFileSync(join(capturedManifests, name), 'utf8');
  const sha = repo.commit({
    'shop/deploy-web.yaml': manifest('deploy-web.yaml'),
    'shop/svc-web.yaml': manifest('svc-web.yaml'),
    'other/deploy-web.yaml': manifest('deploy-web.yaml'),
  });
  return { repo, sha };
}

describe('driftgate render', () => {
  it('prints a table of objects with source, file and commit, and the conflicts', async () => {
    const { repo, sha } = repoWithShop();
    const { code, stdout, dir } = await render(
      [
        'sources:',
        `  - {name: shop, repoURL: "${repo.fileURL}", path: shop, namespace: shop}`,
        `  - {name: other, repoURL: "${repo.fileURL}", path: other}`,
        '',
      ].join('\n'),
      '--config',
      'driftgate.yaml',
    );
    expect(code).toBe(exitCodes.ok);
    const short = sha.slice(0, 12);
    expect(stdout).toBe(
      [
        'KEY                       SOURCE  FILE                    COMMIT',
        `apps/Deployment shop/web  shop    shop/deploy-web.yaml:1  ${short}`,
        `/Service shop/web         shop    shop/svc-web.yaml:1     ${short}`,
        '',
        '2 objects',
        '',
        'Conflicts (the first declaration is used):',
        "  apps/Deployment shop/web: declared by shop (shop/deploy-web.yaml:1) and by other (other/deploy-web.yaml:1); shop's is used",
        '',
      ].join('\n'),
    );
    // Clones go to the config's cacheDir, relative to the working directory.
    expect(listDir(join(dir, '.driftgate-cache', 'repos'))).toHaveLength(1);
  });

  it('prints JSON with the objects and exits 1 when a source fails', async () => {
    const { repo, sha } = repoWithShop();
    const { code, stdout } = await render(
      [
        'sources:',
        `  - {name: shop, repoURL: "${repo.fileURL}", path: shop, namespace: shop}`,
        `  - {name: broken, repoURL: "${repo.fileURL}", revision: no-such-branch}`,
        '',
      ].join('\n'),
      '--config',
      'driftgate.yaml',
      '--output',
      'json',
    );
    expect(code).toBe(exitCodes.finding);
    const result = JSON.parse(stdout) as {
      objects: { key: string; commit: string; object: { kind: string } }[];
      sources: { name: string; error: { code: string; message: string } | null }[];
    };
    expect(result.objects.map((object) => [object.key, object.commit, object.object.kind])).toEqual(
      [
        ['apps/Deployment shop/web', sha, 'Deployment'],
        ['/Service shop/web', sha, 'Service'],
      ],
    );
    expect(result.sources[0]?.error).toBeNull();
    expect(result.sources[1]?.error?.code).toBe('DRIFTGATE_ERR_GIT_REVISION');
    expect(result.sources[1]?.error?.message).toMatch(
      /^source broken: revision no-such-branch not found in file:\/\//,
    );
  });

  it('prints YAML', async () => {
    const { repo } = repoWithShop();
    const { code, stdout } = await render(
      `sources: [{name: shop, repoURL: "${repo.fileURL}", path: shop}]\n`,
      '--config',
      'driftgate.yaml',
      '--output',
      'yaml',
    );
    expect(code).toBe(exitCodes.ok);
    expect(stdout).toContain('key: apps/Deployment shop/web');
    expect(stdout).toContain('conflicts: []');
  });

  it.each([
    {
      name: 'missing config file',
      config: null,
      args: ['--config', 'nope.yaml'],
      message: /^driftgate render: .*nope\.yaml: cannot read the config file \(ENOENT\)\n$/,
    },
    {
      name: 'invalid YAML',
      config: 'sources:\n  - name: [a\n',
      args: ['--config', 'driftgate.yaml'],
      message: /^driftgate render: .*driftgate\.yaml:3: invalid YAML: /,
    },
    {
      name: 'invalid config',
      config: 'sources:\n  - {name: a, repoURL: "https://x/y.git"}\n  - {name: b, revision: ""}\n',
      args: ['--config', 'driftgate.yaml'],
      message:
        /driftgate\.yaml: invalid config:\nsources\[1\]\.repoURL: required\nsources\[1\]\.revision: must not be empty\n$/,
    },
    {
      name: 'no --config',
      config: null,
      args: [],
      message: /^driftgate render: --config is required/,
    },
    {
      name: 'unknown output',
      config: 'sources: []\n',
      args: ['--config', 'driftgate.yaml', '--output', 'xml'],
      message: /^driftgate render: --output must be one of table, json, yaml, not "xml"\n$/,
    },
  ])('exits 2 on $name, without a stack trace', async ({ config, args, message }) => {
    const { code, stdout, stderr } = await render(config, ...args);
    expect(code).toBe(exitCodes.badInput);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
