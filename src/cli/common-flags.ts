// Flags several commands share, worded as docker words them.
import type { FlagDef } from './flags.ts';

export function formatFlag(opts: { table: boolean; short?: boolean }): FlagDef {
  const lines = ['Format output using a custom template:'];
  if (opts.table) {
    lines.push("'table':            Print output in table format with column headers (default)");
    lines.push("'table TEMPLATE':   Print output in table format using the given Go template");
  }
  lines.push("'json':             Print in JSON format");
  lines.push("'TEMPLATE':         Print output using the given Go template.");
  lines.push('Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates');
  return { name: 'format', short: opts.short ? 'f' : undefined, type: 'string', desc: lines.join('\n') };
}

export function filterFlag(): FlagDef {
  return { name: 'filter', short: 'f', type: 'filter', desc: 'Filter output based on conditions provided', repeat: true, parse: (v) => {
    if (!v.includes('=')) throw new Error('bad format of filter (expected name=value)');
    return v;
  } };
}

/** --filter key=value pairs as the JSON the API takes: {"key": {"value": true}}. */
export function filtersJSON(filters: string[]): string | undefined {
  if (filters.length === 0) return undefined;
  const out: Record<string, Record<string, boolean>> = {};
  for (const f of filters) {
    const eq = f.indexOf('=');
    const key = f.slice(0, eq).trim().toLowerCase();
    const value = f.slice(eq + 1).trim();
    (out[key] ??= {})[value] = true;
  }
  return JSON.stringify(out);
}

/** `--format json` or a Go template over one object (version, info), with docker's parse-error wording. */
export async function writeFormatted(out: NodeJS.WritableStream, format: string, data: unknown): Promise<void> {
  if (format === 'json') {
    const { dockerJSON } = await import('./format/go-json.ts');
    out.write(dockerJSON(data) + '\n');
    return;
  }
  const { parseTemplate } = await import('./format/template.ts');
  const { StatusError } = await import('./errors.ts');
  let tmpl;
  try {
    tmpl = parseTemplate(format);
  } catch (err) {
    throw new StatusError(`template parsing error: ${(err as Error).message}`, 1);
  }
  out.write(tmpl.execute(data) + '\n');
}
