// Benchmark: `driftgate audit --output json` on a kube-apiserver audit log of about 1 GB, made
// from the real audit log fixture repeated with new audit IDs, times, namespaces and users, and
// compared with plain line reading (readline, counting lines) of the same file in the same run.
// Each runs in a process of its own, for a clean peak RSS. Run: npx tsx bench/audit.ts [MB]
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface AuditBenchResult {
  readonly name: string;
  readonly bytes: number;
  readonly lines: number;
  readonly seconds: number;
  readonly peakRssBytes: number;
}

const here = new URL('.', import.meta.url);
const FIXTURE = new URL('../test/fixtures/audit/audit-driftgate-events.jsonl', here);
const CLI = new URL('../src/cli.ts', here).pathname;
const TIME = '/usr/bin/time';
const TARGET_RSS = 150 * 1024 * 1024;

const BASELINE = `import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
let lines = 0;
for await (const line of createInterface({ input: createReadStream(process.argv[1]), crlfDelay: Infinity })) {
  if (line.trim() !== '') lines += 1;
}
console.log(lines);`;

const TIMESTAMP = /(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?Z/g;

/**
 * Writes the fixture over and over until `bytes`: each copy 80 s later than the one before (the
 * fixture spans 77 s), with its own audit IDs, in one of 200 namespaces, by one of 50 people.
 * Each of `prefixes` gets the first `bytes` of it (whole copies of the fixture). Returns the
 * line count of the log and of each prefix.
 */
export function generateAuditLog(
  file: string,
  bytes: number,
  prefixes: readonly { file: string; bytes: number }[] = [],
): { lines: number; prefixLines: number[] } {
  const template = readFileSync(FIXTURE, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '');
  const out = openSync(file, 'w');
  const parts = prefixes.map((prefix) => ({ ...prefix, fd: openSync(prefix.file, 'w') }));
  let written = 0;
  let lines = 0;
  const prefixLines = prefixes.map(() => 0);
  try {
    for (let copy = 0; written < bytes; copy++) {
      const shiftMs = copy * 80_000;
      const suffix = copy.toString(16).padStart(12, '0');
      const namespace = `shop-${String(copy % 200)}`;
      const person = String(copy % 50);
      const chunk = `${template
        .map((line) =>
          line
            .replace(
              /"auditID":"([0-9a-f-]{24})[0-9a-f]{12}"/g,
              (_, head: string) => `"auditID":"${head}${suffix}"`,
            )
            .replace(TIMESTAMP, (_, seconds: string, fraction: string | undefined) => {
              const shifted = new Date(Date.parse(`${seconds}Z`) + shiftMs).toISOString();
              return `${shifted.slice(0, 19)}${fraction ?? ''}Z`;
            })
            .replace(/\bshop\b/g, namespace)
            .replace(/\b(alice|bob)@example\.com/g, `$1${person}@example.com`),
        )
        .join('\n')}\n`;
      const buffer = Buffer.from(chunk);
      writeSync(out, buffer);
      for (const [index, part] of parts.entries()) {
        if (written >= part.bytes) continue;
        writeSync(part.fd, buffer);
        prefixLines[index] = (prefixLines[index] ?? 0) + template.length;
      }
      written += buffer.length;
      lines += template.length;
    }
  } finally {
    closeSync(out);
    for (const part of parts) closeSync(part.fd);
  }
  return { lines, prefixLines };
}

/** Runs a command, its stdout to `stdout` (a file), and measures its time and peak RSS. */
async function measured(
  command: readonly string[],
  stdout: string,
  statsFile: string,
): Promise<{ seconds: number; peakRssBytes: number }> {
  const useTime = existsSync(TIME);
  const argv = useTime ? [TIME, '-v', '-o', statsFile, ...command] : command;
  const out = openSync(stdout, 'w');
  const start = performance.now();
  let polledPeakKb = 0;
  try {
    const child = spawn(argv[0] ?? '', argv.slice(1), { stdio: ['ignore', out, 'inherit'] });
    // Without GNU time, the kernel's high-water mark, read until the process ends.
    const poll = useTime
      ? undefined
      : setInterval(() => {
          try {
            const status = readFileSync(`/proc/${String(child.pid)}/status`, 'utf8');
            const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
            polledPeakKb = Math.max(polledPeakKb, kb);
          } catch {
            // It has just ended.
          }
        }, 20);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    });
    if (poll !== undefined) clearInterval(poll);
    if (code !== 0) throw new Error(`${command.join(' ')} exited with ${String(code)}`);
  } finally {
    closeSync(out);
  }
  const seconds = (performance.now() - start) / 1000;
  const peakKb = useTime
    ? Number(
        /Maximum resident set size \(kbytes\): (\d+)/.exec(readFileSync(statsFile, 'utf8'))?.[1],
      )
    : polledPeakKb;
  return { seconds, peakRssBytes: peakKb * 1024 };
}

export async function benchAudit(megabytes = 1024): Promise<AuditBenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'driftgate-bench-audit-'));
  const big = join(dir, 'audit.log');
  const tenthFile = join(dir, 'audit-tenth.log');
  const halfFile = join(dir, 'audit-half.log');
  const bytes = megabytes * 1024 * 1024;
  try {
    const {
      lines,
      prefixLines: [tenthLines = 0, halfLines = 0],
    } = generateAuditLog(big, bytes, [
      { file: tenthFile, bytes: bytes / 10 },
      { file: halfFile, bytes: bytes / 2 },
    ]);
    const bigBytes = statSync(big).size;
    const stats = join(dir, 'time.txt');
    const counted = join(dir, 'count.txt');
    const baseline = await measured(
      [process.execPath, '--input-type=module', '-e', BASELINE, big],
      counted,
      stats,
    );
    const readLines = Number(readFileSync(counted, 'utf8').trim());
    if (readLines !== lines) throw new Error(`readline counted ${readLines} lines, not ${lines}`);
    const audit = (file: string) =>
      measured(
        [
          process.execPath,
          '--import',
          import.meta.resolve('tsx'),
          CLI,
          'audit',
          file,
          '--output',
          'json',
        ],
        '/dev/null',
        stats,
      );
    const name = 'driftgate audit --output json';
    const tenth = await audit(tenthFile);
    const half = await audit(halfFile);
    const whole = await audit(big);
    return [
      { name: 'readline, counting lines', bytes: bigBytes, lines, ...baseline },
      { name, bytes: statSync(tenthFile).size, lines: tenthLines, ...tenth },
      { name, bytes: statSync(halfFile).size, lines: halfLines, ...half },
      { name, bytes: bigBytes, lines, ...whole },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

export function formatAudit(results: readonly AuditBenchResult[]): string {
  const [base, tenth, half, whole] = results;
  const rows = results.map(
    (r) =>
      `  ${r.name.padEnd(32)} ${mb(r.bytes).padStart(8)} ${String(r.lines).padStart(9)} lines  ${r.seconds.toFixed(1).padStart(6)} s  ${(r.lines / r.seconds).toFixed(0).padStart(8)} lines/s  peak RSS ${mb(r.peakRssBytes).padStart(6)}`,
  );
  if (base !== undefined && tenth !== undefined && half !== undefined && whole !== undefined) {
    const ratio = whole.lines / whole.seconds / (base.lines / base.seconds);
    rows.push(`  driftgate / readline: throughput ${(ratio * 100).toFixed(0)}%`);
    const under = whole.peakRssBytes < TARGET_RSS;
    // Constant memory: ten times the log may not take more than a little more memory.
    const constant = whole.peakRssBytes < tenth.peakRssBytes * 1.2;
    rows.push(
      `  target: peak RSS under ${mb(TARGET_RSS)}: ${under ? 'met' : 'MISSED'} (${mb(whole.peakRssBytes)}); constant memory, ${mb(tenth.bytes)} → ${mb(half.bytes)} → ${mb(whole.bytes)} within 20%: ${constant ? 'met' : 'MISSED'} (${mb(tenth.peakRssBytes)} → ${mb(half.peakRssBytes)} → ${mb(whole.peakRssBytes)})`,
    );
  }
  return rows.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatAudit(await benchAudit(Number(process.argv[2] ?? 1024))));
}
