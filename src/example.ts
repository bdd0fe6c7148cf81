// The embedded default for `driftgate serve` without a config: the example GitOps repository
// shipped in examples/gitops, committed into a local Git repository that driftgate then reads
// like any other source. Lets a newcomer see a real denial without a cluster.
import { cp, mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { simpleGit } from 'simple-git';
import { validateConfig, type Config } from './config/config.js';

const EXAMPLE_FILES = fileURLToPath(new URL('../examples/gitops', import.meta.url));

/** Commits the example manifests into `<cacheDir>/example-repo` and returns a config reading it. */
export async function exampleConfig(cacheDir: string): Promise<Config> {
  const repo = resolve(cacheDir, 'example-repo');
  await rm(repo, { recursive: true, force: true });
  await mkdir(repo, { recursive: true });
  await cp(EXAMPLE_FILES, repo, { recursive: true });
  const git = simpleGit(repo, {
    config: ['user.name=driftgate example', 'user.email=example@driftgate.invalid'],
  });
  await git.init(['--quiet', '--initial-branch=main']);
  await git.add('.');
  await git.commit('example GitOps repository');
  const result = validateConfig({
    cacheDir: join(cacheDir, 'example-cache'),
    sources: [
      {
        name: 'example',
        repoURL: `file://${repo}`,
        revision: 'main',
        path: 'apps/shop',
        namespace: 'shop',
      },
    ],
    breakGlass: { groups: ['oncall'], ttl: '4h' },
    // The example repository describes no cluster this machine may point at.
    cluster: { watch: false },
  });
  if ('errors' in result)
    throw new Error(`the embedded example config is invalid: ${JSON.stringify(result.errors)}`);
  return result.config;
}
