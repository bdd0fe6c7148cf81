// An older Node.js is stopped at the door: `npm ci` refuses it (engine-strict) and `driftgate`
// itself exits with one line naming both versions, before loading anything that would crash.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const read = (file: string) => readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');
const required = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
const [, minMajor, minMinor] = /^>=(\d+)\.(\d+)$/.exec(required) ?? [];
const tsx = createRequire(import.meta.url).resolve('tsx');

function runEntry(node: string, ...argv: string[]) {
  return spawnSync(node, ['--import', tsx, 'src/cli.ts', ...argv], {
    cwd: root,
    encoding: 'utf8',
    timeout: 30_000,
  });
}

// The machine's own node, when it is older than the minimum: the case a newcomer meets.
const systemNode = '/usr/bin/node';
const systemVersion = (() => {
  try {
    return execFileSync(systemNode, ['--version'], { encoding: 'utf8' }).trim().slice(1);
  } catch {
    return null;
  }
})();
const systemNodeIsOlder =
  systemVersion !== null &&
  Number(systemVersion.split('.')[0]) * 1000 + Number(systemVersion.split('.')[1]) <
    Number(minMajor) * 1000 + Number(minMinor);

describe('the Node.js version', () => {
  it('package.json names the minimum as >=MAJOR.MINOR', () => {
    expect(minMajor).toBeDefined();
  });

  it('npm refuses to install on an older Node.js (engine-strict)', () => {
    expect(read('.npmrc').split('\n')).toContain('engine-strict=true');
  });

  it('CI installs a newer Node.js below the same minimum, and puts it first on PATH before npm ci', () => {
    const ci = read('.ci/run');
    expect(ci).toContain(`a > ${minMajor} || (a === ${minMajor} && b >= ${minMinor})`);
    expect(ci.indexOf('export PATH="$tools/bin:$PATH"')).toBeGreaterThan(0);
    expect(ci.indexOf('export PATH="$tools/bin:$PATH"')).toBeLessThan(ci.indexOf('\nnpm ci\n'));
  });

  it('the README says which Node.js before the first command', () => {
    const quickStart = read('README.md').split('## Quick start')[1] ?? '';
    const beforeFirstCommand = quickStart.split('```')[0] ?? '';
    expect(beforeFirstCommand).toContain(`${minMajor}.${minMinor}`);
  });

  it('driftgate runs on this Node.js', () => {
    const result = runEntry(process.execPath, '--version');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it.runIf(systemNodeIsOlder)(
    'driftgate on an older Node.js prints one line naming both versions, exit 2',
    () => {
      const result = runEntry(systemNode, 'serve');
      expect(result.status).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe(
        `driftgate needs Node.js ${required}, this is Node.js ${systemVersion}\n`,
      );
    },
  );
});
