import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { SourceConfig } from '../config/config.js';
import { normalizeRepoURL, parsePush, pushConcerns, verifyPush, type GitPush } from './git-push.js';

const body = JSON.stringify({
  ref: 'refs/heads/main',
  repository: { clone_url: 'https://x/y.git' },
});
const hmac = (secret: string, text = body) =>
  `sha256=${createHmac('sha256', secret).update(text).digest('hex')}`;

describe('verifyPush', () => {
  it.each([
    { name: 'no secret configured', headers: {}, secret: null, ok: true },
    {
      name: 'GitHub signature',
      headers: { 'x-hub-signature-256': hmac('s3') },
      secret: 's3',
      ok: true,
    },
    {
      name: 'signature with another secret',
      headers: { 'x-hub-signature-256': hmac('other') },
      secret: 's3',
      ok: false,
    },
    {
      name: 'signature of another body',
      headers: { 'x-hub-signature-256': hmac('s3', `${body} `) },
      secret: 's3',
      ok: false,
    },
    {
      name: 'truncated signature',
      headers: { 'x-hub-signature-256': hmac('s3').slice(0, 20) },
      secret: 's3',
      ok: false,
    },
    {
      name: 'sha1 signature',
      headers: { 'x-hub-signature-256': 'sha1=abc' },
      secret: 's3',
      ok: false,
    },
    { name: 'GitLab token', headers: { 'x-gitlab-token': 's3' }, secret: 's3', ok: true },
    { name: 'wrong GitLab token', headers: { 'x-gitlab-token': 's4' }, secret: 's3', ok: false },
    { name: 'GitLab token prefix', headers: { 'x-gitlab-token': 's' }, secret: 's3', ok: false },
    { name: 'no credentials at all', headers: {}, secret: 's3', ok: false },
    { name: 'empty secret', headers: { 'x-hub-signature-256': hmac('') }, secret: '', ok: false },
  ])('$name', ({ headers, secret, ok }) => {
    expect(verifyPush({ headers, rawBody: Buffer.from(body) }, secret).ok).toBe(ok);
  });
});

describe('parsePush', () => {
  it.each([
    {
      name: 'GitHub push',
      headers: { 'x-github-event': 'push' },
      payload: {
        ref: 'refs/heads/main',
        repository: {
          clone_url: 'https://github.com/o/r.git',
          ssh_url: 'git@github.com:o/r.git',
          default_branch: 'main',
        },
      },
      expected: {
        push: {
          provider: 'github',
          repoURLs: ['https://github.com/o/r.git', 'git@github.com:o/r.git'],
          ref: 'refs/heads/main',
          defaultBranch: 'main',
        },
      },
    },
    {
      name: 'GitLab tag push',
      headers: { 'x-gitlab-event': 'Tag Push Hook' },
      payload: {
        ref: 'refs/tags/v1',
        project: { git_http_url: 'https://gitlab.com/o/r.git', default_branch: 'trunk' },
      },
      expected: {
        push: {
          provider: 'gitlab',
          repoURLs: ['https://gitlab.com/o/r.git'],
          ref: 'refs/tags/v1',
          defaultBranch: 'trunk',
        },
      },
    },
    {
      name: 'GitHub ping',
      headers: { 'x-github-event': 'ping' },
      payload: {},
      expected: { ignored: 'GitHub event ping' },
    },
    {
      name: 'no event header',
      headers: {},
      payload: {},
      expected: { invalid: 'neither X-GitHub-Event nor X-Gitlab-Event is set' },
    },
    {
      name: 'push without ref',
      headers: { 'x-github-event': 'push' },
      payload: { repository: {} },
      expected: { invalid: 'payload has no ref' },
    },
  ])('$name', ({ headers, payload, expected }) => {
    expect(parsePush({ headers, rawBody: JSON.stringify(payload) })).toEqual(expected);
  });

  it('rejects a body that is not JSON', () => {
    expect(parsePush({ headers: { 'x-github-event': 'push' }, rawBody: '{' })).toEqual({
      invalid: 'body is not JSON',
    });
  });
});

describe('normalizeRepoURL', () => {
  it.each([
    'https://github.com/o/r.git',
    'https://token@GitHub.com/o/r',
    'ssh://git@github.com:22/o/r.git',
    'git@github.com:o/r.git',
    'git://github.com/o/r/',
  ])('%s is github.com/o/r', (url) => {
    expect(normalizeRepoURL(url)).toBe('github.com/o/r');
  });
});

describe('pushConcerns', () => {
  const push = (ref: string, defaultBranch: string | null = 'main'): GitPush => ({
    provider: 'github',
    repoURLs: ['https://github.com/o/r.git'],
    ref,
    defaultBranch,
  });
  const source = (revision: string | null, repoURL = 'git@github.com:o/r.git') =>
    ({ repoURL, revision }) as SourceConfig;
  it.each([
    {
      name: 'default branch followed',
      push: push('refs/heads/main'),
      source: source(null),
      expected: true,
    },
    {
      name: 'other branch than default',
      push: push('refs/heads/dev'),
      source: source(null),
      expected: false,
    },
    {
      name: 'default branch unknown',
      push: push('refs/heads/dev', null),
      source: source(null),
      expected: true,
    },
    { name: 'named branch', push: push('refs/heads/dev'), source: source('dev'), expected: true },
    { name: 'tag', push: push('refs/tags/v1'), source: source('v1'), expected: true },
    {
      name: 'pinned commit never moves',
      push: push('refs/heads/main'),
      source: source('a'.repeat(40)),
      expected: false,
    },
    {
      name: 'other repository',
      push: push('refs/heads/main'),
      source: source(null, 'https://github.com/o/other.git'),
      expected: false,
    },
  ])('$name', ({ push: event, source: config, expected }) => {
    expect(pushConcerns(event, config)).toBe(expected);
  });
});
