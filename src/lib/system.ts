// Facts about the host, in the words Docker reports them.
import { readFileSync } from 'node:fs';

// Go's GOARCH spelling (amd64, arm64), as Docker's version and info show it.
export function goArch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

export function readOsRelease(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    return m ? m[1] : 'Linux';
  } catch {
    return 'Linux';
  }
}
