// `docker import --change` / `commit --change`: a few Dockerfile instructions applied to an image config.
import { invalidParameter } from '../lib/errors.ts';
import type { ContainerConfigPart } from './store.ts';

const ALLOWED = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'USER', 'VOLUME', 'WORKDIR', 'STOPSIGNAL'];

function jsonOrShell(rest: string): string[] {
  const t = rest.trim();
  if (t.startsWith('[')) {
    try {
      const v = JSON.parse(t) as unknown;
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
    } catch { /* shell form below, as Docker does */ }
  }
  return ['/bin/sh', '-c', t];
}

function unquote(s: string): string {
  const last = s[s.length - 1];
  if (s.length >= 2 && ((s[0] === '"' && last === '"') || (s[0] === "'" && last === "'"))) return s.slice(1, -1);
  return s;
}

// Splits `a=b c="d e"` into pairs; a single `key value` form is also accepted (legacy ENV/LABEL).
function keyValues(rest: string, instr: string): [string, string][] {
  const words = rest.match(/(?:[^\s"']+|"(?:\\.|[^"])*"|'[^']*')+/g) ?? [];
  if (words.length === 0) throw invalidParameter(`${instr} requires at least one argument`);
  if (!(words[0] ?? '').includes('=')) {
    const [k, ...v] = rest.trim().split(/\s+/);
    if (!v.length) throw invalidParameter(`${instr} must have two arguments`);
    return [[k, v.join(' ')]];
  }
  return words.map((w) => {
    const i = w.indexOf('=');
    if (i <= 0) throw invalidParameter(`${instr} names can not be blank`);
    return [w.slice(0, i), unquote(w.slice(i + 1))];
  });
}

export function applyChanges(cfg: ContainerConfigPart, changes: string[]): ContainerConfigPart {
  const out: ContainerConfigPart = { ...cfg };
  for (const line of changes) {
    const m = /^\s*(\w+)\s*(.*)$/s.exec(line);
    if (!m) continue;
    const instr = m[1].toUpperCase();
    const rest = m[2];
    if (!ALLOWED.includes(instr)) throw invalidParameter(`${instr} is not a valid change command`);
    switch (instr) {
      case 'CMD': out.Cmd = jsonOrShell(rest); break;
      case 'ENTRYPOINT': out.Entrypoint = jsonOrShell(rest); break;
      case 'ENV': {
        const env = [...(out.Env ?? [])];
        for (const [k, v] of keyValues(rest, 'ENV')) {
          const i = env.findIndex((e) => e.split('=')[0] === k);
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        out.Env = env;
        break;
      }
      case 'LABEL': {
        const labels = { ...(out.Labels ?? {}) };
        for (const [k, v] of keyValues(rest, 'LABEL')) labels[k] = v;
        out.Labels = labels;
        break;
      }
      case 'EXPOSE': {
        const ports = { ...(out.ExposedPorts ?? {}) };
        for (const p of rest.trim().split(/\s+/).filter(Boolean)) ports[p.includes('/') ? p : `${p}/tcp`] = {};
        out.ExposedPorts = ports;
        break;
      }
      case 'VOLUME': {
        const vols = { ...(out.Volumes ?? {}) };
        for (const v of jsonOrShellList(rest)) vols[v] = {};
        out.Volumes = vols;
        break;
      }
      case 'USER': out.User = rest.trim(); break;
      case 'WORKDIR': out.WorkingDir = rest.trim(); break;
      case 'STOPSIGNAL': out.StopSignal = rest.trim(); break;
      case 'ONBUILD': out.OnBuild = [...(out.OnBuild ?? []), rest.trim()]; break;
    }
  }
  return out;
}

function jsonOrShellList(rest: string): string[] {
  const t = rest.trim();
  if (t.startsWith('[')) {
    try {
      return JSON.parse(t) as string[];
    } catch { /* fall through */ }
  }
  return t.split(/\s+/).filter(Boolean);
}
