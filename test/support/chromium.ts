// Headless Chromium, driven by its own command-line flags, to see pages as a browser shows them.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM = '/usr/bin/chromium';

export type ChromiumFound = { readonly path: string } | { readonly missing: string };

/**
 * Finds Chromium, and installs Debian's package when it is missing and we may (as root).
 * Says why not when it cannot be had.
 */
export function findOrInstallChromium(installTimeoutMs = 280_000): ChromiumFound {
  if (existsSync(CHROMIUM)) return { path: CHROMIUM };
  if (process.getuid?.() !== 0) {
    return { missing: `${CHROMIUM} is not installed, and installing it needs root` };
  }
  const install = spawnSync('sh', ['-c', 'apt-get update -qq && apt-get install -y -qq chromium'], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    timeout: installTimeoutMs,
    killSignal: 'SIGKILL',
    encoding: 'utf8',
  });
  if (existsSync(CHROMIUM)) return { path: CHROMIUM };
  const why =
    install.error?.message ?? `exit ${String(install.status)}: ${install.stderr.slice(-500)}`;
  return { missing: `installing chromium failed (${why})` };
}

export interface ChromiumRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/**
 * Runs headless Chromium on `url` with `flags` and a fresh profile, logging to stderr. It runs in
 * a process group of its own, which is killed when it ends or after `timeoutMs`, so no renderer
 * outlives it.
 */
export async function runChromium(
  chromium: string,
  url: string,
  flags: readonly string[],
  timeoutMs = 60_000,
): Promise<ChromiumRun> {
  const profile = mkdtempSync(join(tmpdir(), 'driftgate-chromium-'));
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    `--user-data-dir=${profile}`,
    '--enable-logging=stderr',
    '--v=0',
    ...flags,
    url,
  ];
  const child = spawn(chromium, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const killGroup = () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // The group has already ended.
    }
  };
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup();
  }, timeoutMs);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    });
    return { code, stdout, stderr, timedOut };
  } finally {
    clearTimeout(timer);
    killGroup();
    rmSync(profile, { recursive: true, force: true });
  }
}

// Chromium writes each console message of a page to its log as
// `[pid:tid:date/time:INFO:CONSOLE:12] "message", source: file:///page.html (12)`, older
// releases as `...:INFO:CONSOLE(12)] ...`. Every level — log, warn, error, an uncaught
// exception — is logged at INFO, so the level cannot be told from the line.
const CONSOLE_LINE = /:CONSOLE[:(]\d+[)\]]/;

/** The console messages a page wrote, from Chromium's stderr log. */
export function consoleMessages(stderr: string): string[] {
  return stderr.split('\n').filter((line) => CONSOLE_LINE.test(line));
}
