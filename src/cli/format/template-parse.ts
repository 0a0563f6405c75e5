// Lexer and parser for Go's text/template syntax (as of Go 1.23/1.24, the
// version docker 28 is built with). Written from the documented behaviour of
// text/template; error texts follow Go's.

import { quoteString } from './go-fmt.ts';

// ---------------------------------------------------------------------------
// Errors

export class TemplateError extends Error {
  readonly kind: 'parse' | 'exec';
  constructor(kind: 'parse' | 'exec', message: string) {
    super(message);
    this.name = 'TemplateError';
    this.kind = kind;
  }
}

// ---------------------------------------------------------------------------
// Lexer

type ItemType =
  | 'error'
  | 'bool'
  | 'char'
  | 'charConstant'
  | 'complex'
  | 'assign'
  | 'declare'
  | 'eof'
  | 'field'
  | 'identifier'
  | 'leftDelim'
  | 'leftParen'
  | 'number'
  | 'pipe'
  | 'rawString'
  | 'rightDelim'
  | 'rightParen'
  | 'space'
  | 'string'
  | 'text'
  | 'variable'
  // keywords
  | 'block'
  | 'break'
  | 'continue'
  | 'dot'
  | 'define'
  | 'else'
  | 'end'
  | 'if'
  | 'nil'
  | 'range'
  | 'template'
  | 'with';

const keywords: Record<string, ItemType> = {
  '.': 'dot',
  block: 'block',
  break: 'break',
  continue: 'continue',
  define: 'define',
  else: 'else',
  end: 'end',
  if: 'if',
  range: 'range',
  nil: 'nil',
  template: 'template',
  with: 'with',
};
const keywordTypes = new Set<ItemType>(Object.values(keywords));

interface Item {
  type: ItemType;
  pos: number; // UTF-16 offset into the source
  val: string;
  line: number;
}

function itemString(it: Item): string {
  if (it.type === 'eof') return 'EOF';
  if (it.type === 'error') return it.val;
  if (keywordTypes.has(it.type)) return `<${it.val}>`;
  const runes = [...it.val];
  if (runes.length > 10) return quoteString(runes.slice(0, 10).join('')) + '...';
  return quoteString(it.val);
}

const isSpace = (c: string | undefined) => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const alnumRe = /^[\p{L}\p{Nd}_]$/u;
const isAlphaNumeric = (c: string | undefined) => c !== undefined && alnumRe.test(c);

/** Go's %#U of a rune. */
function runeU(c: string): string {
  const r = c.codePointAt(0)!;
  let s = 'U+' + r.toString(16).toUpperCase().padStart(4, '0');
  if (/^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u.test(c)) s += " '" + c + "'";
  return s;
}

function lex(src: string): Item[] {
  const items: Item[] = [];
  let pos = 0;
  let start = 0;
  let parenDepth = 0;
  let lineCache = 0;
  let lineCachePos = 0;
  const lineAt = (p: number): number => {
    // Lines counted incrementally (positions are mostly increasing).
    if (p < lineCachePos) {
      lineCache = 0;
      lineCachePos = 0;
    }
    for (let i = lineCachePos; i < p; i++) if (src.charCodeAt(i) === 10) lineCache++;
    lineCachePos = p;
    return lineCache + 1;
  };
  const emit = (type: ItemType) => {
    items.push({ type, pos: start, val: src.slice(start, pos), line: lineAt(start) });
    start = pos;
  };
  const error = (msg: string): false => {
    items.push({ type: 'error', pos: start, val: msg, line: lineAt(start) });
    return false;
  };
  const charAt = (p: number): string | undefined => {
    if (p >= src.length) return undefined;
    const cp = src.codePointAt(p)!;
    return String.fromCodePoint(cp);
  };
  const hasLeftTrimMarker = (p: number) => src[p] === '-' && isSpace(src[p + 1]);
  const hasRightTrimMarker = (p: number) => isSpace(src[p]) && src[p + 1] === '-';
  const atRightDelim = (p: number): [boolean, boolean] => {
    if (hasRightTrimMarker(p) && src.startsWith('}}', p + 2)) return [true, true];
    if (src.startsWith('}}', p)) return [true, false];
    return [false, false];
  };
  const leftTrimLength = (p: number) => {
    let n = 0;
    while (isSpace(src[p + n])) n++;
    return n;
  };
  const atTerminator = (p: number): boolean => {
    const c = src[p];
    if (c === undefined || isSpace(c)) return true;
    if ('.,|:)('.includes(c)) return true;
    return src.startsWith('}}', p);
  };

  // Returns false when lexing must stop (error or EOF emitted).
  const lexText = (): 'leftDelim' | false => {
    const x = src.indexOf('{{', pos);
    if (x >= 0) {
      let trimLength = 0;
      if (hasLeftTrimMarker(x + 2)) {
        let e = x;
        while (e > start && isSpace(src[e - 1])) e--;
        trimLength = x - e;
      }
      pos = x - trimLength;
      if (pos > start) emit('text');
      pos = x;
      start = pos;
      return 'leftDelim';
    }
    pos = src.length;
    if (pos > start) emit('text');
    emit('eof');
    return false;
  };

  const lexComment = (): boolean => {
    pos += 2;
    const i = src.indexOf('*/', pos);
    if (i < 0) return error('unclosed comment');
    pos = i + 2;
    const [delim, trimSpace] = atRightDelim(pos);
    if (!delim) return error('comment ends before closing delimiter');
    if (trimSpace) pos += 2;
    pos += 2;
    if (trimSpace) pos += leftTrimLength(pos);
    start = pos;
    return true;
  };

  const scanNumber = (): boolean => {
    const accept = (valid: string) => {
      if (pos < src.length && valid.includes(src[pos])) {
        pos++;
        return true;
      }
      return false;
    };
    const acceptRun = (valid: string) => {
      while (pos < src.length && valid.includes(src[pos])) pos++;
    };
    accept('+-');
    let digits = '0123456789_';
    if (accept('0')) {
      if (accept('xX')) digits = '0123456789abcdefABCDEF_';
      else if (accept('oO')) digits = '01234567_';
      else if (accept('bB')) digits = '01_';
    }
    acceptRun(digits);
    if (accept('.')) acceptRun(digits);
    if (digits.length === 11 && accept('eE')) {
      accept('+-');
      acceptRun('0123456789_');
    }
    if (digits.length === 23 && accept('pP')) {
      accept('+-');
      acceptRun('0123456789_');
    }
    accept('i');
    if (isAlphaNumeric(charAt(pos))) {
      pos += charAt(pos)!.length;
      return false;
    }
    return true;
  };

  const lexInsideAction = (): 'rightDelim' | boolean => {
    for (;;) {
      const [delim] = atRightDelim(pos);
      if (delim) {
        if (parenDepth === 0) return 'rightDelim';
        return error('unclosed left paren');
      }
      const r = charAt(pos);
      if (r === undefined) return error('unclosed action');
      pos += r.length;
      if (isSpace(r)) {
        // lexSpace
        pos -= r.length;
        let numSpaces = 0;
        while (isSpace(src[pos])) {
          pos++;
          numSpaces++;
        }
        if (hasRightTrimMarker(pos - 1) && src.startsWith('}}', pos + 1)) {
          pos--;
          if (numSpaces === 1) return 'rightDelim';
        }
        emit('space');
        continue;
      }
      switch (r) {
        case '=':
          emit('assign');
          continue;
        case ':':
          if (src[pos] !== '=') return error('expected :=');
          pos++;
          emit('declare');
          continue;
        case '|':
          emit('pipe');
          continue;
        case '"': {
          for (;;) {
            const c = src[pos++];
            if (c === '\\') {
              const d = src[pos];
              if (d !== undefined && d !== '\n') {
                pos++;
                continue;
              }
              return error('unterminated quoted string');
            }
            if (c === undefined || c === '\n') return error('unterminated quoted string');
            if (c === '"') break;
          }
          emit('string');
          continue;
        }
        case '`': {
          const close = src.indexOf('`', pos);
          if (close < 0) return error('unterminated raw quoted string');
          pos = close + 1;
          emit('rawString');
          continue;
        }
        case "'": {
          for (;;) {
            const c = src[pos++];
            if (c === '\\') {
              const d = src[pos];
              if (d !== undefined && d !== '\n') {
                pos++;
                continue;
              }
              return error('unterminated character constant');
            }
            if (c === undefined || c === '\n') return error('unterminated character constant');
            if (c === "'") break;
          }
          emit('charConstant');
          continue;
        }
        case '$':
        case '.': {
          const type: ItemType = r === '$' ? 'variable' : 'field';
          if (r === '.' && pos < src.length && src[pos] >= '0' && src[pos] <= '9') {
            pos--;
            if (!scanNumber()) return error(`bad number syntax: ${quoteString(src.slice(start, pos))}`);
            emit('number');
            continue;
          }
          if (atTerminator(pos)) {
            emit(type === 'variable' ? 'variable' : 'dot');
            continue;
          }
          let c = charAt(pos);
          while (isAlphaNumeric(c)) {
            pos += c!.length;
            c = charAt(pos);
          }
          if (!atTerminator(pos)) return error(`bad character ${runeU(c!)}`);
          emit(type);
          continue;
        }
        case '(':
          emit('leftParen');
          parenDepth++;
          continue;
        case ')':
          emit('rightParen');
          parenDepth--;
          if (parenDepth < 0) return error(`unexpected right paren ${runeU(r)}`);
          continue;
      }
      if (r === '+' || r === '-' || (r >= '0' && r <= '9')) {
        pos -= r.length;
        if (!scanNumber()) return error(`bad number syntax: ${quoteString(src.slice(start, pos))}`);
        const sign = src[pos];
        if (sign === '+' || sign === '-') {
          if (!scanNumber() || src[pos - 1] !== 'i') return error(`bad number syntax: ${quoteString(src.slice(start, pos))}`);
          emit('complex');
        } else {
          emit('number');
        }
        continue;
      }
      if (isAlphaNumeric(r)) {
        let c = charAt(pos);
        while (isAlphaNumeric(c)) {
          pos += c!.length;
          c = charAt(pos);
        }
        const word = src.slice(start, pos);
        if (!atTerminator(pos)) return error(`bad character ${runeU(c!)}`);
        const kw = keywords[word];
        if (kw !== undefined && kw !== 'dot') emit(kw);
        else if (word === 'true' || word === 'false') emit('bool');
        else emit('identifier');
        continue;
      }
      if (r.codePointAt(0)! < 0x7f && r.codePointAt(0)! >= 0x20) {
        emit('char');
        continue;
      }
      return error(`unrecognized character in action: ${runeU(r)}`);
    }
  };

  for (;;) {
    if (lexText() === false) break;
    // lexLeftDelim
    pos += 2;
    const trim = hasLeftTrimMarker(pos);
    const after = trim ? 2 : 0;
    if (src.startsWith('/*', pos + after)) {
      pos += after;
      start = pos;
      if (!lexComment()) break;
      continue;
    }
    emit('leftDelim');
    pos += after;
    start = pos;
    parenDepth = 0;
    const r = lexInsideAction();
    if (r !== 'rightDelim') break;
    // lexRightDelim
    const trimSpace = hasRightTrimMarker(pos);
    if (trimSpace) {
      pos += 2;
      start = pos;
    }
    pos += 2;
    emit('rightDelim');
    if (trimSpace) {
      pos += leftTrimLength(pos);
      start = pos;
    }
  }
  return items;
}

// ---------------------------------------------------------------------------
// Nodes

export type Node =
  | ListNode
  | TextNode
  | ActionNode
  | PipeNode
  | CommandNode
  | FieldNode
  | VariableNode
  | ChainNode
  | IdentifierNode
  | DotNode
  | NilNode
  | BoolNode
  | NumberNode
  | StringNode
  | BranchNode
  | TemplateNode
  | BreakNode
  | ContinueNode
  | EndNode
  | ElseNode;

export interface ListNode {
  type: 'list';
  pos: number;
  nodes: Node[];
}
export interface TextNode {
  type: 'text';
  pos: number;
  text: string;
}
export interface ActionNode {
  type: 'action';
  pos: number;
  pipe: PipeNode;
}
export interface PipeNode {
  type: 'pipe';
  pos: number;
  isAssign: boolean;
  decl: VariableNode[];
  cmds: CommandNode[];
}
export interface CommandNode {
  type: 'command';
  pos: number;
  args: Node[];
}
export interface FieldNode {
  type: 'field';
  pos: number;
  ident: string[];
}
export interface VariableNode {
  type: 'variable';
  pos: number;
  ident: string[];
}
export interface ChainNode {
  type: 'chain';
  pos: number;
  node: Node;
  field: string[];
}
export interface IdentifierNode {
  type: 'identifier';
  pos: number;
  ident: string;
}
export interface DotNode {
  type: 'dot';
  pos: number;
}
export interface NilNode {
  type: 'nil';
  pos: number;
}
export interface BoolNode {
  type: 'bool';
  pos: number;
  value: boolean;
}
export interface NumberNode {
  type: 'number';
  pos: number;
  text: string;
  isInt: boolean;
  isFloat: boolean;
  isComplex: boolean;
  intValue: number | bigint;
  floatValue: number;
  isRune: boolean;
}
export interface StringNode {
  type: 'string';
  pos: number;
  quoted: string;
  text: string;
}
export interface BranchNode {
  type: 'if' | 'range' | 'with';
  pos: number;
  pipe: PipeNode;
  list: ListNode;
  elseList: ListNode | null;
}
export interface TemplateNode {
  type: 'template';
  pos: number;
  name: string;
  pipe: PipeNode | null;
}
export interface BreakNode {
  type: 'break';
  pos: number;
}
export interface ContinueNode {
  type: 'continue';
  pos: number;
}
export interface EndNode {
  type: 'end';
  pos: number;
}
export interface ElseNode {
  type: 'else';
  pos: number;
}

/** Go's Node.String(): the source-like rendering used in error messages. */
export function nodeString(n: Node): string {
  switch (n.type) {
    case 'list':
      return n.nodes.map(nodeString).join('');
    case 'text':
      return n.text;
    case 'action':
      return '{{' + nodeString(n.pipe) + '}}';
    case 'pipe': {
      let s = '';
      if (n.decl.length > 0) {
        s = n.decl.map(nodeString).join(', ') + (n.isAssign ? ' = ' : ' := ');
      }
      return s + n.cmds.map(nodeString).join(' | ');
    }
    case 'command':
      return n.args.map((a) => (a.type === 'pipe' ? '(' + nodeString(a) + ')' : nodeString(a))).join(' ');
    case 'field':
      return n.ident.map((x) => '.' + x).join('');
    case 'variable':
      return n.ident.join('.');
    case 'chain': {
      const base = n.node.type === 'pipe' ? '(' + nodeString(n.node) + ')' : nodeString(n.node);
      return base + n.field.map((x) => '.' + x).join('');
    }
    case 'identifier':
      return n.ident;
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'bool':
      return n.value ? 'true' : 'false';
    case 'number':
      return n.text;
    case 'string':
      return n.quoted;
    case 'if':
    case 'range':
    case 'with': {
      let s = `{{${n.type} ${nodeString(n.pipe)}}}${nodeString(n.list)}`;
      if (n.elseList) s += '{{else}}' + nodeString(n.elseList);
      return s + '{{end}}';
    }
    case 'template':
      return n.pipe ? `{{template ${quoteString(n.name)} ${nodeString(n.pipe)}}}` : `{{template ${quoteString(n.name)}}}`;
    case 'break':
      return '{{break}}';
    case 'continue':
      return '{{continue}}';
    case 'end':
      return '{{end}}';
    case 'else':
      return '{{else}}';
  }
}

// ---------------------------------------------------------------------------
// Go literal unquoting (strconv.Unquote)

function unquoteEscapes(body: string, quote: string): string | null {
  let out = '';
  for (let i = 0; i < body.length; ) {
    const c = body[i];
    if (c === quote) return null;
    if (c === '\n') return null;
    if (c !== '\\') {
      out += c;
      i++;
      continue;
    }
    const e = body[i + 1];
    i += 2;
    switch (e) {
      case 'a':
        out += '\x07';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'v':
        out += '\v';
        break;
      case '\\':
        out += '\\';
        break;
      case "'":
      case '"':
        if (e !== quote) return null;
        out += e;
        break;
      case 'x':
      case 'u':
      case 'U': {
        const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
        const h = body.slice(i, i + n);
        if (h.length !== n || !/^[0-9a-fA-F]+$/.test(h)) return null;
        i += n;
        const v = parseInt(h, 16);
        if (e === 'x') {
          // A byte; only meaningful for ASCII in a JS string.
          out += v < 0x80 ? String.fromCharCode(v) : Buffer.from([v]).toString('latin1');
        } else {
          if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return null;
          out += String.fromCodePoint(v);
        }
        break;
      }
      default: {
        if (e !== undefined && e >= '0' && e <= '7') {
          const o = body.slice(i - 1, i + 2);
          if (!/^[0-7]{3}$/.test(o)) return null;
          const v = parseInt(o, 8);
          if (v > 255) return null;
          i += 2;
          out += String.fromCharCode(v);
          break;
        }
        return null;
      }
    }
  }
  return out;
}

function unquote(s: string): string | null {
  if (s.length < 2) return null;
  const q = s[0];
  if (q !== s[s.length - 1]) return null;
  const body = s.slice(1, -1);
  if (q === '`') {
    if (body.includes('`')) return null;
    return body.replace(/\r/g, '');
  }
  if (q === '"') return unquoteEscapes(body, '"');
  if (q === "'") {
    const v = unquoteEscapes(body, "'");
    if (v === null || [...v].length !== 1) return null;
    return v;
  }
  return null;
}

/** strconv.ParseInt(s, 0, 64)-like; returns null on syntax error, 'range' on overflow. */
function parseGoInt(text: string): bigint | null | 'range' {
  let s = text;
  let neg = false;
  if (s[0] === '+' || s[0] === '-') {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  let base = 10;
  let digits = s;
  if (/^0[xX]/.test(s)) {
    base = 16;
    digits = s.slice(2);
  } else if (/^0[bB]/.test(s)) {
    base = 2;
    digits = s.slice(2);
  } else if (/^0[oO]/.test(s)) {
    base = 8;
    digits = s.slice(2);
  } else if (/^0./.test(s)) {
    base = 8;
    digits = s.slice(1);
  }
  // Underscores: only between digits, or between the base prefix and a digit.
  if (digits.includes('_')) {
    const prefixed = s.length > digits.length;
    if (!/^_?[^_]+(_[^_]+)*$/.test(digits) || (!prefixed && digits.startsWith('_'))) return null;
    digits = digits.replace(/_/g, '');
  }
  if (digits === '') return null;
  const valid = base === 16 ? /^[0-9a-fA-F]+$/ : base === 10 ? /^[0-9]+$/ : base === 8 ? /^[0-7]+$/ : /^[01]+$/;
  if (!valid.test(digits)) return null;
  const prefix = base === 16 ? '0x' : base === 8 ? '0o' : base === 2 ? '0b' : '';
  let v = BigInt(prefix + digits);
  if (neg) v = -v;
  if (v > 0x7fffffffffffffffn || v < -0x8000000000000000n) return 'range';
  return v;
}

function parseGoFloatLiteral(text: string): number | null {
  const s = text.replace(/_/g, '');
  if (/^[+-]?0[xX]/.test(text)) {
    const m = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?[pP]([+-]?\d+)$/.exec(s);
    if (!m || (m[2] === '' && (m[3] ?? '') === '')) return null;
    let mant = 0;
    for (const c of m[2] + (m[3] ?? '')) mant = mant * 16 + parseInt(c, 16);
    const v = mant * 2 ** (Number(m[4]) - 4 * (m[3] ?? '').length);
    return m[1] === '-' ? -v : v;
  }
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return null;
  return Number(s);
}

function toSafeNumber(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

// ---------------------------------------------------------------------------
// Parser

export interface ParsedTemplates {
  /** Trees by template name; the main template is "". */
  trees: Map<string, ListNode>;
  text: string;
}

class Parser {
  readonly text: string;
  readonly items: Item[];
  idx = 0;
  furthest = 0;
  vars: string[] = ['$'];
  rangeDepth = 0;
  actionLine = 0;
  readonly hasFunction: (name: string) => boolean;
  readonly trees: Map<string, ListNode>;

  constructor(text: string, hasFunction: (name: string) => boolean, trees: Map<string, ListNode>) {
    this.text = text;
    this.items = lex(text);
    this.hasFunction = hasFunction;
    this.trees = trees;
  }

  // -- token stream
  next(): Item {
    const it = this.items[Math.min(this.idx, this.items.length - 1)];
    this.idx++;
    if (this.idx - 1 > this.furthest) this.furthest = this.idx - 1;
    return it;
  }
  backup(n = 1): void {
    this.idx -= n;
  }
  peek(): Item {
    const it = this.next();
    this.backup();
    return it;
  }
  nextNonSpace(): Item {
    let it: Item;
    do it = this.next();
    while (it.type === 'space');
    return it;
  }
  peekNonSpace(): Item {
    const it = this.nextNonSpace();
    this.backup();
    return it;
  }

  errorf(msg: string): never {
    const it = this.items[Math.min(this.furthest, this.items.length - 1)];
    throw new TemplateError('parse', `template: :${it.line}: ${msg}`);
  }
  expect(type: ItemType, context: string): Item {
    const it = this.nextNonSpace();
    if (it.type !== type) this.unexpected(it, context);
    return it;
  }
  unexpected(it: Item, context: string): never {
    if (it.type === 'error') {
      let extra = '';
      if (this.actionLine !== 0 && this.actionLine !== it.line) {
        extra = ` in action started at :${this.actionLine}`;
        if (it.val.endsWith(' action')) extra = extra.slice(' in action'.length);
      }
      this.errorf(it.val + extra);
    }
    this.errorf(`unexpected ${itemString(it)} in ${context}`);
  }

  // -- grammar
  parse(): ListNode {
    const root: ListNode = { type: 'list', pos: this.peek().pos, nodes: [] };
    while (this.peek().type !== 'eof') {
      if (this.peek().type === 'leftDelim') {
        const save = this.idx;
        this.next();
        if (this.nextNonSpace().type === 'define') {
          this.parseDefinition();
          continue;
        }
        this.idx = save;
      }
      const n = this.textOrAction();
      if (n.type === 'end' || n.type === 'else') this.errorf(`unexpected ${nodeString(n)}`);
      root.nodes.push(n);
    }
    return root;
  }

  addTree(name: string, root: ListNode): void {
    const existing = this.trees.get(name);
    if (existing === undefined || isEmptyTree(existing)) {
      this.trees.set(name, root);
      return;
    }
    if (!isEmptyTree(root)) this.errorf(`template: multiple definition of template ${quoteString(name)}`);
  }

  parseDefinition(): void {
    const context = 'define clause';
    const tok = this.nextNonSpace();
    if (tok.type !== 'string' && tok.type !== 'rawString') this.unexpected(tok, context);
    const name = unquote(tok.val);
    if (name === null) this.errorf('invalid syntax');
    this.expect('rightDelim', context);
    const savedVars = this.vars;
    this.vars = ['$'];
    const [list, end] = this.itemList();
    if (end.type !== 'end') this.errorf(`unexpected ${nodeString(end)} in ${context}`);
    this.vars = savedVars;
    this.addTree(name, list);
  }

  itemList(): [ListNode, Node] {
    const list: ListNode = { type: 'list', pos: this.peekNonSpace().pos, nodes: [] };
    while (this.peekNonSpace().type !== 'eof') {
      const n = this.textOrAction();
      if (n.type === 'end' || n.type === 'else') return [list, n];
      list.nodes.push(n);
    }
    this.errorf('unexpected EOF');
  }

  textOrAction(): Node {
    const tok = this.nextNonSpace();
    switch (tok.type) {
      case 'text':
        return { type: 'text', pos: tok.pos, text: tok.val };
      case 'leftDelim': {
        this.actionLine = tok.line;
        try {
          return this.action();
        } finally {
          this.actionLine = 0;
        }
      }
      default:
        this.unexpected(tok, 'input');
    }
  }

  action(): Node {
    const tok = this.nextNonSpace();
    switch (tok.type) {
      case 'block':
        return this.blockControl();
      case 'break':
      case 'continue': {
        const t2 = this.nextNonSpace();
        if (t2.type !== 'rightDelim') this.unexpected(t2, `{{${tok.type}}}`);
        if (this.rangeDepth === 0) this.errorf(`{{${tok.type}}} outside {{range}}`);
        return { type: tok.type, pos: tok.pos };
      }
      case 'else':
        return this.elseControl();
      case 'end':
        return { type: 'end', pos: this.expect('rightDelim', 'end').pos };
      case 'if':
      case 'range':
      case 'with':
        return this.branchControl(tok.type);
      case 'template':
        return this.templateControl();
    }
    this.backup();
    const t = this.peek();
    return { type: 'action', pos: t.pos, pipe: this.pipeline('command', 'rightDelim') };
  }

  elseControl(): Node {
    const peek = this.peekNonSpace();
    if (peek.type === 'if' || peek.type === 'with') return { type: 'else', pos: peek.pos };
    const tok = this.expect('rightDelim', 'else');
    return { type: 'else', pos: tok.pos };
  }

  branchControl(context: 'if' | 'range' | 'with'): BranchNode {
    const savedVars = this.vars.length;
    try {
      const pipe = this.pipeline(context, 'rightDelim');
      if (context === 'range') this.rangeDepth++;
      let list: ListNode;
      let next: Node;
      try {
        [list, next] = this.itemList();
      } finally {
        if (context === 'range') this.rangeDepth--;
      }
      let elseList: ListNode | null = null;
      if (next.type === 'else') {
        if ((context === 'if' && this.peek().type === 'if') || (context === 'with' && this.peek().type === 'with')) {
          this.next();
          elseList = { type: 'list', pos: next.pos, nodes: [this.branchControl(context)] };
        } else {
          let end: Node;
          [elseList, end] = this.itemList();
          if (end.type !== 'end') this.errorf(`expected end; found ${nodeString(end)}`);
        }
      }
      return { type: context, pos: pipe.pos, pipe, list, elseList };
    } finally {
      this.vars.length = savedVars;
    }
  }

  parseTemplateName(tok: Item, context: string): string {
    if (tok.type === 'string' || tok.type === 'rawString') {
      const s = unquote(tok.val);
      if (s === null) this.errorf('invalid syntax');
      return s;
    }
    this.unexpected(tok, context);
  }

  templateControl(): TemplateNode {
    const context = 'template clause';
    const tok = this.nextNonSpace();
    const name = this.parseTemplateName(tok, context);
    let pipe: PipeNode | null = null;
    if (this.nextNonSpace().type !== 'rightDelim') {
      this.backup();
      pipe = this.pipeline(context, 'rightDelim');
    }
    return { type: 'template', pos: tok.pos, name, pipe };
  }

  blockControl(): TemplateNode {
    const context = 'block clause';
    const tok = this.nextNonSpace();
    const name = this.parseTemplateName(tok, context);
    const pipe = this.pipeline(context, 'rightDelim');
    const savedVars = this.vars;
    this.vars = ['$'];
    const [list, end] = this.itemList();
    if (end.type !== 'end') this.errorf(`unexpected ${nodeString(end)} in ${context}`);
    this.vars = savedVars;
    this.addTree(name, list);
    return { type: 'template', pos: tok.pos, name, pipe };
  }

  pipeline(context: string, end: ItemType): PipeNode {
    const tok = this.peekNonSpace();
    const pipe: PipeNode = { type: 'pipe', pos: tok.pos, isAssign: false, decl: [], cmds: [] };
    decls: for (;;) {
      const v = this.peekNonSpace();
      if (v.type !== 'variable') break;
      const save = this.idx;
      this.next();
      const next = this.peekNonSpace();
      if (next.type === 'assign' || next.type === 'declare') {
        pipe.isAssign = next.type === 'assign';
        this.nextNonSpace();
        pipe.decl.push({ type: 'variable', pos: v.pos, ident: [v.val] });
        this.vars.push(v.val);
        break;
      } else if (next.type === 'char' && next.val === ',') {
        this.nextNonSpace();
        pipe.decl.push({ type: 'variable', pos: v.pos, ident: [v.val] });
        this.vars.push(v.val);
        if (context === 'range' && pipe.decl.length < 2) {
          const p = this.peekNonSpace().type;
          if (p === 'variable' || p === 'rightDelim' || p === 'rightParen') continue decls;
          this.errorf('range can only initialize variables');
        }
        this.errorf(`too many declarations in ${context}`);
      } else {
        // Not a declaration: the variable starts a command (spaces after it are kept).
        this.idx = save;
        break;
      }
    }
    for (;;) {
      const t = this.nextNonSpace();
      if (t.type === end) {
        this.checkPipeline(pipe, context);
        return pipe;
      }
      switch (t.type) {
        case 'bool':
        case 'charConstant':
        case 'complex':
        case 'dot':
        case 'field':
        case 'identifier':
        case 'number':
        case 'nil':
        case 'rawString':
        case 'string':
        case 'variable':
        case 'leftParen':
          this.backup();
          pipe.cmds.push(this.command());
          break;
        default:
          this.unexpected(t, context);
      }
    }
  }

  checkPipeline(pipe: PipeNode, context: string): void {
    if (pipe.cmds.length === 0) this.errorf(`missing value for ${context}`);
    for (let i = 1; i < pipe.cmds.length; i++) {
      const t = pipe.cmds[i].args[0].type;
      if (t === 'bool' || t === 'dot' || t === 'nil' || t === 'number' || t === 'string') {
        this.errorf(`non executable command in pipeline stage ${i + 1}`);
      }
    }
  }

  command(): CommandNode {
    const cmd: CommandNode = { type: 'command', pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand) cmd.args.push(operand);
      const tok = this.next();
      if (tok.type === 'space') continue;
      if (tok.type === 'rightDelim' || tok.type === 'rightParen') this.backup();
      else if (tok.type !== 'pipe') this.unexpected(tok, 'operand');
      break;
    }
    if (cmd.args.length === 0) this.errorf('empty command');
    return cmd;
  }

  operand(): Node | null {
    let node = this.term();
    if (node === null) return null;
    if (this.peek().type === 'field') {
      const chainPos = this.peek().pos;
      const fields: string[] = [];
      while (this.peek().type === 'field') fields.push(this.next().val.slice(1));
      switch (node.type) {
        case 'field':
          node = { type: 'field', pos: chainPos, ident: [...node.ident, ...fields] };
          break;
        case 'variable':
          node = { type: 'variable', pos: chainPos, ident: [...node.ident, ...fields] };
          break;
        case 'bool':
        case 'string':
        case 'number':
        case 'nil':
        case 'dot':
          this.errorf(`unexpected . after term ${quoteString(nodeString(node))}`);
        default:
          node = { type: 'chain', pos: chainPos, node, field: fields };
      }
    }
    return node;
  }

  term(): Node | null {
    const tok = this.nextNonSpace();
    switch (tok.type) {
      case 'identifier':
        if (!this.hasFunction(tok.val)) this.errorf(`function ${quoteString(tok.val)} not defined`);
        return { type: 'identifier', pos: tok.pos, ident: tok.val };
      case 'dot':
        return { type: 'dot', pos: tok.pos };
      case 'nil':
        return { type: 'nil', pos: tok.pos };
      case 'variable': {
        const name = tok.val.split('.')[0];
        if (!this.vars.includes(name)) this.errorf(`undefined variable ${quoteString(name)}`);
        return { type: 'variable', pos: tok.pos, ident: [tok.val] };
      }
      case 'field':
        return { type: 'field', pos: tok.pos, ident: [tok.val.slice(1)] };
      case 'bool':
        return { type: 'bool', pos: tok.pos, value: tok.val === 'true' };
      case 'charConstant':
      case 'complex':
      case 'number':
        return this.newNumber(tok);
      case 'leftParen':
        return this.pipeline('parenthesized pipeline', 'rightParen');
      case 'string':
      case 'rawString': {
        const s = unquote(tok.val);
        if (s === null) this.errorf('invalid syntax');
        return { type: 'string', pos: tok.pos, quoted: tok.val, text: s };
      }
    }
    this.backup();
    return null;
  }

  newNumber(tok: Item): NumberNode {
    const n: NumberNode = {
      type: 'number',
      pos: tok.pos,
      text: tok.val,
      isInt: false,
      isFloat: false,
      isComplex: false,
      intValue: 0,
      floatValue: 0,
      isRune: false,
    };
    if (tok.type === 'charConstant') {
      const s = unquote(tok.val);
      if (s === null) this.errorf(`malformed character constant: ${tok.val}`);
      const r = s.codePointAt(0)!;
      n.isInt = n.isFloat = n.isRune = true;
      n.intValue = r;
      n.floatValue = r;
      return n;
    }
    if (tok.type === 'complex' || tok.val.endsWith('i')) {
      this.errorf(`complex numbers are not supported: ${quoteString(tok.val)}`);
    }
    const iv = parseGoInt(tok.val);
    if (typeof iv === 'bigint') {
      n.isInt = true;
      n.intValue = toSafeNumber(iv);
      n.isFloat = true;
      n.floatValue = Number(iv);
    } else {
      const f = parseGoFloatLiteral(tok.val);
      if (f !== null && Number.isFinite(f)) {
        if (!/[.eEpP]/.test(tok.val)) this.errorf(`integer overflow: ${quoteString(tok.val)}`);
        n.isFloat = true;
        n.floatValue = f;
        if (Number.isInteger(f) && Math.abs(f) < 2 ** 63) {
          n.isInt = true;
          n.intValue = Number.isSafeInteger(f) ? f : BigInt(f);
        }
      }
    }
    if (!n.isInt && !n.isFloat) this.errorf(`illegal number syntax: ${quoteString(tok.val)}`);
    return n;
  }
}

function isEmptyTree(n: Node): boolean {
  switch (n.type) {
    case 'list':
      return n.nodes.every(isEmptyTree);
    case 'text':
      return n.text.trim() === '';
    default:
      return false;
  }
}

/** Parse Go template source into its named trees (the main one is ""). */
export function parseTrees(text: string, hasFunction: (name: string) => boolean): ParsedTemplates {
  const trees = new Map<string, ListNode>();
  const p = new Parser(text, hasFunction, trees);
  const root = p.parse();
  p.addTree('', root);
  return { trees, text };
}
