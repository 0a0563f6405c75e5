// Go strconv float formatting (FormatFloat with 'e', 'f', 'g').

/** Exact decimal expansion of |x| (finite, non-zero): value = 0.d1d2d3... * 10^dp. */
function exactDecimal(x: number): { digits: string; dp: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  const biasedExp = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let exp: number;
  if (biasedExp === 0) exp = -1074;
  else {
    mant |= 1n << 52n;
    exp = biasedExp - 1075;
  }
  let digits: string;
  let dp: number;
  if (exp >= 0) {
    digits = (mant << BigInt(exp)).toString();
    dp = digits.length;
  } else {
    digits = (mant * 5n ** BigInt(-exp)).toString();
    dp = digits.length + exp;
  }
  digits = digits.replace(/0+$/, '');
  return { digits, dp };
}

/** Round a decimal to nd significant digits, half to even (Go's strconv decimal.Round). */
function roundDecimal(d: { digits: string; dp: number }, nd: number): { digits: string; dp: number } {
  const { digits, dp } = d;
  if (nd >= digits.length) return { digits, dp };
  if (nd < 0) return { digits: '', dp };
  let up: boolean;
  const c = digits.charCodeAt(nd) - 48;
  if (c > 5) up = true;
  else if (c < 5) up = false;
  else if (nd + 1 < digits.length) up = true;
  else up = nd > 0 && (digits.charCodeAt(nd - 1) - 48) % 2 === 1;
  let kept = digits.slice(0, nd);
  if (!up) return { digits: kept.replace(/0+$/, ''), dp };
  // Increment kept.
  let i = kept.length - 1;
  while (i >= 0 && kept[i] === '9') i--;
  if (i < 0) return { digits: '1', dp: dp + 1 };
  kept = kept.slice(0, i) + String.fromCharCode(kept.charCodeAt(i) + 1);
  return { digits: kept, dp };
}

/**
 * Decimal digits of |x| with the decimal point position: value = 0.d1d2d3... * 10^dp.
 * sig undefined: shortest representation that round-trips; else rounded to sig significant digits.
 * fixed: round to `fixed` digits after the decimal point instead.
 */
function decimalDigits(x: number, sig?: number, fixed?: number): { digits: string; dp: number } {
  const ax = Math.abs(x);
  if (ax === 0) return { digits: '0', dp: 1 };
  if (sig === undefined && fixed === undefined) {
    const m = /^(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(ax.toExponential())!;
    return { digits: (m[1] + (m[2] ?? '')).replace(/0+$/, ''), dp: Number(m[3]) + 1 };
  }
  const exact = exactDecimal(ax);
  const r = roundDecimal(exact, sig !== undefined ? Math.max(sig, 1) : exact.dp + fixed!);
  if (r.digits === '') return { digits: '0', dp: 1 };
  return r;
}

function expSuffix(exp: number, upper: boolean): string {
  const sign = exp < 0 ? '-' : '+';
  const a = Math.abs(exp);
  return (upper ? 'E' : 'e') + sign + (a < 10 ? '0' + a : String(a));
}

function fmtE(digits: string, dp: number, prec: number, upper: boolean): string {
  // prec: digits after the point; -1 means all of `digits`.
  let mant = digits[0];
  let rest = digits.slice(1);
  if (prec >= 0) rest = rest.padEnd(prec, '0').slice(0, prec);
  if (rest.length > 0) mant += '.' + rest;
  const exp = digits === '0' || /^0+$/.test(digits) ? 0 : dp - 1;
  return mant + expSuffix(exp, upper);
}

function fmtF(digits: string, dp: number, prec: number): string {
  // prec: digits after the point; -1 means as many as needed.
  let intPart: string;
  let frac: string;
  if (dp <= 0) {
    intPart = '0';
    frac = '0'.repeat(-dp) + digits;
  } else if (dp >= digits.length) {
    intPart = digits + '0'.repeat(dp - digits.length);
    frac = '';
  } else {
    intPart = digits.slice(0, dp);
    frac = digits.slice(dp);
  }
  if (prec >= 0) frac = frac.padEnd(prec, '0').slice(0, prec);
  else frac = frac.replace(/0+$/, '');
  return frac.length > 0 ? intPart + '.' + frac : intPart;
}

/**
 * strconv.FormatFloat(x, fmt, prec, 64) for fmt in e E f g G (prec -1 = shortest).
 */
export function formatFloat(x: number, verb: 'e' | 'E' | 'f' | 'g' | 'G', prec: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return '+Inf';
  if (x === -Infinity) return '-Inf';
  const neg = x < 0 || Object.is(x, -0);
  let body: string;
  switch (verb) {
    case 'e':
    case 'E': {
      if (prec < 0) {
        const d = decimalDigits(x);
        body = fmtE(d.digits, d.dp, -1, verb === 'E');
      } else {
        const d = decimalDigits(x, prec + 1);
        body = fmtE(d.digits, d.dp, prec, verb === 'E');
      }
      break;
    }
    case 'f': {
      if (prec < 0) {
        const d = decimalDigits(x);
        body = fmtF(d.digits, d.dp, -1);
      } else {
        const d = decimalDigits(x, undefined, prec);
        body = fmtF(d.digits, d.dp, prec);
      }
      break;
    }
    case 'g':
    case 'G': {
      let d: { digits: string; dp: number };
      let eprec: number;
      if (prec < 0) {
        d = decimalDigits(x);
        eprec = 6;
      } else {
        const p = prec === 0 ? 1 : prec;
        d = decimalDigits(x, p);
        d.digits = d.digits.replace(/0+$/, '') || '0';
        eprec = p;
        if (eprec > d.digits.length && d.digits.length >= d.dp) eprec = d.digits.length;
      }
      if (x === 0) d = { digits: '0', dp: 1 };
      const exp = d.dp - 1;
      if (exp < -4 || exp >= eprec) {
        body = fmtE(d.digits, d.dp, -1, verb === 'G');
      } else {
        body = fmtF(d.digits, d.dp, Math.max(d.digits.length - d.dp, 0));
      }
      break;
    }
  }
  return (neg ? '-' : '') + body;
}

/** Go's %v for a float64. */
export function formatFloatV(x: number): string {
  return formatFloat(x, 'g', -1);
}

