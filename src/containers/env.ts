// Environment lists (KEY=value), merged like Docker: later entries replace earlier ones with the same key.
export function mergeEnv(base: string[], over: string[]): string[] {
  const out = [...base];
  for (const e of over) {
    const k = e.split('=')[0];
    const i = out.findIndex((x) => x.split('=')[0] === k);
    if (!e.includes('=')) continue; // "-e VAR" without value and unset in the client: Docker drops it
    if (i >= 0) out[i] = e;
    else out.push(e);
  }
  return out;
}
