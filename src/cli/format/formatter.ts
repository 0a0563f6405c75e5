// docker/cli's formatter.Context: renders --format output for list commands
// (ps, images, volume ls, network ls, ...).
//
// Behaviour (cli/command/formatter/formatter.go):
//  - a format starting with "table" is a table: the prefix is removed;
//  - the format "json" means "{{json .}}" (not a table);
//  - then spaces (only ' ') are trimmed from both ends and the two-character
//    sequences `\t` and `\n` become a tab and a newline;
//  - every row is rendered followed by "\n"; if any row fails nothing is printed
//    and the error is "template parsing error: <Go error>";
//  - for tables, the header line is the same template executed on the header
//    map (field name -> column title) with docker's header functions (json,
//    upper, split, ... return the title unchanged; pad still pads). A field
//    without a header entry prints "<no value>"; a header that fails midway
//    keeps what it printed so far. The header is printed even with no rows.
//    Header and rows then go through tabwriter.NewWriter(out, 10, 1, 3, ' ', 0).

import { TemplateError, parseTemplate } from './template.ts';
import type { Template } from './template.ts';
import { dockerTable } from './tabwriter.ts';
import { formatterContext, goType, wrappedTarget } from './go-fmt.ts';

export const TABLE_FORMAT_KEY = 'table';
export const JSON_FORMAT_KEY = 'json';
export const JSON_FORMAT = '{{json .}}';

/** Format.IsTable: the format starts with "table". */
export function isTableFormat(f: string): boolean {
  return f.startsWith(TABLE_FORMAT_KEY);
}

/** Format.IsJSON: the format is exactly "json". */
export function isJSONFormat(f: string): boolean {
  return f === JSON_FORMAT_KEY;
}

/** The template text docker executes for a --format value (Context.preFormat). */
export function finalFormat(format: string): string {
  let f = format;
  if (isTableFormat(f)) f = f.slice(TABLE_FORMAT_KEY.length);
  else if (isJSONFormat(f)) f = JSON_FORMAT;
  f = trimSpaces(f);
  return f.replace(/\\t|\\n/g, (m) => (m === '\\t' ? '\t' : '\n'));
}

function trimSpaces(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && s[a] === ' ') a++;
  while (b > a && s[b - 1] === ' ') b--;
  return s.slice(a, b);
}

/** Parse a --format value; throws Error("template parsing error: ...") like docker. */
export function parseFormat(format: string): Template {
  try {
    return parseTemplate(finalFormat(format));
  } catch (e) {
    if (e instanceof TemplateError) throw new Error(`template parsing error: ${e.message}`);
    throw e;
  }
}

export interface RenderOptions {
  /**
   * Go type named in errors for a missing field, e.g. "*formatter.ContainerContext"
   * (docker ps) giving `can't evaluate field Foo in type *formatter.ContainerContext`.
   * A row's own goType symbol property takes precedence.
   */
  typeName?: string;
}

/**
 * Wrap a row so the template treats it as docker's context struct: a missing
 * field is an error, `{{json .}}` sorts keys and calls argument-less methods.
 */
function asContext(row: object, typeName: string): object {
  const props: PropertyDescriptorMap = { [formatterContext]: { value: true }, [wrappedTarget]: { value: row } };
  if (typeof (row as Record<symbol, unknown>)[goType] !== 'string') props[goType] = { value: typeName };
  return Object.create(row, props);
}

/**
 * Render rows with a docker --format value (see the module comment). Rows are
 * objects whose properties are strings (or other values) or methods; methods
 * are called with the template's arguments ({{.Label "k"}}). `header` maps a
 * field name to its column title, e.g. { ID: 'CONTAINER ID', Names: 'NAMES' }.
 * Throws Error("template parsing error: ...") on a bad format or a failing row.
 */
export function renderRows(format: string, rows: object[], header: Record<string, string>, opts: RenderOptions = {}): string {
  const tmpl = parseFormat(format);
  const typeName = opts.typeName ?? '*formatter.Context';
  let body = '';
  for (const row of rows) {
    try {
      body += tmpl.execute(asContext(row, typeName));
    } catch (e) {
      if (e instanceof TemplateError) throw new Error(`template parsing error: ${e.message}`);
      throw e;
    }
    body += '\n';
  }
  if (!isTableFormat(format)) return body;
  const head = tmpl.withHeaderFuncs().executePartial({ ...header }).output;
  const tw = dockerTable();
  tw.write(head);
  tw.write('\n');
  tw.write(body);
  return tw.flush();
}
