// crun 1.8 compiles the seccomp profile on every container create (~12 ms of its ~18 ms `run` here). It keeps
// the compiled filter in its state dir (seccomp.bpf) and accepts a precompiled one through the
// `run.oci.seccomp_bpf_data` annotation, so we compile once per distinct profile and reuse the bytes.
import { createHash } from 'node:crypto';
import { readFileSync, mkdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomicSync } from '../lib/fsutil.ts';

const ANNOTATION = 'run.oci.seccomp_bpf_data';

export class SeccompCache {
  private mem = new Map<string, string>(); // key -> base64 BPF
  private dir: string;

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  static key(seccomp: unknown): string {
    return createHash('sha256').update(JSON.stringify(seccomp)).digest('hex');
  }

  private lookup(key: string): string | undefined {
    let v = this.mem.get(key);
    if (v === undefined) {
      const f = path.join(this.dir, `${key}.bpf`);
      if (existsSync(f)) {
        v = readFileSync(f).toString('base64');
        this.mem.set(key, v);
      }
    }
    return v;
  }

  // Rewrites the spec to use a cached filter; returns the key to learn from when there is none yet.
  apply(spec: Record<string, unknown>): string | undefined {
    const linux = spec.linux as Record<string, unknown> | undefined;
    if (!linux?.seccomp) return undefined;
    const key = SeccompCache.key(linux.seccomp);
    const bpf = this.lookup(key);
    if (bpf === undefined) return key;
    delete linux.seccomp;
    spec.annotations = { ...(spec.annotations as Record<string, string> | undefined), [ANNOTATION]: bpf };
    return undefined;
  }

  // After a successful create: take the filter crun compiled for this profile.
  learn(key: string, runtimeStateDir: string): void {
    try {
      const bpf = readFileSync(path.join(runtimeStateDir, 'seccomp.bpf'));
      if (bpf.length === 0 || bpf.length % 8 !== 0) return; // sock_filter entries are 8 bytes
      writeFileAtomicSync(path.join(this.dir, `${key}.bpf`), bpf, 0o600);
      this.mem.set(key, bpf.toString('base64'));
    } catch { /* runc, or no filter: nothing to learn */ }
  }
}
