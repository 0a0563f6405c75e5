// A Go text/template implementation for docker's --format flag.
//
//   const t = parseTemplate('{{range .Names}}{{.}} {{end}}');
//   t.execute({ Names: ['a', 'b'] });  // "a b "
//
// See go-fmt.ts for how JS values map onto Go values. In short: plain objects
// and Maps are Go maps (a missing key prints "<no value>"); objects that carry
// the goType symbol, have function-valued properties or are class instances are
// structs (a missing field is an execution error); function-valued properties
// are methods, called with the template's arguments ({{.Label "k"}}).

import {
  GoFloat,
  formatV,
  goTypeName,
  isPlainObject,
  isStructLike,
  receiverOf,
  sortedEntries,
  sprint,
  sprintf,
  sprintln,
  unwrapNumber,
} from './go-fmt.ts';
import { dockerJSON } from './go-json.ts';
import { TemplateError, nodeString, parseTrees } from './template-parse.ts';
import type {
  BranchNode,
  ChainNode,
  CommandNode,
  FieldNode,
  IdentifierNode,
  ListNode,
  Node,
  NumberNode,
  ParsedTemplates,
  PipeNode,
  TemplateNode,
  VariableNode,
} from './template-parse.ts';

export { TemplateError } from './template-parse.ts';
export { GoFloat, goType, formatterContext } from './go-fmt.ts';

export type TemplateFunc = (...a: any[]) => unknown;

// ---------------------------------------------------------------------------
// Function signatures

/** Parameter types the executor checks, mirroring Go's reflection-based checks. */
type ParamType = 'any' | 'value' | 'string' | 'int' | 'bool' | '[]string';

interface FuncDef {
  params: ParamType[];
  variadic?: ParamType;
  fn: TemplateFunc;
  /** and/or: arguments evaluated lazily by the executor. */
  special?: 'and' | 'or';
}

const MISSING: unique symbol = Symbol('missing');
type Val = unknown;

const goParamType: Record<ParamType, string> = {
  any: 'interface {}',
  value: 'reflect.Value',
  string: 'string',
  int: 'int',
  bool: 'bool',
  '[]string': '[]string',
};

class FuncError extends Error {}

// ---------------------------------------------------------------------------
// Builtins

function truth(v: Val): boolean {
  return isTrue(v);
}

export function isTrue(v: Val): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') return v.length > 0;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'bigint') return v !== 0n;
  if (v instanceof GoFloat) return v.value !== 0;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Map) return v.size > 0;
  if (isPlainObject(v)) {
    if (isStructLike(v)) return true;
    return Object.keys(v).length > 0;
  }
  return true;
}

type Kind = 'bool' | 'int' | 'float' | 'string' | 'invalid' | 'other';

function basicKind(v: Val): Kind {
  if (v === undefined || v === null) return 'invalid';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (v instanceof GoFloat) return 'float';
  return 'other';
}

const numeric = (k: Kind) => k === 'int' || k === 'float';

function eq(arg1: Val, ...arg2: Val[]): boolean {
  if (arg2.length === 0) throw new FuncError('missing argument for comparison');
  const a = unwrapNumber(arg1);
  const k1 = basicKind(a);
  for (const raw of arg2) {
    const b = unwrapNumber(raw);
    const k2 = basicKind(b);
    let t = false;
    if (k1 !== k2 && !(numeric(k1) && numeric(k2))) {
      if (k1 !== 'invalid' && k2 !== 'invalid') throw new FuncError('incompatible types for comparison');
    } else if (k1 === 'other') {
      if (Array.isArray(a) || a instanceof Map || (isPlainObject(a) && !isStructLike(a))) {
        throw new FuncError(sprintf('non-comparable type %s: %v', b, goTypeName(b)));
      }
      t = a === b;
    } else if (k1 === 'invalid') {
      t = true;
    } else {
      // Same basic kind; == also equates a number with a bigint of the same value.
      t = a == b;
    }
    if (t) return true;
  }
  return false;
}

function lt(arg1: Val, arg2: Val): boolean {
  const a = unwrapNumber(arg1);
  const b = unwrapNumber(arg2);
  const k1 = basicKind(a);
  const k2 = basicKind(b);
  if (k1 === 'invalid' || k1 === 'other' || k2 === 'invalid' || k2 === 'other') {
    throw new FuncError('invalid type for comparison');
  }
  if (k1 !== k2 && !(numeric(k1) && numeric(k2))) throw new FuncError('incompatible types for comparison');
  if (k1 === 'bool') throw new FuncError('invalid type for comparison');
  return (a as number | string) < (b as number | string);
}

function le(a: Val, b: Val): boolean {
  return lt(a, b) || eq(a, b);
}

function utf8Bytes(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

function indexArg(index: Val, cap: number): number {
  const i = unwrapNumber(index);
  let x: number;
  if (typeof i === 'number' && Number.isInteger(i)) x = i;
  else if (typeof i === 'bigint') x = Number(i);
  else if (i === undefined || i === null) throw new FuncError('cannot index slice/array with nil');
  else throw new FuncError(`cannot index slice/array with type ${goTypeName(i)}`);
  if (x < 0 || x > cap) throw new FuncError(`index out of range: ${x}`);
  return x;
}

/**
 * Zero value of a map's element type, guessed from its values: "" for a
 * map[string]string (all values strings, or empty), else the zero interface
 * (Go's invalid value, printed "<no value>").
 */
function mapZero(values: Iterable<unknown>): Val {
  for (const v of values) if (typeof v !== 'string') return undefined;
  return '';
}

function index(item: Val, ...indexes: Val[]): Val {
  if (item === undefined || item === null) throw new FuncError('index of untyped nil');
  let cur: Val = item;
  for (const idx of indexes) {
    if (cur === undefined || cur === null) throw new FuncError('index of nil pointer');
    if (Array.isArray(cur)) {
      const x = indexArg(idx, cur.length);
      if (x >= cur.length) throw new FuncError(`reflect: slice index out of range`);
      cur = cur[x];
    } else if (typeof cur === 'string') {
      const b = utf8Bytes(cur);
      const x = indexArg(idx, b.length);
      if (x >= b.length) throw new FuncError(`reflect: string index out of range`);
      cur = b[x];
    } else if (cur instanceof Map) {
      const k = unwrapNumber(idx);
      cur = cur.has(k) ? cur.get(k) : mapZero(cur.values());
    } else if (isPlainObject(cur) && !isStructLike(cur)) {
      if (typeof idx !== 'string') {
        if (idx === undefined || idx === null) throw new FuncError('value is nil; should be of type string');
        throw new FuncError(`value has type ${goTypeName(idx)}; should be string`);
      }
      cur = Object.prototype.hasOwnProperty.call(cur, idx) ? cur[idx] : mapZero(Object.values(cur));
    } else {
      throw new FuncError(`can't index item of type ${goTypeName(cur)}`);
    }
  }
  return cur;
}

function slice(item: Val, ...indexes: Val[]): Val {
  if (item === undefined || item === null) throw new FuncError('slice of untyped nil');
  if (indexes.length > 3) throw new FuncError(`too many slice indexes: ${indexes.length}`);
  let len: number;
  let bytes: Buffer | null = null;
  if (typeof item === 'string') {
    if (indexes.length === 3) throw new FuncError('cannot 3-index slice a string');
    bytes = utf8Bytes(item);
    len = bytes.length;
  } else if (Array.isArray(item)) {
    len = item.length;
  } else {
    throw new FuncError(`can't slice item of type ${goTypeName(item)}`);
  }
  const idx = [0, len, len];
  indexes.forEach((x, i) => {
    idx[i] = indexArg(x, len);
  });
  if (idx[0] > idx[1]) throw new FuncError(`invalid slice index: ${idx[0]} > ${idx[1]}`);
  if (indexes.length === 3 && idx[1] > idx[2]) throw new FuncError(`invalid slice index: ${idx[1]} > ${idx[2]}`);
  if (bytes) return bytes.subarray(idx[0], idx[1]).toString('utf8');
  return (item as unknown[]).slice(idx[0], idx[1]);
}

function length(item: Val): number {
  if (item === null) throw new FuncError('len of nil pointer');
  if (item === undefined) throw new FuncError('reflect: call of reflect.Value.Type on zero Value');
  if (typeof item === 'string') return Buffer.byteLength(item, 'utf8');
  if (Array.isArray(item)) return item.length;
  if (item instanceof Map) return item.size;
  if (isPlainObject(item) && !isStructLike(item)) return Object.keys(item).length;
  throw new FuncError(`len of type ${goTypeName(item)}`);
}

function evalArgsString(args: Val[]): string {
  if (args.length === 1 && typeof args[0] === 'string') return args[0];
  return sprint(...args);
}

function htmlEscape(s: string): string {
  return s.replace(/[\0"'&<>]/g, (c) => {
    switch (c) {
      case '\0':
        return '\uFFFD';
      case '"':
        return '&#34;';
      case "'":
        return '&#39;';
      case '&':
        return '&amp;';
      case '<':
        return '&lt;';
      default:
        return '&gt;';
    }
  });
}

function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    switch (ch) {
      case '\\':
        out += '\\\\';
        continue;
      case "'":
        out += "\\'";
        continue;
      case '"':
        out += '\\"';
        continue;
      case '<':
        out += '\\u003C';
        continue;
      case '>':
        out += '\\u003E';
        continue;
      case '&':
        out += '\\u0026';
        continue;
      case '=':
        out += '\\u003D';
        continue;
    }
    if (c < 0x20) {
      out += '\\u00' + c.toString(16).toUpperCase().padStart(2, '0');
    } else if (c >= 0x80 && !/^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u.test(ch)) {
      out += '\\u' + c.toString(16).toUpperCase().padStart(4, '0');
    } else {
      out += ch;
    }
  }
  return out;
}

function urlQueryEscape(s: string): string {
  let out = '';
  for (const b of utf8Bytes(s)) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

function callFn(fn: Val, ...args: Val[]): Val {
  if (fn === undefined || fn === null) throw new FuncError('call of nil');
  if (typeof fn !== 'function') throw new FuncError(`non-function of type ${goTypeName(fn)}`);
  return (fn as TemplateFunc)(...args.map(toCallArg));
}

/** Go strings.Title: upper-case the first letter of each word. */
export function goTitle(s: string): string {
  let prev = ' ';
  let out = '';
  for (const ch of s) {
    out += isTitleSeparator(prev) ? toUpperRune(ch) : ch;
    prev = ch;
  }
  return out;
}

function isTitleSeparator(ch: string): boolean {
  const c = ch.codePointAt(0)!;
  if (c <= 0x7f) {
    if (/[0-9A-Za-z_]/.test(ch)) return false;
    return true;
  }
  if (/^[\p{L}\p{Nd}]$/u.test(ch)) return false;
  return /^\s$/u.test(ch);
}

function toUpperRune(ch: string): string {
  const u = ch.toUpperCase();
  return [...u].length === 1 ? u : ch;
}

function toLowerRune(ch: string): string {
  const l = ch.toLowerCase();
  return [...l].length === 1 ? l : ch;
}

export function goUpper(s: string): string {
  let out = '';
  for (const ch of s) out += toUpperRune(ch);
  return out;
}

export function goLower(s: string): string {
  let out = '';
  for (const ch of s) out += toLowerRune(ch);
  return out;
}

/** Go strings.Split. */
export function goSplit(s: string, sep: string): string[] {
  if (sep === '') return [...s];
  return s.split(sep);
}

/** docker's truncate: the first n bytes when the string is at least n bytes long. */
export function dockerTruncate(s: string, n: number): string {
  const b = utf8Bytes(s);
  if (b.length < n) return s;
  if (n < 0) throw new FuncError(`runtime error: slice bounds out of range [:${n}]`);
  return b.subarray(0, n).toString('utf8');
}

/** docker's pad: spaces around a non-empty string. */
export function dockerPad(s: string, prefix: number, suffix: number): string {
  if (s === '') return s;
  return ' '.repeat(Math.max(prefix, 0)) + s + ' '.repeat(Math.max(suffix, 0));
}

const goBuiltins: Record<string, FuncDef> = {
  and: { params: ['value'], variadic: 'value', fn: () => undefined, special: 'and' },
  or: { params: ['value'], variadic: 'value', fn: () => undefined, special: 'or' },
  not: { params: ['value'], fn: (a: Val) => !truth(a) },
  call: { params: ['value'], variadic: 'value', fn: callFn },
  html: { params: [], variadic: 'any', fn: (...a: Val[]) => htmlEscape(evalArgsString(a)) },
  js: { params: [], variadic: 'any', fn: (...a: Val[]) => jsEscape(evalArgsString(a)) },
  urlquery: { params: [], variadic: 'any', fn: (...a: Val[]) => urlQueryEscape(evalArgsString(a)) },
  index: { params: ['value'], variadic: 'value', fn: index },
  slice: { params: ['value'], variadic: 'value', fn: slice },
  len: { params: ['value'], fn: length },
  print: { params: [], variadic: 'any', fn: sprint },
  printf: { params: ['string'], variadic: 'any', fn: sprintf },
  println: { params: [], variadic: 'any', fn: sprintln },
  eq: { params: ['value'], variadic: 'value', fn: eq },
  ne: { params: ['value', 'value'], fn: (a: Val, b: Val) => !eq(a, b) },
  lt: { params: ['value', 'value'], fn: lt },
  le: { params: ['value', 'value'], fn: le },
  gt: { params: ['value', 'value'], fn: (a: Val, b: Val) => !le(a, b) },
  ge: { params: ['value', 'value'], fn: (a: Val, b: Val) => !lt(a, b) },
};

/** docker/cli templates.basicFunctions. */
const dockerFuncs: Record<string, FuncDef> = {
  json: { params: ['any'], fn: (v: Val) => dockerJSON(v) },
  split: { params: ['string', 'string'], fn: goSplit },
  join: {
    params: ['[]string', 'string'],
    fn: (a: Val, sep: string) => (a === null ? '' : (a as Val[]).map((e) => (typeof e === 'string' ? e : formatV(e))).join(sep)),
  },
  title: { params: ['string'], fn: goTitle },
  lower: { params: ['string'], fn: goLower },
  upper: { params: ['string'], fn: goUpper },
  pad: { params: ['string', 'int', 'int'], fn: dockerPad },
  truncate: { params: ['string', 'int'], fn: dockerTruncate },
};

/**
 * docker/cli templates.HeaderFunctions: used when rendering a table header,
 * so that {{json .X}}, {{upper .X}}... print the header text unchanged. `pad`
 * (and Go's builtins) are not replaced.
 */
export const headerFuncDefs: Record<string, FuncDef> = {
  json: { params: ['string'], fn: (v: string) => v },
  split: { params: ['string', 'string'], fn: (v: string) => v },
  join: { params: ['string', 'string'], fn: (v: string) => v },
  title: { params: ['string'], fn: (v: string) => v },
  lower: { params: ['string'], fn: (v: string) => v },
  upper: { params: ['string'], fn: (v: string) => v },
  truncate: { params: ['string', 'int'], fn: (v: string) => v },
};

function userFunc(fn: TemplateFunc): FuncDef {
  return { params: [], variadic: 'any', fn };
}

/** Values handed to JS functions: GoFloat unwrapped, Go's invalid value as null. */
function toCallArg(v: Val): Val {
  if (v === undefined) return null;
  return unwrapNumber(v);
}

// ---------------------------------------------------------------------------
// Executor

class BreakSignal {}
class ContinueSignal {}
const breakSignal = new BreakSignal();
const continueSignal = new ContinueSignal();

interface Variable {
  name: string;
  value: Val;
}

const MAX_EXEC_DEPTH = 1000;

class State {
  readonly parsed: ParsedTemplates;
  readonly funcs: Map<string, FuncDef>;
  name: string;
  out: string[];
  vars: Variable[];
  node: Node | null = null;
  depth = 0;

  constructor(parsed: ParsedTemplates, funcs: Map<string, FuncDef>, name: string, out: string[], dot: Val) {
    this.parsed = parsed;
    this.funcs = funcs;
    this.name = name;
    this.out = out;
    this.vars = [{ name: '$', value: dot }];
  }

  at(n: Node): void {
    this.node = n;
  }

  errorf(msg: string): never {
    const name = this.name;
    if (this.node === null) throw new TemplateError('exec', `template: ${name}: ${msg}`);
    const text = this.parsed.text;
    const before = text.slice(0, this.node.pos);
    const nl = before.lastIndexOf('\n');
    const col = Buffer.byteLength(before.slice(nl + 1), 'utf8');
    let line = 1;
    for (let i = 0; i < before.length; i++) if (before.charCodeAt(i) === 10) line++;
    throw new TemplateError('exec', `template: :${line}:${col}: executing ${JSON.stringify(name)} at <${nodeString(this.node)}>: ${msg}`);
  }

  // -- variables
  mark(): number {
    return this.vars.length;
  }
  pop(mark: number): void {
    this.vars.length = mark;
  }
  push(name: string, value: Val): void {
    this.vars.push({ name, value });
  }
  setVar(name: string, value: Val): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      if (this.vars[i].name === name) {
        this.vars[i].value = value;
        return;
      }
    }
    this.errorf(`undefined variable: ${name}`);
  }
  setTopVar(n: number, value: Val): void {
    this.vars[this.vars.length - n].value = value;
  }
  varValue(name: string): Val {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      if (this.vars[i].name === name) return this.vars[i].value;
    }
    this.errorf(`undefined variable: ${name}`);
  }

  // -- walking
  walk(dot: Val, node: Node): void {
    this.at(node);
    switch (node.type) {
      case 'action': {
        const val = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.printValue(node, val);
        return;
      }
      case 'break':
        throw breakSignal;
      case 'continue':
        throw continueSignal;
      case 'if':
      case 'with':
        this.walkIfOrWith(dot, node);
        return;
      case 'list':
        for (const n of node.nodes) this.walk(dot, n);
        return;
      case 'range':
        this.walkRange(dot, node);
        return;
      case 'template':
        this.walkTemplate(dot, node);
        return;
      case 'text':
        this.out.push(node.text);
        return;
      default:
        this.errorf(`unknown node: ${nodeString(node)}`);
    }
  }

  walkIfOrWith(dot: Val, node: BranchNode): void {
    const mark = this.mark();
    try {
      const val = this.evalPipeline(dot, node.pipe);
      if (truth(val)) {
        this.walk(node.type === 'with' ? val : dot, node.list);
      } else if (node.elseList) {
        this.walk(dot, node.elseList);
      }
    } finally {
      this.pop(mark);
    }
  }

  walkRange(dot: Val, r: BranchNode): void {
    this.at(r);
    const outer = this.mark();
    try {
      const val = this.evalPipeline(dot, r.pipe);
      const mark = this.mark();
      const oneIteration = (idx: Val, elem: Val): boolean => {
        if (r.pipe.decl.length > 0) this.setTopVar(1, elem);
        if (r.pipe.decl.length > 1) this.setTopVar(2, idx);
        try {
          this.walk(elem, r.list);
        } catch (e) {
          if (e === continueSignal) return true;
          if (e === breakSignal) return false;
          throw e;
        } finally {
          this.pop(mark);
        }
        return true;
      };
      const v = unwrapNumber(val);
      if (Array.isArray(v)) {
        if (v.length > 0) {
          for (let i = 0; i < v.length; i++) if (!oneIteration(i, v[i])) break;
          return;
        }
      } else if (v instanceof Map || (isPlainObject(v) && !isStructLike(v))) {
        const entries = sortedEntries(v as Map<unknown, unknown>);
        if (entries.length > 0) {
          for (const [k, x] of entries) if (!oneIteration(k, x)) break;
          return;
        }
      } else if ((typeof v === 'number' && Number.isInteger(v) && !(val instanceof GoFloat)) || typeof v === 'bigint') {
        // Go 1.22+: range over an integer.
        if (r.pipe.decl.length > 1) this.errorf(`can't use ${formatV(v)} to iterate over more than one variable`);
        const n = Number(v);
        if (n > 0) {
          for (let i = 0; i < n; i++) if (!oneIteration(i, i)) break;
          return;
        }
      } else if (v === undefined || v === null) {
        // Acts like an empty map.
      } else {
        this.errorf(`range can't iterate over ${formatV(val)}`);
      }
      if (r.elseList) this.walk(dot, r.elseList);
    } finally {
      this.pop(outer);
    }
  }

  walkTemplate(dot: Val, t: TemplateNode): void {
    this.at(t);
    const tree = this.parsed.trees.get(t.name);
    if (tree === undefined) this.errorf(`template ${JSON.stringify(t.name)} not defined`);
    if (this.depth >= MAX_EXEC_DEPTH) this.errorf(`exceeded maximum template depth (${MAX_EXEC_DEPTH})`);
    const newDot = t.pipe ? this.evalPipeline(dot, t.pipe) : undefined;
    const s = new State(this.parsed, this.funcs, t.name, this.out, newDot);
    s.depth = this.depth + 1;
    s.walk(newDot, tree);
  }

  // -- evaluation
  evalPipeline(dot: Val, pipe: PipeNode): Val {
    this.at(pipe);
    let value: Val | typeof MISSING = MISSING;
    for (const cmd of pipe.cmds) value = this.evalCommand(dot, cmd, value);
    for (const v of pipe.decl) {
      if (pipe.isAssign) this.setVar(v.ident[0], value);
      else this.push(v.ident[0], value);
    }
    return value;
  }

  notAFunction(args: Node[], final: Val | typeof MISSING): void {
    if (args.length > 1 || final !== MISSING) this.errorf(`can't give argument to non-function ${nodeString(args[0])}`);
  }

  evalCommand(dot: Val, cmd: CommandNode, final: Val | typeof MISSING): Val {
    const first = cmd.args[0];
    switch (first.type) {
      case 'field':
        return this.evalFieldNode(dot, first, cmd.args, final);
      case 'chain':
        return this.evalChainNode(dot, first, cmd.args, final);
      case 'identifier':
        return this.evalFunction(dot, first, cmd, cmd.args, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first);
      case 'variable':
        return this.evalVariableNode(dot, first, cmd.args, final);
    }
    this.at(first);
    this.notAFunction(cmd.args, final);
    switch (first.type) {
      case 'bool':
        return first.value;
      case 'dot':
        return dot;
      case 'nil':
        this.errorf('nil is not a command');
      case 'number':
        return this.idealConstant(first);
      case 'string':
        return first.text;
    }
    this.errorf(`can't evaluate command ${JSON.stringify(nodeString(first))}`);
  }

  idealConstant(n: NumberNode): Val {
    this.at(n);
    const isHexInt = /^0[xX]/.test(n.text) && !/[pP]/.test(n.text);
    if (n.isFloat && !n.isRune && !isHexInt && /[.eEpP]/.test(n.text)) return new GoFloat(n.floatValue);
    if (n.isInt) return n.intValue;
    this.errorf(`${n.text} overflows int`);
  }

  evalFieldNode(dot: Val, field: FieldNode, args: Node[], final: Val | typeof MISSING): Val {
    this.at(field);
    return this.evalFieldChain(dot, dot, field, field.ident, args, final);
  }

  evalChainNode(dot: Val, chain: ChainNode, args: Node[], final: Val | typeof MISSING): Val {
    this.at(chain);
    if (chain.node.type === 'nil') this.errorf(`indirection through explicit nil in ${nodeString(chain)}`);
    const pipe = this.evalArg(dot, 'any', chain.node, true);
    return this.evalFieldChain(dot, pipe, chain, chain.field, args, final);
  }

  evalVariableNode(dot: Val, v: VariableNode, args: Node[], final: Val | typeof MISSING): Val {
    this.at(v);
    const value = this.varValue(v.ident[0].split('.')[0]);
    const ident = v.ident.length === 1 ? v.ident[0].split('.').slice(1) : v.ident.slice(1);
    if (ident.length === 0) {
      this.notAFunction(args, final);
      return value;
    }
    return this.evalFieldChain(dot, value, v, ident, args, final);
  }

  evalFieldChain(dot: Val, receiver: Val, node: Node, ident: string[], args: Node[], final: Val | typeof MISSING): Val {
    const n = ident.length;
    let fromMap = false;
    for (let i = 0; i < n - 1; i++) {
      const isMap = receiver instanceof Map || (isPlainObject(receiver) && !isStructLike(receiver));
      receiver = this.evalField(dot, ident[i], node, [], MISSING, receiver, fromMap);
      fromMap = isMap;
    }
    return this.evalField(dot, ident[n - 1], node, args, final, receiver, fromMap);
  }

  evalField(
    dot: Val,
    fieldName: string,
    node: Node,
    args: Node[],
    final: Val | typeof MISSING,
    receiver: Val,
    fromMap = false,
  ): Val {
    if (receiver === undefined) return undefined;
    if (receiver === null) this.errorf(`nil pointer evaluating interface {}.${fieldName}`);
    const hasArgs = args.length > 1 || final !== MISSING;
    if (receiver instanceof Map) {
      if (hasArgs) this.errorf(`${fieldName} is not a method but has arguments`);
      return receiver.has(fieldName) ? receiver.get(fieldName) : undefined;
    }
    if (isPlainObject(receiver)) {
      const obj = receiver as Record<string, unknown>;
      const found =
        Object.prototype.hasOwnProperty.call(obj, fieldName) ||
        (fieldName in obj && !(fieldName in Object.prototype));
      if (found) {
        const self = receiverOf(obj);
        const value = Reflect.get(obj, fieldName, self);
        if (typeof value === 'function') {
          return this.evalCall(dot, value as TemplateFunc, self, null, node, fieldName, args, final);
        }
        if (hasArgs) {
          if (isStructLike(obj)) this.errorf(`${fieldName} has arguments but cannot be invoked as function`);
          this.errorf(`${fieldName} is not a method but has arguments`);
        }
        return value;
      }
      if (!isStructLike(obj)) {
        if (hasArgs) this.errorf(`${fieldName} is not a method but has arguments`);
        return undefined;
      }
    }
    // A value read out of a map[string]interface{} has the static type interface {}.
    this.errorf(`can't evaluate field ${fieldName} in type ${fromMap ? 'interface {}' : goTypeName(receiver)}`);
  }

  evalFunction(dot: Val, node: IdentifierNode, cmd: Node, args: Node[], final: Val | typeof MISSING): Val {
    this.at(node);
    const name = node.ident;
    const def = this.funcs.get(name);
    if (def === undefined) this.errorf(`${JSON.stringify(name)} is not a defined function`);
    return this.evalCall(dot, def.fn, undefined, def, cmd, name, args, final);
  }

  /**
   * Call a function (def given: builtin/registered with a signature) or a
   * method (def null: a function-valued property; arity from fn.length).
   */
  evalCall(
    dot: Val,
    fn: TemplateFunc,
    receiver: unknown,
    def: FuncDef | null,
    node: Node,
    name: string,
    argNodes: Node[],
    final: Val | typeof MISSING,
  ): Val {
    const args = argNodes.slice(1);
    const numIn = args.length + (final !== MISSING ? 1 : 0);
    let params: ParamType[];
    let variadic: ParamType | undefined;
    if (def) {
      params = def.params;
      variadic = def.variadic;
    } else {
      const variadicMethod = (fn as { variadic?: boolean }).variadic === true;
      params = new Array<ParamType>(variadicMethod ? 0 : fn.length).fill('any');
      variadic = variadicMethod ? 'any' : undefined;
    }
    if (variadic !== undefined) {
      if (numIn < params.length) this.errorf(`wrong number of args for ${name}: want at least ${params.length} got ${args.length}`);
    } else if (numIn !== params.length) {
      this.errorf(`wrong number of args for ${name}: want ${params.length} got ${numIn}`);
    }
    const paramAt = (i: number): ParamType => (i < params.length ? params[i] : variadic!);

    if (def?.special === 'and' || def?.special === 'or') {
      let v: Val = undefined;
      for (const a of args) {
        v = this.evalArg(dot, 'value', a);
        if (truth(v) === (def.special === 'or')) return v;
      }
      if (final !== MISSING) v = final;
      return v;
    }

    const argv: Val[] = [];
    for (let i = 0; i < args.length; i++) argv.push(this.evalArg(dot, paramAt(i), args[i]));
    if (final !== MISSING) argv.push(this.validateType(final, paramAt(args.length)));
    let result: Val;
    try {
      const callArgs = def && isBuiltinImpl(def) ? argv : argv.map(toCallArg);
      result = fn.apply(receiver, callArgs);
    } catch (e) {
      this.at(node);
      const msg = e instanceof Error ? e.message : String(e);
      this.errorf(`error calling ${name}: ${msg}`);
    }
    return result;
  }

  validateType(value: Val, type: ParamType): Val {
    if (value === undefined) {
      if (type === 'value') return undefined;
      if (type === 'any' || type === '[]string') return null;
      this.errorf(`invalid value; expected ${goParamType[type]}`);
    }
    switch (type) {
      case 'any':
      case 'value':
        return value;
      case 'string':
        if (typeof value === 'string') return value;
        break;
      case 'int': {
        const v = unwrapNumber(value);
        if (typeof v === 'number' && Number.isInteger(v) && !(value instanceof GoFloat)) return v;
        if (typeof v === 'bigint') return Number(v);
        break;
      }
      case 'bool':
        if (typeof value === 'boolean') return value;
        break;
      case '[]string':
        if (value === null || Array.isArray(value)) return value;
        break;
    }
    this.errorf(`wrong type for value; expected ${goParamType[type]}; got ${goTypeName(value)}`);
  }

  evalArg(dot: Val, type: ParamType, n: Node, asInterface = false): Val {
    this.at(n);
    switch (n.type) {
      case 'dot':
        return this.validateType(dot, type);
      case 'nil':
        if (type === 'value') return undefined;
        if (type === 'any' || type === '[]string') {
          if (asInterface) this.errorf('evalEmptyInterface: nil (can\'t happen)');
          return null;
        }
        this.errorf(`cannot assign nil to ${goParamType[type]}`);
      case 'field':
        return this.validateType(this.evalFieldNode(dot, n, [n], MISSING), type);
      case 'variable':
        return this.validateType(this.evalVariableNode(dot, n, [], MISSING), type);
      case 'pipe':
        return this.validateType(this.evalPipeline(dot, n), type);
      case 'identifier':
        return this.validateType(this.evalFunction(dot, n, n, [n], MISSING), type);
      case 'chain':
        return this.validateType(this.evalChainNode(dot, n, [], MISSING), type);
    }
    switch (type) {
      case 'bool':
        if (n.type === 'bool') return n.value;
        this.errorf(`expected bool; found ${nodeString(n)}`);
      case 'int':
        if (n.type === 'number' && n.isInt) return typeof n.intValue === 'bigint' ? Number(n.intValue) : n.intValue;
        this.errorf(`expected integer; found ${nodeString(n)}`);
      case 'string':
        if (n.type === 'string') return n.text;
        this.errorf(`expected string; found ${nodeString(n)}`);
      case '[]string':
        this.errorf(`can't handle ${nodeString(n)} for arg of type []string`);
      case 'any':
      case 'value':
        switch (n.type) {
          case 'bool':
            return n.value;
          case 'number':
            return this.idealConstant(n);
          case 'string':
            return n.text;
        }
    }
    this.errorf(`can't handle assignment of ${nodeString(n)} to empty interface argument`);
  }

  printValue(n: Node, v: Val): void {
    this.at(n);
    if (v === undefined) {
      this.out.push('<no value>');
      return;
    }
    if (typeof v === 'function') this.errorf(`can't print ${nodeString(n)} of type ${goTypeName(v)}`);
    this.out.push(formatV(v));
  }
}

const builtinImpls = new Set<TemplateFunc>();
for (const d of [...Object.values(goBuiltins), ...Object.values(dockerFuncs), ...Object.values(headerFuncDefs)]) builtinImpls.add(d.fn);
function isBuiltinImpl(def: FuncDef): boolean {
  return builtinImpls.has(def.fn);
}

// ---------------------------------------------------------------------------
// Public API

export interface ExecuteResult {
  output: string;
  error?: TemplateError;
}

export class Template {
  readonly source: string;
  private readonly parsed: ParsedTemplates;
  private readonly funcs: Map<string, FuncDef>;

  /** Use parseTemplate(). */
  constructor(source: string, parsed: ParsedTemplates, funcs: Map<string, FuncDef>) {
    this.source = source;
    this.parsed = parsed;
    this.funcs = funcs;
  }

  /** Render with `data` as dot; throws TemplateError (Go's message) on failure. */
  execute(data: unknown): string {
    const r = this.executePartial(data);
    if (r.error) throw r.error;
    return r.output;
  }

  /** Render, returning the output produced before any error (as Go's Execute leaves it in the writer). */
  executePartial(data: unknown): ExecuteResult {
    const out: string[] = [];
    const s = new State(this.parsed, this.funcs, '', out, data);
    const root = this.parsed.trees.get('');
    try {
      if (root) s.walk(data, root);
      return { output: out.join('') };
    } catch (e) {
      if (e instanceof TemplateError) return { output: out.join(''), error: e };
      if (e === breakSignal || e === continueSignal) return { output: out.join('') };
      throw e;
    }
  }

  /** A copy of this template whose functions are replaced/extended (Go's tmpl.Funcs after parsing). */
  withFuncs(funcs: Record<string, TemplateFunc>): Template {
    const m = new Map(this.funcs);
    for (const [k, fn] of Object.entries(funcs)) m.set(k, userFunc(fn));
    return new Template(this.source, this.parsed, m);
  }

  /** A copy using docker's table-header functions (templates.HeaderFunctions). */
  withHeaderFuncs(): Template {
    const m = new Map(this.funcs);
    for (const [k, d] of Object.entries(headerFuncDefs)) m.set(k, d);
    return new Template(this.source, this.parsed, m);
  }

  /** Names of templates defined with {{define}} / {{block}} ("" is the main one). */
  templateNames(): string[] {
    return [...this.parsed.trees.keys()];
  }
}

/**
 * Parse a Go text/template with Go's builtins and docker's template functions
 * (json, split, join, title, lower, upper, pad, truncate). Extra `funcs` are
 * added (or override) and are called with plain JS values.
 * Throws TemplateError with Go's message, e.g. `template: :1: unclosed action`.
 */
export function parseTemplate(src: string, funcs?: Record<string, TemplateFunc>): Template {
  const m = new Map<string, FuncDef>();
  for (const [k, d] of Object.entries(goBuiltins)) m.set(k, d);
  for (const [k, d] of Object.entries(dockerFuncs)) m.set(k, d);
  if (funcs) for (const [k, fn] of Object.entries(funcs)) m.set(k, userFunc(fn));
  const parsed = parseTrees(src, (name) => m.has(name));
  return new Template(src, parsed, m);
}

export type { ListNode };
