// Go text/tabwriter emulation (elastic tabstops), as used by docker's table
// output. docker uses its own fork of text/tabwriter that measures cells by
// terminal display width (go-runewidth) instead of rune count; dockerTable()
// selects that.
//
// Semantics:
//  - a cell is text terminated by '\t' (or '\v'); '\n' and '\f' end a line;
//  - text after the last tab of a line is a trailing cell that belongs to no
//    column and is never padded;
//  - a column block is a run of consecutive lines that all have a terminated
//    cell in that column; its width is max(cell width) + padding, at least
//    minwidth;
//  - a line without any tab ends all column blocks (everything before it is
//    formatted independently of what follows), as does '\f'.

export interface TabWriterOptions {
  /** Minimal cell width including any padding. */
  minwidth: number;
  /** Width of a tab character (only used when padding with tabs). */
  tabwidth: number;
  /** Padding added to a cell before computing its width. */
  padding: number;
  /** Padding character (default ' '); '\t' pads with tabs and forces left alignment. */
  padchar?: string;
  /** Force right-alignment of cell content. */
  alignRight?: boolean;
  /** Columns whose cells are all empty and '\v'-terminated get width 0. */
  discardEmptyColumns?: boolean;
  /** Pad leading empty cells with tabs regardless of padchar. */
  tabIndent?: boolean;
  /** Print '|' between columns. */
  debug?: boolean;
  /**
   * How a cell's width is measured: 'runes' (Go's text/tabwriter, default)
   * or 'display' (terminal columns, like docker's tabwriter fork with go-runewidth).
   */
  width?: 'runes' | 'display';
}

interface Cell {
  text: string;
  width: number;
  htab: boolean;
}

export class TabWriter {
  private readonly minwidth: number;
  private readonly tabwidth: number;
  private readonly padding: number;
  private readonly padchar: string;
  private readonly alignRight: boolean;
  private readonly discardEmptyColumns: boolean;
  private readonly tabIndent: boolean;
  private readonly debug: boolean;
  private readonly measure: (s: string) => number;

  private lines: Cell[][] = [[]];
  private cell = '';
  private widths: number[] = [];
  private out: string[] = [];

  constructor(opts: TabWriterOptions) {
    if (opts.minwidth < 0 || opts.tabwidth < 0 || opts.padding < 0) {
      throw new Error('negative minwidth, tabwidth, or padding');
    }
    this.minwidth = opts.minwidth;
    this.tabwidth = opts.tabwidth;
    this.padding = opts.padding;
    this.padchar = opts.padchar ?? ' ';
    this.alignRight = (opts.alignRight ?? false) && this.padchar !== '\t';
    this.discardEmptyColumns = opts.discardEmptyColumns ?? false;
    this.tabIndent = opts.tabIndent ?? false;
    this.debug = opts.debug ?? false;
    this.measure = opts.width === 'display' ? displayWidth : runeCount;
  }

  /** Buffer text; cells and lines are formatted on flush (or at a line without tabs). */
  write(s: string): void {
    let start = 0;
    for (let i = 0; i < s.length; i++) {
      const ch = s[i];
      if (ch !== '\t' && ch !== '\v' && ch !== '\n' && ch !== '\f') continue;
      this.cell += s.slice(start, i);
      start = i + 1;
      const ncells = this.terminateCell(ch === '\t');
      if (ch === '\n' || ch === '\f') {
        this.lines.push([]);
        if (ch === '\f' || ncells === 1) {
          this.flushInternal();
          if (ch === '\f' && this.debug) this.out.push('---\n');
        }
      }
    }
    this.cell += s.slice(start);
  }

  /** Format everything buffered and return all output produced since the last flush. */
  flush(): string {
    this.flushInternal();
    const s = this.out.join('');
    this.out = [];
    return s;
  }

  private terminateCell(htab: boolean): number {
    const line = this.lines[this.lines.length - 1];
    line.push({ text: this.cell, width: this.measure(this.cell), htab });
    this.cell = '';
    return line.length;
  }

  private flushInternal(): void {
    if (this.cell.length > 0) this.terminateCell(false);
    this.format(0, this.lines.length);
    this.lines = [[]];
    this.widths = [];
  }

  private writePadding(textw: number, cellw: number, useTabs: boolean): void {
    if (this.padchar === '\t' || useTabs) {
      if (this.tabwidth === 0) return;
      cellw = Math.ceil(cellw / this.tabwidth) * this.tabwidth;
      const n = cellw - textw;
      this.out.push('\t'.repeat(Math.ceil(n / this.tabwidth)));
      return;
    }
    if (cellw > textw) this.out.push(this.padchar.repeat(cellw - textw));
  }

  private writeLines(line0: number, line1: number): void {
    for (let i = line0; i < line1; i++) {
      const line = this.lines[i];
      let useTabs = this.tabIndent;
      for (let j = 0; j < line.length; j++) {
        const c = line[j];
        if (j > 0 && this.debug) this.out.push('|');
        if (c.text.length === 0) {
          if (j < this.widths.length) this.writePadding(c.width, this.widths[j], useTabs);
        } else {
          useTabs = false;
          if (!this.alignRight) {
            this.out.push(c.text);
            if (j < this.widths.length) this.writePadding(c.width, this.widths[j], false);
          } else {
            if (j < this.widths.length) this.writePadding(c.width, this.widths[j], false);
            this.out.push(c.text);
          }
        }
      }
      if (i + 1 !== this.lines.length) this.out.push('\n');
    }
  }

  private format(line0: number, line1: number): void {
    const column = this.widths.length;
    for (let cur = line0; cur < line1; cur++) {
      if (column >= this.lines[cur].length - 1) continue;
      // A cell exists in this column: print the lines before the block.
      this.writeLines(line0, cur);
      line0 = cur;
      let width = this.minwidth;
      let discardable = true;
      for (; cur < line1; cur++) {
        const line = this.lines[cur];
        if (column >= line.length - 1) break;
        const c = line[column];
        const w = c.width + this.padding;
        if (w > width) width = w;
        if (c.width > 0 || c.htab) discardable = false;
      }
      if (discardable && this.discardEmptyColumns) width = 0;
      this.widths.push(width);
      this.format(line0, cur);
      this.widths.pop();
      line0 = cur;
    }
    this.writeLines(line0, line1);
  }
}

/**
 * The tabwriter docker's formatter uses for `table` formats:
 * tabwriter.NewWriter(out, 10, 1, 3, ' ', 0) from docker/cli's fork (display widths).
 */
export function dockerTable(): TabWriter {
  return new TabWriter({ minwidth: 10, tabwidth: 1, padding: 3, padchar: ' ', width: 'display' });
}

/** Format tab-separated text in one go. */
export function tabulate(text: string, opts: TabWriterOptions): string {
  const w = new TabWriter(opts);
  w.write(text);
  return w.flush();
}

// ---------------------------------------------------------------------------
// Width measurement

export function runeCount(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xdc00 && c <= 0xdfff && i > 0) {
      const p = s.charCodeAt(i - 1);
      if (p >= 0xd800 && p <= 0xdbff) continue;
    }
    n++;
  }
  return n;
}

// East Asian Wide (W) and Fullwidth (F) ranges that are not emoji.
const wideRanges: [number, number][] = [
  [0x1100, 0x115f],
  [0x2329, 0x232a],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xa960, 0xa97f],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe10, 0xfe19],
  [0xfe30, 0xfe6f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x16fe0, 0x16fe4],
  [0x16ff0, 0x16ff1],
  [0x17000, 0x18cd5],
  [0x18d00, 0x18d08],
  [0x1aff0, 0x1b2fb],
  [0x1f200, 0x1f202],
  [0x1f210, 0x1f23b],
  [0x1f240, 0x1f248],
  [0x1f250, 0x1f251],
  [0x1f260, 0x1f265],
  [0x20000, 0x2fffd],
  [0x30000, 0x3fffd],
];

const nonprintRanges: [number, number][] = [
  [0x070f, 0x070f],
  [0x180b, 0x180e],
  [0x200b, 0x200f],
  [0x2028, 0x202e],
  [0x206a, 0x206f],
  [0xd800, 0xdfff],
  [0xfeff, 0xfeff],
  [0xfff9, 0xfffb],
  [0xe0000, 0xe0fff],
];

function inRanges(r: number, ranges: [number, number][]): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (r < ranges[mid][0]) hi = mid - 1;
    else if (r > ranges[mid][1]) lo = mid + 1;
    else return true;
  }
  return false;
}

const combiningRe = /^[\p{Mn}\p{Me}]$/u;
const emojiPresentationRe = /^\p{Emoji_Presentation}$/u;

/** go-runewidth RuneWidth (EastAsianWidth off): 0, 1 or 2 terminal columns. */
export function runeWidth(r: number): number {
  if (r < 0x20) return 0;
  if ((r >= 0x7f && r <= 0x9f) || r === 0xad) return 0;
  if (r < 0x300) return 1;
  if (inRanges(r, nonprintRanges)) return 0;
  const ch = String.fromCodePoint(r);
  if (combiningRe.test(ch)) return 0;
  if (inRanges(r, wideRanges) || emojiPresentationRe.test(ch)) return 2;
  return 1;
}

let segmenter: Intl.Segmenter | undefined;

/** go-runewidth StringWidth: per grapheme cluster, the width of its first non-zero-width rune. */
export function displayWidth(s: string): number {
  // Fast path: printable ASCII.
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c >= 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) return s.length;
  segmenter ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' });
  let width = 0;
  for (const { segment } of segmenter.segment(s)) {
    let w = 0;
    for (const ch of segment) {
      w = runeWidth(ch.codePointAt(0)!);
      if (w > 0) break;
    }
    width += w;
  }
  return width;
}
