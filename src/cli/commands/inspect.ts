// berth inspect / container inspect / image inspect: the daemon's raw JSON, re-indented like Go's
// json.Indent (so key order and escapes are the daemon's own), or a Go template per object.
import type { Cli, CommandSpec } from '../command.ts';
import { formatFlag } from '../common-flags.ts';
import { ApiError, StatusError } from '../errors.ts';
import { readText } from '../client.ts';
import { parseTemplate } from '../format/template.ts';

import { esc as enc } from '../client.ts';

/** json.Indent(dst, src, "", indent) on raw JSON text; "{}" and "[]" stay compact. */
export function indentJSON(src: string, indent = '    '): string {
  let out = '';
  let depth = 0;
  let needIndent = false;
  const newline = () => '\n' + indent.repeat(depth);
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') continue;
    if (needIndent && c !== ']' && c !== '}') {
      needIndent = false;
      depth++;
      out += newline();
    }
    if (c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== '"') j += src[j] === '\\' ? 2 : 1;
      out += src.slice(i, j + 1);
      i = j;
      continue;
    }
    switch (c) {
      case '{':
      case '[':
        out += c;
        needIndent = true;
        break;
      case ',':
        out += c + newline();
        break;
      case ':':
        out += ': ';
        break;
      case '}':
      case ']':
        if (needIndent) needIndent = false;
        else {
          depth--;
          out += newline();
        }
        out += c;
        break;
      default:
        out += c;
    }
  }
  return out;
}

/** json.Compact on raw JSON text. */
export function compactJSON(src: string): string {
  let out = '';
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== '"') j += src[j] === '\\' ? 2 : 1;
      out += src.slice(i, j + 1);
      i = j;
    } else if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r') {
      out += c;
    }
  }
  return out;
}

export type Getter = (ref: string) => Promise<string>;

export async function getRaw(cli: Cli, path: string, query?: Record<string, boolean>): Promise<string> {
  const res = await cli.client().request('GET', path, { query });
  return (await readText(res)).trim();
}

function skippable(err: unknown): boolean {
  return err instanceof ApiError && (err.statusCode === 404 || err.statusCode === 501);
}

/** Prints the objects like docker's inspect.Inspect: all that were found, then the errors. */
export async function inspectAll(cli: Cli, refs: string[], format: string, get: Getter): Promise<void> {
  const raws: string[] = [];
  const errors: string[] = [];
  const tmpl = format !== '' && format !== 'json' ? parseTemplate(format) : undefined;
  let out = '';
  for (const ref of refs) {
    let raw: string;
    try {
      raw = await get(ref);
    } catch (err) {
      errors.push((err as Error).message);
      continue;
    }
    if (tmpl) {
      try {
        out += tmpl.execute(JSON.parse(raw)) + '\n';
      } catch (err) {
        errors.push(`template parsing error: ${(err as Error).message}`);
      }
    } else {
      raws.push(raw);
    }
  }
  if (tmpl) {
    // TemplateInspector.Flush prints an empty line when nothing was rendered.
    if (out === '') out = '\n';
  } else {
    if (raws.length === 0) out = '[]\n';
    else {
      const joined = `[${raws.join(',')}]`;
      out = (format === 'json' ? compactJSON(joined) : indentJSON(joined)) + '\n';
    }
  }
  cli.out.write(out);
  if (errors.length > 0) throw new StatusError(errors.join('\n'), 1);
}

export function templateCheck(format: string): void {
  if (format === '' || format === 'json') return;
  try {
    parseTemplate(format);
  } catch (err) {
    throw new StatusError(`template parsing error: ${(err as Error).message}`, 1);
  }
}

const containerGetter = (cli: Cli, size: boolean): Getter => (ref) => getRaw(cli, `/containers/${enc(ref)}/json`, { size });
const imageGetter = (cli: Cli): Getter => (ref) => getRaw(cli, `/images/${enc(ref)}/json`);

export const containerInspectCommand: CommandSpec = {
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Display detailed information on one or more containers',
  flags: [formatFlag({ table: false, short: true }), { name: 'size', short: 's', type: '', desc: 'Display total file sizes' }],
  args: { min: 1 },
  async run(cli, flags, args) {
    templateCheck(flags.str('format'));
    await inspectAll(cli, args, flags.str('format'), containerGetter(cli, flags.bool('size')));
  },
};

export const imageInspectCommand: CommandSpec = {
  usage: '[OPTIONS] IMAGE [IMAGE...]',
  short: 'Display detailed information on one or more images',
  flags: [
    formatFlag({ table: false, short: true }),
    { name: 'platform', type: 'string', desc: "Inspect a specific platform of the multi-platform image.\nIf the image or the server is not multi-platform capable, the command will error out if the platform does not match.\n'os[/arch[/variant]]': Explicit platform (eg. linux/amd64)", hidden: true },
  ],
  args: { min: 1 },
  async run(cli, flags, args) {
    templateCheck(flags.str('format'));
    await inspectAll(cli, args, flags.str('format'), imageGetter(cli));
  },
};

const validTypes = ['config', 'container', 'image', 'network', 'node', 'plugin', 'secret', 'service', 'task', 'volume'];

export const inspectCommand: CommandSpec = {
  usage: '[OPTIONS] NAME|ID [NAME|ID...]',
  short: 'Return low-level information on Docker objects',
  flags: [
    formatFlag({ table: false, short: true }),
    { name: 'size', short: 's', type: '', desc: 'Display total file sizes if the type is container' },
    { name: 'type', type: 'string', desc: 'Only inspect objects of the given type' },
  ],
  args: { min: 1 },
  async run(cli, flags, args) {
    const type = flags.str('type');
    if (type !== '' && !validTypes.includes(type)) {
      throw new StatusError(`unknown type: "${type}": must be one of ${validTypes.map((t) => `"${t}"`).join(', ')}`, 1);
    }
    templateCheck(flags.str('format'));
    const kinds: [string, Getter][] = [
      ['container', containerGetter(cli, flags.bool('size'))],
      ['image', imageGetter(cli)],
      ['network', (ref) => getRaw(cli, `/networks/${enc(ref)}`)],
      ['volume', (ref) => getRaw(cli, `/volumes/${enc(ref)}`)],
      ['plugin', (ref) => getRaw(cli, `/plugins/${enc(ref)}/json`)],
    ];
    await inspectAll(cli, args, flags.str('format'), async (ref) => {
      for (const [kind, get] of kinds) {
        if (type !== '' && kind !== type) continue;
        try {
          return await get(ref);
        } catch (err) {
          if (type === '' && skippable(err)) continue;
          throw err;
        }
      }
      throw new Error(`Error: No such object: ${ref}`);
    });
  },
};
