// One-shot OCI runtime commands on a running container (pause, resume, update), for crun and runc alike:
// `<runtime> --root <state root> <args...>`.
import { execFile } from 'node:child_process';

export interface RuntimeRef {
  path: string;
  root: string;
}

/** Runs the runtime; rejects with the runtime's own message (its last stderr line) on failure. */
export function runtimeCommand(rt: RuntimeRef, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(rt.path, ['--root', rt.root, ...args], { timeout: 30000 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const lines = String(stderr).trim().split('\n').filter(Boolean);
      // runc logs JSON-ish `level=error msg="..."` lines; crun prints the message itself.
      const last = lines.at(-1) ?? err.message;
      const m = /msg="((?:[^"\\]|\\.)*)"/.exec(last);
      reject(new Error(m ? m[1].replace(/\\"/g, '"') : last.replace(/^(crun|runc): /, '')));
    });
  });
}
