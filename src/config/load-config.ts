// Reads the config file from disk and validates it; the only part of config/ that does I/O.
// Every failure is one DriftgateError whose message names the file and each bad key.
import { readFile } from 'node:fs/promises';
import { DriftgateError, errorCodes, messageOf } from '../desired/errors.js';
import { KUBERNETES_YAML_SCHEMA } from '../desired/go-yaml.js';
import { load, YAMLException } from 'js-yaml';
import {
  DEFAULT_CONTEXT,
  formatFieldErrors,
  validateConfig,
  type Config,
  type ConfigContext,
} from './config.js';

/** Parses config text, read the same YAML 1.1 way as manifests (`yes` is true in both). */
export function parseConfigText(text: string, file: string): unknown {
  try {
    return load(text, { filename: file, schema: KUBERNETES_YAML_SCHEMA }) ?? {};
  } catch (error) {
    const line = error instanceof YAMLException ? (error.mark?.line ?? -1) + 1 : 0;
    const reason = error instanceof YAMLException ? error.reason : messageOf(error);
    throw new DriftgateError(
      errorCodes.config,
      line > 0 ? `${file}:${line}: invalid YAML: ${reason}` : `${file}: invalid YAML: ${reason}`,
      { file, line },
    );
  }
}

export async function loadConfig(
  file: string,
  context: ConfigContext = DEFAULT_CONTEXT,
): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new DriftgateError(
      errorCodes.config,
      `${file}: cannot read the config file${code === undefined ? '' : ` (${code})`}`,
      { file },
    );
  }
  const result = validateConfig(parseConfigText(text, file), context);
  if ('errors' in result) {
    throw new DriftgateError(
      errorCodes.config,
      `${file}: invalid config:\n${formatFieldErrors(result.errors)}`,
      { file },
    );
  }
  return result.config;
}
