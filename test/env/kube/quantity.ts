/**
 * Kubernetes quantities in their canonical form, as `resource.Quantity.String()` prints them
 * (`staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go`): "0.5" → "500m", "1024Mi" → "1Gi",
 * "1.5Gi" → "1536Mi", "1000m" → "1". The server stores quantities canonicalised, so equal amounts compare equal.
 */
const BINARY: Record<string, number> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const DECIMAL_SUFFIX = Object.fromEntries(Object.entries(DECIMAL).map(([s, e]) => [e, s]));
const BINARY_SUFFIX = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];

export function isQuantity(text: string): boolean {
  return /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?$/.test(text);
}

const pow = (b: bigint, e: number): bigint => b ** BigInt(e);

export function canonicalQuantity(value: string | number): string {
  const text = String(value).trim();
  const m = /^([+-]?)(\d*)(?:\.(\d*))?([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?$/.exec(text);
  if (!m || !isQuantity(text)) return text;
  const [, sign, whole, fraction = '', suffix = ''] = m;
  // value = num / den, exactly.
  let num = BigInt(`${whole || '0'}${fraction}` || '0');
  let den = pow(10n, fraction.length);
  let format: 'binary' | 'decimal' | 'exponent' = 'decimal';
  if (suffix in BINARY) {
    num *= pow(1024n, BINARY[suffix]);
    format = 'binary';
  } else {
    const exp = suffix in DECIMAL ? DECIMAL[suffix] : Number(suffix.slice(1));
    if (!(suffix in DECIMAL)) format = 'exponent';
    if (exp >= 0) num *= pow(10n, exp);
    else den *= pow(10n, -exp);
  }
  if (num === 0n) return '0';
  const neg = sign === '-' ? '-' : '';
  if (format === 'binary' && num % den === 0n && num / den >= 1024n) {
    let v = num / den;
    let k = 0;
    while (k < 6 && v % 1024n === 0n) { v /= 1024n; k++; }
    return `${neg}${v}${BINARY_SUFFIX[k]}`;
  }
  for (let exp = 18; exp >= -9; exp -= 3) {
    const scaledNum = exp < 0 ? num * pow(10n, -exp) : num;
    const scaledDen = exp > 0 ? den * pow(10n, exp) : den;
    if (scaledNum % scaledDen === 0n) {
      const mantissa = scaledNum / scaledDen;
      return `${neg}${mantissa}${format === 'exponent' ? (exp ? `e${exp}` : '') : DECIMAL_SUFFIX[exp]}`;
    }
  }
  // Finer than a nano unit: rounded up, as Quantity does.
  const mantissa = (num * pow(10n, 9) + den - 1n) / den;
  return `${neg}${mantissa}${format === 'exponent' ? 'e-9' : 'n'}`;
}
