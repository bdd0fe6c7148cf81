// Notices when the serving certificate or key may have changed: a file written or renamed over,
// or a Kubernetes Secret volume's `..data` symlink swapped under `tls.crt -> ..data/tls.crt`.
// Anything else written in the same directory (a cache kept beside the certificates) is ignored.
import { readlinkSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, isAbsolute, relative, resolve, sep } from 'node:path';

export interface TlsFilesWatch {
  close(): void;
}

/**
 * The entries of the file's directory whose change can change what the file reads: its own
 * name and, when it is a symlink into that directory, the first step of its target (`..data`).
 */
export function entriesOf(file: string): string[] {
  const dir = dirname(file);
  const entries = [basename(file)];
  let target: string;
  try {
    target = readlinkSync(file);
  } catch {
    return entries; // not a symlink, or not there (yet)
  }
  const inside = relative(dir, resolve(dir, target));
  const first = inside.split(sep)[0];
  if (first !== undefined && first !== '' && first !== '..' && !isAbsolute(inside))
    entries.push(first);
  return entries;
}

/**
 * Calls `changed` once the files may have changed: `settleMs` after the first event that names
 * one of them, however many follow (a rotation writes several entries at once; a steady stream
 * of them cannot put the call off for ever). `changed` must compare what it reads itself.
 */
export function watchTlsFiles(
  files: readonly string[],
  changed: () => void,
  options: { readonly settleMs: number; readonly failed: (error: unknown) => void },
): TlsFilesWatch {
  let pending: NodeJS.Timeout | undefined;
  const watchers: FSWatcher[] = [];
  for (const dir of new Set(files.map((file) => dirname(file)))) {
    const here = files.filter((file) => dirname(file) === dir);
    const onEvent = (_event: string, name: string | null) => {
      // Without a name (some platforms), any event may be the one.
      if (name !== null && !here.some((file) => entriesOf(file).includes(name))) return;
      if (pending !== undefined) return;
      pending = setTimeout(() => {
        pending = undefined;
        changed();
      }, options.settleMs);
      pending.unref();
    };
    try {
      const watcher = watch(dir, onEvent);
      watcher.on('error', options.failed);
      watcher.unref();
      watchers.push(watcher);
    } catch (error) {
      options.failed(error);
    }
  }
  return {
    close() {
      if (pending !== undefined) clearTimeout(pending);
      for (const watcher of watchers) watcher.close();
    },
  };
}
