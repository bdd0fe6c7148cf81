// The image cannot be built here (no container engine), so its recipe is checked for what keeps
// it safe: renderers pinned and verified, production dependencies only, a non-root user.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dockerfile = readFileSync(fileURLToPath(new URL('../Dockerfile', import.meta.url)), 'utf8');
const stages = dockerfile.split(/^FROM /m).slice(1);
const runtime = stages.at(-1) ?? '';

describe('the Dockerfile', () => {
  it.each(['HELM', 'KUSTOMIZE'])(
    'pins %s by version and verifies its archive by SHA-256',
    (tool) => {
      expect(dockerfile).toMatch(new RegExp(`^ARG ${tool}_VERSION=\\d+\\.\\d+\\.\\d+$`, 'm'));
      expect(dockerfile).toMatch(new RegExp(`^ARG ${tool}_SHA256=[0-9a-f]{64}$`, 'm'));
      expect(dockerfile).toContain(
        `echo "\${${tool}_SHA256}  ${tool.toLowerCase()}.tar.gz" | sha256sum -c -`,
      );
    },
  );

  it('runs dist/ as a numeric non-root user, with git, helm and kustomize', () => {
    expect(runtime).toMatch(/^USER 65532:65532$/m);
    expect(runtime).toContain('git ca-certificates');
    expect(runtime).toContain('COPY --from=renderers /usr/local/bin/helm /usr/local/bin/kustomize');
    expect(runtime).toContain('ENTRYPOINT ["node", "dist/cli.js"]');
    expect(runtime).toContain('CMD ["serve", "--config", "/etc/driftgate/config.yaml"]');
    expect(runtime).not.toMatch(/npm (ci|install)/);
  });

  it('keeps glibc to two malloc arenas in the running image', () => {
    expect(runtime).toMatch(/^ENV MALLOC_ARENA_MAX=2$/m);
  });

  it('leaves development dependencies in the build stage', () => {
    expect(dockerfile).toContain('npm prune --omit=dev');
  });
});
