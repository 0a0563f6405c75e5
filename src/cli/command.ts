// The shape of a berth command and the pieces every command shares: the context it runs in, argument-count
// rules with docker's messages, and the usage text.
import type { ApiClient } from './client.ts';
import { flagUsages, type FlagDef, type FlagValues } from './flags.ts';
import { StatusError } from './errors.ts';

export const BIN = 'berth';

export type ArgRule =
  | { min: number; max: number }
  | { min: number }
  | { exact: number }
  | { max: number }
  | { none: true };

export interface CommandSpec {
  /** Usage line after the command path, e.g. "[OPTIONS] IMAGE [COMMAND] [ARG...]". */
  usage: string;
  short: string;
  /** Other paths of the same command for the help text, e.g. ["container run", "run"]. */
  aliases?: string[];
  flags: FlagDef[];
  args?: ArgRule;
  /** false: flags end at the first positional argument (docker run, create). */
  interspersed?: boolean;
  /** Returns the exit status (0 when nothing is returned). */
  run(cli: Cli, flags: FlagValues, args: string[]): Promise<number | void>;
}

export interface Cli {
  client(): ApiClient;
  /** --config, DOCKER_CONFIG or ~/.docker: where config.json (psFormat, detachKeys...) lives. */
  configDir: string;
  out: NodeJS.WriteStream;
  err: NodeJS.WriteStream;
  in: NodeJS.ReadStream;
}

/** Checks the positional argument count with the messages of docker's cli.RequiresMinArgs and friends. */
export function checkArgs(path: string, spec: CommandSpec, args: string[]): void {
  const rule = spec.args;
  if (!rule) return;
  const usage = `Usage:  ${path} ${spec.usage}`;
  const plural = (n: number) => (n === 1 ? 'argument' : 'arguments');
  let msg: string | undefined;
  let tail = `Run '${path} --help' for more information`;
  if ('min' in rule && 'max' in rule && (args.length < rule.min || args.length > rule.max)) {
    msg = `'${path}' requires at least ${rule.min} and at most ${rule.max} ${plural(rule.max)}`;
  } else if ('min' in rule && args.length < rule.min) {
    msg = `'${path}' requires at least ${rule.min} ${plural(rule.min)}`;
    tail = `See '${path} --help' for more information`;
  } else if ('exact' in rule && args.length !== rule.exact) {
    msg = `'${path}' requires ${rule.exact} ${plural(rule.exact)}`;
  } else if ('max' in rule && args.length > rule.max) {
    msg = `'${path}' requires at most ${rule.max} ${plural(rule.max)}`;
    // docker 28 prints this stray "S" (its RequiresMaxArgs template); kept so output matches byte for byte.
    tail = `S${tail}`;
  } else if ('none' in rule && args.length > 0) {
    msg = `'${path}' accepts no arguments`;
  }
  if (msg) throw new StatusError(`${BIN}: ${msg}\n\n${usage}\n\n${tail}`, 1);
}

/** Message of a flag parse error: docker's cli.FlagErrorFunc, exit status 125. */
export function flagError(path: string, spec: { usage: string }, err: Error): StatusError {
  return new StatusError(`${err.message}\n\nUsage:  ${path} ${spec.usage}\n\nRun '${path} --help' for more information`, 125);
}

/** docker wraps help to the width of the terminal on stdin, 80 columns otherwise. */
export function terminalWidth(): number {
  return process.stdin.isTTY && process.stdout.isTTY ? process.stdout.columns || 80 : 80;
}

/** The text of `berth CMD --help`, laid out like cobra's usage template in docker. */
export function commandHelp(path: string, spec: CommandSpec): string {
  let s = `Usage:  ${spec.usage ? `${path} ${spec.usage}` : path}\n\n${spec.short}\n`;
  if (spec.aliases && spec.aliases.length > 0) {
    s += `\nAliases:\n  ${spec.aliases.map((a) => `${BIN} ${a}`).join(', ')}\n`;
  }
  const visible = spec.flags.filter((f) => !f.hidden);
  if (visible.length > 0) s += `\nOptions:\n${flagUsages(visible, terminalWidth() - 1)}`;
  return s;
}
