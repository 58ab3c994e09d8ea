import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A directory laid out like a Kubernetes secret volume: `tls.crt -> ..data/tls.crt`,
 * `..data -> ..<version>`, and an update is a new version directory plus an atomic rename of `..data`,
 * exactly the swap that defeats fs.watch on the files themselves.
 */
export class SecretVolume {
  private version = 0;
  private current?: string;

  private constructor(readonly dir: string) {}

  static async create(files: Record<string, string>): Promise<SecretVolume> {
    const volume = new SecretVolume(await mkdtemp(join(tmpdir(), 'secret-volume-')));
    await volume.publish(files);
    for (const name of Object.keys(files)) await symlink(join('..data', name), join(volume.dir, name));
    return volume;
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  /** Replaces every file at once, as the kubelet does when the Secret changes. */
  async publish(files: Record<string, string>): Promise<void> {
    const versionName = `..2026_01_01_00_00_${String(++this.version).padStart(2, '0')}`;
    await mkdir(join(this.dir, versionName));
    for (const [name, content] of Object.entries(files)) await writeFile(join(this.dir, versionName, name), content);
    await symlink(versionName, join(this.dir, '..data_tmp'));
    await rename(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    if (this.current) await rm(join(this.dir, this.current), { recursive: true });
    this.current = versionName;
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
