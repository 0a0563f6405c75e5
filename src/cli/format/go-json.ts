// Go encoding/json emulation, plus docker's formatter.MarshalJSON for row
// context objects.

import { formatRFC3339Nano } from './go-time.ts';
import { GoFloat, compareStringsBytewise, isContextObject, memberKeys, receiverOf, sortedEntries, isPlainObject } from './go-fmt.ts';

export interface MarshalOptions {
  /** Escape <, >, & as \u003c \u003e \u0026 (json.Marshal does; docker's `json` template func does not). Default true. */
  escapeHTML?: boolean;
  /** Indentation per level (json.MarshalIndent); empty/undefined = compact. */
  indent?: string;
  /** Prefix for each new line when indenting. */
  prefix?: string;
}

/** Go's encodeState.string escaping. */
export function quoteJSONString(s: string, escapeHTML = true): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c && c < 0x7f && !(escapeHTML && (c === 0x3c || c === 0x3e || c === 0x26))) {
      out += s[i];
      continue;
    }
    switch (c) {
      case 0x22:
        out += '\\"';
        continue;
      case 0x5c:
        out += '\\\\';
        continue;
      case 0x0a:
        out += '\\n';
        continue;
      case 0x0d:
        out += '\\r';
        continue;
      case 0x09:
        out += '\\t';
        continue;
      case 0x08:
        out += '\\b';
        continue;
      case 0x0c:
        out += '\\f';
        continue;
    }
    if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26) {
      out += '\\u00' + c.toString(16).padStart(2, '0');
      continue;
    }
    if (c === 0x2028 || c === 0x2029) {
      out += '\\u' + c.toString(16);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        out += s[i] + s[i + 1];
        i++;
        continue;
      }
      out += '\\ufffd';
      continue;
    }
    if (c >= 0xdc00 && c <= 0xdfff) {
      out += '\\ufffd';
      continue;
    }
    out += s[i];
  }
  return out + '"';
}

function formatJSONNumber(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`json: unsupported value: ${Number.isNaN(x) ? 'NaN' : x > 0 ? '+Inf' : '-Inf'}`);
  // Go uses %f unless the exponent is < -6 or >= 21, with "e-07" cleaned to "e-7";
  // JS's Number#toString uses the same thresholds and exponent style.
  return String(x);
}

/** json.Marshal / json.MarshalIndent of a JS value with Go's output conventions. */
export function marshalJSON(value: unknown, opts: MarshalOptions = {}): string {
  const escapeHTML = opts.escapeHTML ?? true;
  const indent = opts.indent ?? '';
  const prefix = opts.prefix ?? '';
  const seen = new Set<object>();

  const enc = (v: unknown, depth: number): string => {
    if (v === undefined || v === null) return 'null';
    if (typeof v === 'string') return quoteJSONString(v, escapeHTML);
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'number') return formatJSONNumber(v);
    if (v instanceof GoFloat) return formatJSONNumber(v.value);
    if (v instanceof Date) return quoteJSONString(formatRFC3339Nano(v), escapeHTML);
    if (typeof v === 'function') throw new Error('json: unsupported type: func()');
    if (typeof v !== 'object') return 'null';
    const toJSON = (v as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function' && !isContextObject(v)) return enc(toJSON.call(v), depth);
    if (seen.has(v)) throw new Error('json: unsupported value: encountered a cycle');
    seen.add(v);
    try {
      const nl = (d: number) => (indent ? '\n' + prefix + indent.repeat(d) : '');
      const colon = indent ? ': ' : ':';
      let items: string[];
      let open: string;
      let close: string;
      if (Array.isArray(v) || ArrayBuffer.isView(v)) {
        const arr = Array.isArray(v) ? v : Array.from(v as unknown as ArrayLike<unknown>);
        items = arr.map((e) => enc(e, depth + 1));
        open = '[';
        close = ']';
      } else {
        let entries: [string, unknown][];
        if (v instanceof Map) {
          entries = sortedEntries(v).map(([k, x]) => [String(k), x]);
        } else if (isContextObject(v)) {
          // docker's formatter.MarshalJSON: every exported method without
          // arguments becomes a key; keys sorted (it marshals a map).
          entries = [];
          const obj = v as Record<string, unknown>;
          const self = receiverOf(obj);
          for (const k of memberKeys(obj)) {
            const x = Reflect.get(obj, k, self);
            if (typeof x === 'function') {
              if (x.length !== 0 || k === 'FullHeader' || k === 'MarshalJSON') continue;
              if (!/^\p{Lu}/u.test(k)) continue;
              entries.push([k, x.call(self)]);
            } else if (x !== undefined) {
              entries.push([k, x]);
            }
          }
          entries.sort((a, b) => compareStringsBytewise(a[0], b[0]));
        } else if (isPlainObject(v)) {
          entries = Object.entries(v).filter(([, x]) => x !== undefined && typeof x !== 'function');
        } else {
          entries = [];
        }
        items = entries.map(([k, x]) => quoteJSONString(k, escapeHTML) + colon + enc(x, depth + 1));
        open = '{';
        close = '}';
      }
      if (items.length === 0) return open + close;
      return open + nl(depth + 1) + items.join(',' + nl(depth + 1)) + nl(depth) + close;
    } finally {
      seen.delete(v);
    }
  };
  return enc(value, 0);
}

/** docker's `json` template function: no HTML escaping, no trailing newline; errors give "". */
export function dockerJSON(value: unknown): string {
  try {
    return marshalJSON(value, { escapeHTML: false });
  } catch {
    return '';
  }
}
