import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/** One file as read at one moment: its bytes, or why it could not be read. */
export type FileRead = { path: string; content: Buffer } | { path: string; error: Error };

export async function readFiles(paths: readonly string[]): Promise<FileRead[]> {
  return Promise.all(
    paths.map(async (path): Promise<FileRead> => {
      try {
        return { path, content: await readFile(path) };
      } catch (err) {
        return { path, error: err as Error };
      }
    }),
  );
}

export interface FilePollerOptions {
  paths: readonly string[];
  intervalMs: number;
  /** What the caller is already using, so the first poll reports only real changes. */
  initial: readonly FileRead[];
  /** Must not throw: it runs from a timer. */
  onChange(files: FileRead[]): void;
}

/**
 * Re-reads files on an interval and reports when their content changes. Polling content (not fs.watch
 * on the files) is what survives Kubernetes secret volumes, where the files are symlinks through a
 * `..data` directory that is swapped by rename: watchers on the old inode never fire again.
 */
export class FilePoller {
  private lastSeen: string;
  private timer?: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: FilePollerOptions) {
    this.lastSeen = fingerprint(options.initial);
    this.schedule();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.poll().finally(() => this.schedule()), this.options.intervalMs);
    // A poller must never be what keeps the process alive after the server has shut down.
    this.timer.unref();
  }

  /**
   * A change is reported only once two back-to-back reads agree: a read that straddles a rotation
   * (new certificate, old key) or catches a writer half-way is retried at the next interval instead.
   */
  private async poll(): Promise<void> {
    const first = await readFiles(this.options.paths);
    const seen = fingerprint(first);
    if (seen === this.lastSeen) return;
    const second = await readFiles(this.options.paths);
    if (fingerprint(second) !== seen || this.closed) return;
    this.lastSeen = seen;
    this.options.onChange(second);
  }
}

function fingerprint(files: readonly FileRead[]): string {
  return files
    .map((file) =>
      'content' in file
        ? createHash('sha256').update(file.content).digest('hex')
        : `unreadable:${(file.error as NodeJS.ErrnoException).code ?? file.error.message}`,
    )
    .join('|');
}
