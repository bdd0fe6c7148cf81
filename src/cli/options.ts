// The options of every `driftgate` command, in one place that loads nothing: each command parses
// its arguments with its table here, and `driftgate completion` lists the same tables, so the
// completion scripts cannot drift from what the commands accept. `-h/--help` is added to all.
import type { ParseArgsOptionsConfig } from 'node:util';

export const serveOptions = {
  config: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  'drain-seconds': { type: 'string', default: '5' },
} as const satisfies ParseArgsOptionsConfig;

export const checkOptions = {
  config: { type: 'string' },
  review: { type: 'string' },
  object: { type: 'string' },
  old: { type: 'string' },
  operation: { type: 'string' },
  user: { type: 'string' },
  group: { type: 'string', multiple: true },
  namespace: { type: 'string' },
  now: { type: 'string' },
  output: { type: 'string' },
} as const satisfies ParseArgsOptionsConfig;

export const diffOptions = {
  desired: { type: 'string' },
  live: { type: 'string' },
  old: { type: 'string' },
  'field-policy': { type: 'string', default: 'declared' },
  ignore: { type: 'string' },
  namespace: { type: 'string' },
  output: { type: 'string', default: 'text' },
} as const satisfies ParseArgsOptionsConfig;

/** `--days` and `--ca-days` default in `certs` itself, from the certificate module's constants. */
export const certsOptions = {
  out: { type: 'string', default: 'certs' },
  service: { type: 'string', default: 'driftgate' },
  namespace: { type: 'string', default: 'driftgate' },
  dns: { type: 'string', multiple: true, default: [] },
  ip: { type: 'string', multiple: true, default: [] },
  days: { type: 'string' },
  'ca-days': { type: 'string' },
  'key-type': { type: 'string', default: 'rsa' },
  force: { type: 'boolean', default: false },
} as const satisfies ParseArgsOptionsConfig;

export const renderOptions = {
  config: { type: 'string' },
  output: { type: 'string', short: 'o', default: 'table' },
} as const satisfies ParseArgsOptionsConfig;

export const auditOptions = {
  since: { type: 'string' },
  until: { type: 'string' },
  user: { type: 'string' },
  namespace: { type: 'string' },
  kind: { type: 'string' },
  decision: { type: 'string' },
  'break-glass': { type: 'boolean' },
  'webhook-name': { type: 'string' },
  scan: { type: 'string' },
  output: { type: 'string', default: 'table' },
} as const satisfies ParseArgsOptionsConfig;

/** `completion` takes one of these words: the shell. */
export const completionWords = ['bash', 'zsh', 'fish'] as const;
export const completionOptions = {} as const satisfies ParseArgsOptionsConfig;

/** `config` takes one of these words: what to print. */
export const configWords = ['schema'] as const;
export const configOptions = {} as const satisfies ParseArgsOptionsConfig;

export const scanOptions = {
  config: { type: 'string' },
  kubeconfig: { type: 'string' },
  namespace: { type: 'string', short: 'n', multiple: true },
  output: { type: 'string', short: 'o', default: 'table' },
  out: { type: 'string' },
  // Unset: the scan's own default (20 requests a second).
  qps: { type: 'string' },
} as const satisfies ParseArgsOptionsConfig;

/** Added to every command by parseCommandArgs. */
export const helpOption = { help: { type: 'boolean', short: 'h' } } as const;
