// command.CopyToFile: written under a temporary name beside the target and renamed, so a failed transfer
// leaves no partial file.
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';

export async function copyToFile(src: Readable, output: string): Promise<void> {
  const tmp = path.join(path.dirname(output), `.docker_temp_${process.pid}_${Date.now()}`);
  try {
    await pipeline(src, createWriteStream(tmp, { mode: 0o600 }));
    renameSync(tmp, output);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
