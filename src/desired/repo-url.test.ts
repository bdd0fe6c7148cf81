import { describe, expect, it } from 'vitest';
import { checkRepoURL, checkRevision, checkSourcePath, redactURL } from './repo-url.js';

describe('checkRepoURL', () => {
  it.each([
    { url: 'https://github.com/o/r.git', protocol: 'https' },
    { url: 'ssh://git@github.com/o/r.git', protocol: 'ssh' },
    { url: 'git@github.com:o/r.git', protocol: 'ssh' },
    { url: 'git://127.0.0.1:9418/r.git', protocol: 'git' },
    { url: 'file:///srv/git/r.git', protocol: 'file' },
  ])('allows $url', ({ url, protocol }) => {
    expect(checkRepoURL(url)).toEqual({ ok: true, value: protocol });
  });

  it.each([
    { name: 'ext transport', url: 'ext::sh%20-c%20id' },
    { name: 'fd transport', url: 'fd::3' },
    { name: 'custom helper', url: 'evil::https://x/y' },
    { name: 'http', url: 'http://x/y.git' },
    { name: 'ftp', url: 'ftp://x/y.git' },
    { name: 'option as URL', url: '--upload-pack=id' },
    { name: 'ssh host as option', url: 'ssh://-oProxyCommand=id/x' },
    { name: 'scp host as option', url: '-oProxyCommand=id:x' },
    { name: 'scp path as option', url: 'host:-x' },
    { name: 'local path', url: '/srv/git/r.git' },
    { name: 'newline', url: 'https://x/y\n.git' },
    { name: 'password in URL', url: 'https://u:p@x/y.git' },
  ])('refuses $name', ({ url }) => {
    expect(checkRepoURL(url).ok).toBe(false);
  });
});

describe('checkRevision', () => {
  it.each(['main', 'release/1.2', 'v1.2.0', 'HEAD', 'a'.repeat(40)])('allows %s', (revision) => {
    expect(checkRevision(revision).ok).toBe(true);
  });
  it.each([
    '-x',
    '--upload-pack=id',
    'a..b',
    'HEAD@{1}',
    'main^',
    'a b',
    'x:y',
    'x.lock',
    '/x',
    '',
  ])('refuses %j', (revision) => {
    expect(checkRevision(revision).ok).toBe(false);
  });
});

describe('checkSourcePath', () => {
  it.each([
    { path: '.', expected: '.' },
    { path: '', expected: '.' },
    { path: './apps//shop/', expected: 'apps/shop' },
  ])('normalises $path', ({ path, expected }) => {
    expect(checkSourcePath(path)).toEqual({ ok: true, value: expected });
  });
  it.each(['..', 'apps/../..', '/etc', 'C:/x', 'a\0b'])('refuses %j', (path) => {
    expect(checkSourcePath(path).ok).toBe(false);
  });
});

describe('redactURL', () => {
  it.each([
    { url: 'https://user:token@github.com/o/r.git', expected: 'https://github.com/o/r.git' },
    { url: 'https://github.com/o/r.git', expected: 'https://github.com/o/r.git' },
    { url: 'git@github.com:o/r.git', expected: 'github.com:o/r.git' },
    { url: 'https://github.com/o/r@v1', expected: 'https://github.com/o/r@v1' },
  ])('$url', ({ url, expected }) => {
    expect(redactURL(url)).toBe(expected);
  });
});
