// README.md tells the truth: every command it shows exists with the options it shows, each usage
// line lists every option of its command, npm scripts exist, the sample denial is what the code
// prints today, the kustomization examples resolve where they say they sit, and reading the
// decision log covers every replica.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { validationResponse } from '../src/admission/handlers.js';
import { parseReview } from '../src/admission/review.js';
import { asKubectlPrints } from '../src/cli/check.js';
import { flagsOf } from '../src/cli/completion.js';
import { renderOnce } from '../src/cli/one-shot.js';
import { commands } from '../src/cli/run.js';
import { exampleConfig } from '../src/example.js';
import { decide } from '../src/policy/decide.js';
import { noClusterFacts } from '../src/policy/facts.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const README = readFileSync(join(root, 'README.md'), 'utf8');
const scripts = (
  JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  }
).scripts;

/** The contents of the README's fenced blocks of one language. */
const blocks = (language: string, text = README) =>
  [...text.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)]
    .filter((match) => match[1] === language)
    .map((match) => match[2] ?? '');

/** Shell commands of the ```sh blocks, one per pipeline stage or list item. */
function shellCommands(text = README): string[] {
  return blocks('sh', text).flatMap((block) =>
    block
      .replace(/\\\n/g, ' ')
      .split('\n')
      .map((line) => line.replace(/(^|\s)#.*$/, ''))
      .flatMap((line) => line.split(/\|\||&&|[|;]|\$\(|<\(|\)/))
      .map((command) => command.replace(/^\s*(do|then|else)\s+/, '').trim())
      .filter((command) => command !== ''),
  );
}

/** Inline code spans, lines joined: `driftgate scan --config FILE ...` wraps in the text. */
const spans = (text = README) =>
  [...text.matchAll(/`([^`\n]+(?:\n[^`\n]+)*)`/g)].map((m) =>
    (m[1] ?? '').replace(/\s+/g, ' ').trim(),
  );

interface Invocation {
  readonly sub: string;
  readonly words: readonly string[];
  readonly where: string;
}

const PROGRAMS = [/^driftgate\s+/, /^node dist\/cli\.js\s+/, /^kubectl[ -]driftgate\s+/];

/** Every `driftgate <sub> ...` the README shows, in code blocks and in running text. */
function invocations(text = README): Invocation[] {
  const found: Invocation[] = [];
  const add = (text: string, where: string) => {
    const program = PROGRAMS.find((pattern) => pattern.test(text));
    if (program === undefined) return;
    const [sub = '', ...words] = text.replace(program, '').split(/\s+/);
    for (const name of sub.split('|')) {
      if (name === '…' || name === '<TAB>') continue;
      found.push({ sub: name, words, where });
    }
  };
  for (const command of shellCommands(text)) add(command, `sh: ${command}`);
  for (const span of spans(text)) add(span, `\`${span}\``);
  return found;
}

/** The option an argument names (`[--group`, `--field-policy=x`, `-o`), if it names one. */
function optionOf(word: string): string | undefined {
  const bare = word
    .replace(/^\[+/, '')
    .replace(/[\]…,.]+$/, '')
    .replace(/\.\.\.$/, '');
  const match = /^(--?[A-Za-z][\w-]*)(=.*)?$/.exec(bare);
  return match?.[1];
}

/** Each option of a command the README gives it that the command does not take. */
function wrongOptions(found: readonly Invocation[]): string[] {
  const wrong: string[] = [];
  for (const { sub, words, where } of found) {
    const entry = commands[sub];
    if (entry === undefined) continue;
    const flags = flagsOf(entry.options);
    for (const word of words) {
      const option = optionOf(word);
      if (option === undefined) continue;
      const known = flags.some((f) => option === `--${f.long}` || option === `-${f.short ?? ''}`);
      if (!known) wrong.push(`${sub} ${option} (${where})`);
    }
  }
  return wrong;
}

/** The npm scripts the README runs (`npm test` and `npm start` included). */
function npmScripts(text = README): string[] {
  return [...shellCommands(text), ...spans(text)]
    .map((command) => /^npm (run \S+|start|test)\b/.exec(command)?.[1])
    .filter((match): match is string => match !== undefined)
    .map((match) => match.replace(/^run /, ''));
}

describe('README: commands', () => {
  const all = invocations();

  it('shows driftgate commands in code blocks and in the text', () => {
    expect(all.filter((i) => i.where.startsWith('sh:')).length).toBeGreaterThanOrEqual(6);
    expect(all.filter((i) => i.where.startsWith('`')).length).toBeGreaterThan(8);
  });

  it('names only commands that exist', () => {
    const unknown = all.filter(
      ({ sub }) => commands[sub] === undefined && !['help', '--help', '--version'].includes(sub),
    );
    expect(unknown.map(({ sub, where }) => `${sub} (${where})`)).toEqual([]);
  });

  it('gives each command only options it takes', () => {
    expect(wrongOptions(all)).toEqual([]);
  });

  it('these checks find an unknown command, a wrong option and a missing script', () => {
    const wrongReadme = [
      'Run `driftgate serve --colour blue` or `driftgate serv`.',
      '```sh',
      'kubectl driftgate check --config c.yaml --objects x.yaml | less',
      'npm run docs:confg',
      '```',
      '',
    ].join('\n');
    const found = invocations(wrongReadme);
    expect(wrongOptions(found)).toEqual([
      'check --objects (sh: kubectl driftgate check --config c.yaml --objects x.yaml)',
      'serve --colour (`driftgate serve --colour blue`)',
    ]);
    expect(found.filter(({ sub }) => commands[sub] === undefined).map(({ sub }) => sub)).toEqual([
      'serv',
    ]);
    expect(npmScripts(wrongReadme).filter((name) => scripts[name] === undefined)).toEqual([
      'docs:confg',
    ]);
  });

  it('lists every option of a command wherever it shows its usage line', () => {
    const usage = new Map<string, Set<string>>();
    const shown = new Map<string, Set<string>>();
    for (const { sub, words, where } of all) {
      if (!where.startsWith('`')) continue;
      const options = words.map(optionOf).filter((o): o is string => o !== undefined);
      shown.set(sub, new Set([...(shown.get(sub) ?? []), ...options]));
      if (words.some((word) => word.startsWith('['))) usage.set(sub, new Set());
    }
    expect([...usage.keys()]).toEqual(expect.arrayContaining(['serve', 'check', 'diff', 'certs']));
    const missing = [...usage.keys()].flatMap((sub) =>
      flagsOf(commands[sub]?.options ?? {})
        .filter((f) => f.long !== 'help' && !shown.get(sub)?.has(`--${f.long}`))
        .map((f) => `${sub} --${f.long}`),
    );
    expect(missing).toEqual([]);
  });

  it("serve's usage line lists every option serve takes", () => {
    const line = spans().find((span) => span.startsWith('driftgate serve ['));
    const options = flagsOf(commands.serve?.options ?? {}).filter((f) => f.long !== 'help');
    expect(options.length).toBeGreaterThanOrEqual(4);
    for (const flag of options) expect(line).toContain(`--${flag.long}`);
  });

  it('runs only npm scripts that package.json has', () => {
    const npm = npmScripts();
    expect(npm).toEqual(
      expect.arrayContaining(['test', 'start', 'demo', 'lint', 'build', 'docs:config']),
    );
    expect(npm.filter((name) => scripts[name] === undefined)).toEqual([]);
  });
});

describe('README: the sample denial', () => {
  const cache = mkdtempSync(join(tmpdir(), 'driftgate-readme-'));
  afterAll(() => {
    rmSync(cache, { recursive: true, force: true });
  });

  it('is what kubectl prints for the bundled example and set-image-by-alice.json today', async () => {
    const config = await exampleConfig(cache);
    const { snapshot, status } = await renderOnce(config, cache);
    expect(status.every((source) => source.lastError === null)).toBe(true);
    const parsed = parseReview(
      readFileSync(join(root, 'examples/reviews/set-image-by-alice.json')),
    );
    if (!parsed.ok) throw new Error(parsed.message);
    const decision = decide(parsed.request, snapshot, noClusterFacts, config, new Date());
    const printed = asKubectlPrints(parsed.request, validationResponse(parsed.request, decision));
    const sample = /The answer is a denial[\s\S]*?^```\n([\s\S]*?)^```$/m.exec(README)?.[1];
    // The example repository is committed when it is served: its commit is the reader's own.
    expect(printed.replace(/, commit [0-9a-f]{7,40}\)/, ', commit …)')).toBe(sample);
  });
});

describe('README: deploying', () => {
  it('the my-driftgate kustomizations resolve beside deploy/, where they say they sit', () => {
    const kustomizations = blocks('yaml').filter((block) =>
      block.startsWith('# my-driftgate/kustomization.yaml'),
    );
    expect(kustomizations.length).toBeGreaterThanOrEqual(2);
    for (const block of kustomizations) {
      expect(block.split('\n')[0]).toContain('beside deploy/');
      const value = load(block) as { resources?: string[]; components?: string[] };
      const paths = [...(value.resources ?? []), ...(value.components ?? [])];
      expect(paths.length).toBeGreaterThan(0);
      for (const path of paths) {
        expect(
          existsSync(join(resolve(root, 'my-driftgate'), path, 'kustomization.yaml')),
          path,
        ).toBe(true);
      }
    }
  });

  it('reads the decision log of every replica, by the label deploy/ gives its pods', () => {
    const deployment = load(readFileSync(join(root, 'deploy/base/deployment.yaml'), 'utf8')) as {
      spec: { replicas: number; template: { metadata: { labels: Record<string, string> } } };
    };
    expect(deployment.spec.replicas).toBeGreaterThan(1);
    const [label, value] = Object.entries(deployment.spec.template.metadata.labels)[0] ?? [];
    const logs = shellCommands().filter((command) =>
      /^kubectl (-n \S+ )?(logs|get pods)/.test(command),
    );
    expect(logs.length).toBeGreaterThanOrEqual(2);
    for (const command of logs) {
      expect(command).not.toMatch(/\b(deploy|deployment)\/driftgate\b/);
      if (command.includes(' logs ') && command.includes(' -l ')) {
        // kubectl follows at most 5 pods unless told more, and names none without --prefix.
        expect(command).toMatch(/--max-log-requests/);
        expect(command).toMatch(/--prefix/);
      }
      if (command.includes(' -l ')) expect(command).toContain(`-l ${label ?? ''}=${value ?? ''}`);
    }
  });
});
