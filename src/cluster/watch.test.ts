import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/support/fixtures.js';
import { listOf } from './watch.js';

const recorded = (name: string): unknown =>
  JSON.parse(readFileSync(fixturePath(`apiserver/${name}.json`), 'utf8'));

describe('listOf', () => {
  it.each([
    {
      name: 'a metadata-only empty list (items: null)',
      file: '131-list-statefulsets-metadata-empty',
      count: 0,
    },
    { name: 'a typed empty list (items: [])', file: '131-list-statefulsets-empty', count: 0 },
    { name: 'a metadata-only list of Deployments', file: '04a-deploy-metadata-list', count: 3 },
  ])('takes $name as recorded from a real API server', ({ file, count }) => {
    const list = listOf(recorded(file), '/apis/apps/v1/statefulsets');
    expect(list.items).toHaveLength(count);
    expect(list.metadata?.resourceVersion).toMatch(/^\d+$/);
  });

  it.each([
    { name: 'no items at all', answer: { kind: 'StatefulSetList', metadata: {} } },
    { name: 'items that are not a list', answer: { kind: 'StatefulSetList', items: {} } },
    { name: 'not an object', answer: '404 page not found' },
    { name: 'null', answer: null },
  ])('refuses $name, naming the path', ({ answer }) => {
    expect(() => listOf(answer, '/apis/apps/v1/statefulsets')).toThrow(
      /^LIST \/apis\/apps\/v1\/statefulsets: /,
    );
  });
});
