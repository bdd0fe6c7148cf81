import { describe, expect, it } from 'vitest';
import { nodeVersionProblem } from './node-version.js';

describe('nodeVersionProblem', () => {
  it.each([
    { name: 'older major', required: '>=22.19', actual: '20.20.2', ok: false },
    { name: 'same major, older minor', required: '>=22.19', actual: '22.18.9', ok: false },
    { name: 'exactly the minimum', required: '>=22.19', actual: '22.19.0', ok: true },
    { name: 'newer major', required: '>=22.19', actual: '24.21.0', ok: true },
    { name: 'older patch', required: '>=22.19.3', actual: '22.19.2', ok: false },
    { name: 'with a v prefix', required: '>=22', actual: 'v21.9.9', ok: false },
    { name: 'a range it does not judge', required: '^22 || ^24', actual: '20.0.0', ok: true },
  ])('$name', ({ required, actual, ok }) => {
    const problem = nodeVersionProblem(required, actual);
    if (ok) expect(problem).toBeNull();
    else {
      expect(problem).toBe(
        `driftgate needs Node.js ${required}, this is Node.js ${actual.replace(/^v/, '')}`,
      );
    }
  });
});
