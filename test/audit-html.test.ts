// The `driftgate audit --output html` page of a real kube-apiserver audit log, opened in headless
// Chromium: it renders, writes nothing to the console, and its screenshot is kept for a look.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleMessages, findOrInstallChromium, runChromium } from './support/chromium.js';
import { runDriftgate } from './support/cli.js';
import { fixturePath } from './support/fixtures.js';

const AUDIT_LOG = fixturePath('audit/audit-driftgate-events.jsonl');
const OUTPUT_DIR = new URL('../test-output/', import.meta.url).pathname;
const SCREENSHOT = join(OUTPUT_DIR, 'audit-report.png');
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const WINDOW = ['--window-size=1280,2000'];

const dir = mkdtempSync(join(tmpdir(), 'driftgate-audit-html-'));
let chromium: string | undefined;
let missing = '';
let page = '';
let html = '';

beforeAll(async () => {
  const found = findOrInstallChromium();
  if ('path' in found) {
    chromium = found.path;
  } else {
    missing = `skipped: ${found.missing}`;
    console.warn(`audit-html: ${missing}`);
  }
  const { code, stdout } = await runDriftgate(dir, 'audit', AUDIT_LOG, '--output', 'html');
  expect(code).toBe(0);
  html = stdout;
  page = join(dir, 'audit-report.html');
  writeFileSync(page, html);
}, 300_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes a page of its own into the temp directory and returns its file: URL. */
function controlPage(name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `<!doctype html>\n<html lang="en"><body>${body}</body></html>\n`);
  return pathToFileURL(file).href;
}

function pngSize(file: string): { width: number; height: number; bytes: number } {
  const png = readFileSync(file);
  expect(png.subarray(0, 8)).toEqual(PNG_SIGNATURE);
  // The IHDR chunk comes first: width and height, big-endian, at bytes 16 and 20.
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20), bytes: png.length };
}

describe('the audit review page in headless Chromium', () => {
  it('the console check sees what a page writes to the console', async ({ skip }) => {
    if (chromium === undefined) return skip(missing);
    const url = controlPage('console-error.html', `<p>x</p><script>console.error('boom')</script>`);
    const run = await runChromium(chromium, url, ['--dump-dom']);
    expect(run.timedOut).toBe(false);
    const messages = consoleMessages(run.stderr);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain('"boom"');
    expect(messages[0]).toContain(url);

    const thrown = controlPage('uncaught.html', `<script>throw new Error('kaboom')</script>`);
    const uncaught = consoleMessages((await runChromium(chromium, thrown, ['--dump-dom'])).stderr);
    expect(uncaught).toHaveLength(1);
    expect(uncaught[0]).toContain('Uncaught Error: kaboom');
  }, 120_000);

  it('renders the report without a console message, and a screenshot shows it', async ({
    skip,
  }) => {
    if (chromium === undefined) return skip(missing);
    mkdirSync(OUTPUT_DIR, { recursive: true });
    rmSync(SCREENSHOT, { force: true });
    const run = await runChromium(chromium, pathToFileURL(page).href, [
      `--screenshot=${SCREENSHOT}`,
      ...WINDOW,
    ]);
    expect(run.timedOut).toBe(false);
    expect(run.code).toBe(0);
    expect(consoleMessages(run.stderr)).toEqual([]);

    const shot = pngSize(SCREENSHOT);
    expect(shot).toMatchObject({ width: 1280, height: 2000 });
    expect(shot.bytes).toBeGreaterThan(10 * 1024);
    // A blank page of the same size is already about 11 KB: the report must show much more.
    const blankFile = join(dir, 'blank.png');
    await runChromium(chromium, controlPage('blank.html', ''), [
      `--screenshot=${blankFile}`,
      ...WINDOW,
    ]);
    const blank = pngSize(blankFile);
    expect(shot.bytes).toBeGreaterThan(blank.bytes * 2);
  }, 120_000);

  it('the rendered DOM holds the headings and the rows of the review', async ({ skip }) => {
    if (chromium === undefined) return skip(missing);
    const run = await runChromium(chromium, pathToFileURL(page).href, ['--dump-dom']);
    expect(run.timedOut).toBe(false);
    expect(consoleMessages(run.stderr)).toEqual([]);
    const dom = run.stdout;
    expect(dom).toContain('<title>driftgate audit review</title>');
    expect(dom).toContain('<h1>driftgate audit review</h1>');
    for (const heading of [
      'Timeline of denials and break-glass writes',
      'Top users by denials',
      'Top objects by denials',
      'Break-glass sessions',
    ]) {
      expect(dom).toContain(`<h2>${heading}</h2>`);
    }
    expect(dom).toContain('<h3>shop</h3>');
    // The parser put every row into a table body: the markup was well formed enough for it.
    const tables = html.match(/<table>/g)?.length ?? 0;
    expect(tables).toBeGreaterThan(3);
    expect(dom.match(/<table><tbody>/g)?.length).toBe(tables);
    expect(dom.match(/<tr/g)?.length).toBe(html.match(/<tr/g)?.length);
    expect(dom).toContain('<td>alice@example.com</td><td class="n">3</td>');
    expect(dom).toContain('<td>INC-4711 roll back bad release</td>');
    expect(dom).toContain('<td class="long">spec.template.spec.containers[name=app].image</td>');
    expect(dom).toMatch(/<tr class="denied">/);
    expect(dom).toMatch(/<tr class="break-glass">/);
  }, 120_000);
});

/** How many times `pattern` occurs in `text`. */
const count = (text: string, pattern: RegExp) => text.match(pattern)?.length ?? 0;

/** The numbers of a table's data rows under an `<h2>` heading, by column. */
function tableUnder(heading: string): string[][] {
  const section = html.split(`<h2>${heading}</h2>`)[1]?.split('<h2>')[0] ?? '';
  const table = section.split('</table>')[0] ?? '';
  return [...table.matchAll(/<tr>((?:<td[^>]*>.*?<\/td>)+)<\/tr>/g)].map((row) =>
    [...(row[1] ?? '').matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((cell) => cell[1] ?? ''),
  );
}

describe('the audit review page, as written', () => {
  const number = (id: string) =>
    Number(new RegExp(`<span id="${id}">(\\d+)</span>`).exec(html)?.[1]);

  it('its counts match its rows, its chart and its tables', () => {
    const denials = number('denials');
    const dryRuns = number('dry-run-denials');
    const breakGlass = number('break-glass-writes');
    expect(denials).toBeGreaterThan(0);
    expect(breakGlass).toBeGreaterThan(0);
    // Timeline rows: dry-run denials are shown grey, the others red.
    expect(count(html, /<tr class="denied">/g)).toBe(denials - dryRuns);
    expect(count(html, /<tr class="dry">/g)).toBe(dryRuns);
    expect(count(html, /<tr class="break-glass">/g)).toBe(breakGlass);
    // The chart's bars add up to the same numbers.
    const bars = (cls: string) =>
      [...html.matchAll(new RegExp(`<rect class="${cls}"[^>]*data-count="(\\d+)"`, 'g'))].reduce(
        (sum, m) => sum + Number(m[1]),
        0,
      );
    expect(bars('bar-denials')).toBe(denials);
    expect(bars('bar-break-glass')).toBe(breakGlass);
    // The top tables count the denials that were not dry runs; sessions count break-glass writes.
    const sum = (rows: string[][], column: number) =>
      rows.reduce((total, row) => total + Number(row[column]), 0);
    expect(sum(tableUnder('Top users by denials'), 1)).toBe(denials - dryRuns);
    expect(sum(tableUnder('Top objects by denials'), 1)).toBe(denials - dryRuns);
    expect(sum(tableUnder('Break-glass sessions'), 4)).toBe(breakGlass);
    expect(html).toMatch(/<p class="counts">21 writes reviewed: /);
  });

  it('says what it read and the time range it covers', () => {
    expect(html).toContain(`Read: <code>${AUDIT_LOG}</code>.`);
    expect(html).toContain('Covers writes from 2026-11-22T03:16:43Z to 2026-11-22T03:17:56Z.');
  });

  it('has the text output\'s "still drifted" section', () => {
    expect(tableUnder('Still drifted from Git (no sync since)')).toContainEqual([
      'ConfigMap shop-warn/web-config',
      'data[FEATURE_X]',
      'warned',
      'alice@example.com',
      '2026-11-22T03:17:15Z',
    ]);
  });

  it('spells objects as kinds, as the decision log does, not as audit log resources', () => {
    expect(html).toContain('<td>apps/Deployment shop/web</td>');
    expect(html).not.toMatch(/apps\/deployments|>configmaps /);
  });

  it('an hourly chart, inline, with nothing loaded from elsewhere', () => {
    expect(count(html, /<svg /g)).toBe(1);
    expect(html).toContain('<title>2026-11-22T03:00Z: 4 denials</title>');
    expect(html).not.toMatch(/<script|<link|<img|\ssrc=|https?:\/\//);
  });

  it('spreads the bars over the hours they fall in', async () => {
    const lines = readFileSync(AUDIT_LOG, 'utf8')
      .split('\n')
      .filter((line) => line.includes('"validate.driftgate.io/decision":"denied"'))
      .map((line, i) => {
        const event = JSON.parse(line);
        // The same denials, each an hour after the one before.
        const hour = String(i).padStart(2, '0');
        event.requestReceivedTimestamp = `2026-11-22T${hour}:10:00.000000Z`;
        return JSON.stringify(event);
      });
    writeFileSync(join(dir, 'hours.log'), lines.join('\n'));
    const { stdout } = await runDriftgate(dir, 'audit', 'hours.log', '--output', 'html');
    const hours = [
      ...stdout.matchAll(/<rect class="bar-denials" data-hour="([^"]+)" data-count="(\d+)"/g),
    ];
    expect(hours.map((m) => [m[1], m[2]])).toEqual(
      lines.map((_, i) => [`2026-11-22T${String(i).padStart(2, '0')}`, '1']),
    );
  });
});

describe('a long user name in headless Chromium', () => {
  it('wraps inside its cell: the page is no wider than the window', async ({ skip }) => {
    if (chromium === undefined) return skip(missing);
    // An OIDC subject: no space or hyphen where a browser would break the line by itself.
    const longUser = `oidc:${'0123456789abcdef'.repeat(16)}@idp.example.com`;
    const lines = readFileSync(AUDIT_LOG, 'utf8')
      .split('\n')
      .filter((line) => line.includes('"impersonatedUser"'))
      .map((line) => {
        const event = JSON.parse(line);
        event.impersonatedUser.username = longUser;
        return JSON.stringify(event);
      });
    writeFileSync(join(dir, 'long-user.log'), lines.join('\n'));
    const { stdout } = await runDriftgate(dir, 'audit', 'long-user.log', '--output', 'html');
    expect(stdout).toContain(longUser);
    // The page, plus a line that writes its laid-out width where --dump-dom shows it.
    const file = join(dir, 'long-user.html');
    writeFileSync(
      file,
      stdout.replace(
        '</body>',
        '<script>document.title = "width " + document.documentElement.scrollWidth</script></body>',
      ),
    );
    const run = await runChromium(chromium, pathToFileURL(file).href, [
      '--dump-dom',
      '--window-size=1024,800',
    ]);
    const width = Number(/<title>width (\d+)<\/title>/.exec(run.stdout)?.[1]);
    expect(width).toBeGreaterThan(0);
    expect(width).toBeLessThanOrEqual(1024);
  }, 120_000);
});
