/**
 * The condition language of `successCondition` / `failureCondition`: comparisons over `result` joined by
 * `&&`, `||`, `!` and parentheses. It is parsed into a tree and interpreted here, never evaluated as code, so a
 * gate file cannot run anything. A few helpers cover the no-data idioms people know from Argo Rollouts:
 * `len(result)`, `isNaN(result)`, `result[0]`.
 */

export type Value = number | string | boolean | null | Value[] | { [key: string]: Value };

export type Node =
  | { kind: 'literal'; value: number | string | boolean | null }
  | { kind: 'result' }
  | { kind: 'index'; target: Node; index: number }
  | { kind: 'call'; name: 'len' | 'isNaN'; arg: Node }
  | { kind: 'not'; operand: Node }
  | { kind: 'logical'; op: '&&' | '||'; left: Node; right: Node }
  | { kind: 'compare'; op: CompareOp; left: Node; right: Node };

type CompareOp = '<' | '<=' | '>' | '>=' | '==' | '!=';

export class ExpressionError extends Error {
  constructor(message: string, readonly column: number) {
    super(message);
  }
}

interface Token {
  type: 'num' | 'str' | 'ident' | 'op' | 'end';
  text: string;
  pos: number;
}

const OPERATORS = ['<=', '>=', '==', '!=', '&&', '||', '<', '>', '!', '(', ')', '[', ']', '-'];

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (/\s/.test(c)) { i++; continue; }
    const num = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/.exec(source.slice(i));
    if (num) { tokens.push({ type: 'num', text: num[0], pos: i }); i += num[0].length; continue; }
    if (c === '"' || c === "'") {
      const end = source.indexOf(c, i + 1);
      if (end === -1) throw new ExpressionError(`the string that starts at column ${i + 1} is not closed`, i + 1);
      tokens.push({ type: 'str', text: source.slice(i + 1, end), pos: i });
      i = end + 1;
      continue;
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i));
    if (ident) { tokens.push({ type: 'ident', text: ident[0], pos: i }); i += ident[0].length; continue; }
    const op = OPERATORS.find((o) => source.startsWith(o, i));
    if (op) { tokens.push({ type: 'op', text: op, pos: i }); i += op.length; continue; }
    if (c === '=') throw new ExpressionError(`'=' at column ${i + 1} is not an operator: write '==' to compare`, i + 1);
    if (c === '&' || c === '|') throw new ExpressionError(`'${c}' at column ${i + 1} is not an operator: write '${c}${c}'`, i + 1);
    throw new ExpressionError(`unexpected '${c}' at column ${i + 1}`, i + 1);
  }
  // Stryker disable next-line StringLiteral: the end token is named by its type, its text is never read.
  tokens.push({ type: 'end', text: '', pos: source.length });
  return tokens;
}

/** Parses a condition; throws ExpressionError with the column and what to write instead. */
export function parseExpression(source: string): Node {
  const tokens = tokenize(source);
  let p = 0;
  const peek = () => tokens[p];
  const describe = (t: Token) => (t.type === 'end' ? 'the end of the expression' : `'${t.text}' at column ${t.pos + 1}`);
  const expect = (text: string) => {
    const t = tokens[p];
    if (t.type !== 'op' || t.text !== text) throw new ExpressionError(`expected '${text}' but found ${describe(t)}`, t.pos + 1);
    p++;
  };

  const or = (): Node => {
    let left = and();
    // Stryker disable next-line StringLiteral: the evaluator reads '&&' and takes any other logical node as '||'.
    while (peek().type === 'op' && peek().text === '||') { p++; left = { kind: 'logical', op: '||', left, right: and() }; }
    return left;
  };
  const and = (): Node => {
    let left = unary();
    while (peek().type === 'op' && peek().text === '&&') { p++; left = { kind: 'logical', op: '&&', left, right: unary() }; }
    return left;
  };
  const unary = (): Node => {
    if (peek().type === 'op' && peek().text === '!') { p++; return { kind: 'not', operand: unary() }; }
    return comparison();
  };
  const comparison = (): Node => {
    const left = primary();
    const t = peek();
    if (t.type === 'op' && ['<', '<=', '>', '>=', '==', '!='].includes(t.text)) {
      p++;
      const right = primary();
      const next = peek();
      if (next.type === 'op' && ['<', '<=', '>', '>=', '==', '!='].includes(next.text)) {
        throw new ExpressionError(`comparisons cannot be chained (${describe(next)}): join them with '&&'`, next.pos + 1);
      }
      return { kind: 'compare', op: t.text as CompareOp, left, right };
    }
    return left;
  };
  const primary = (): Node => {
    const t = tokens[p++];
    let node: Node;
    if (t.type === 'num') node = { kind: 'literal', value: Number(t.text) };
    else if (t.type === 'str') node = { kind: 'literal', value: t.text };
    // Numbers and texts are taken above: only an operator reads '(' or '-' here.
    else if (t.text === '(') { node = or(); expect(')'); }
    else if (t.text === '-' && tokens[p].type === 'num') node = { kind: 'literal', value: -Number(tokens[p++].text) };
    else if (t.type === 'ident') {
      switch (t.text) {
        case 'result': node = { kind: 'result' }; break;
        case 'true': node = { kind: 'literal', value: true }; break;
        case 'false': node = { kind: 'literal', value: false }; break;
        case 'null': node = { kind: 'literal', value: null }; break;
        case 'len':
        case 'isNaN': {
          expect('(');
          const arg = or();
          expect(')');
          node = { kind: 'call', name: t.text, arg };
          break;
        }
        default:
          throw new ExpressionError(`unknown name '${t.text}' at column ${t.pos + 1}: conditions speak of 'result' (and len(), isNaN())`, t.pos + 1);
      }
    } else {
      throw new ExpressionError(`expected a value, 'result' or '(' but found ${describe(t)}`, t.pos + 1);
    }
    while (peek().type === 'op' && peek().text === '[') {
      p++;
      const idx = tokens[p++];
      if (idx.type !== 'num' || !/^\d+$/.test(idx.text)) throw new ExpressionError(`an index must be a whole number, not ${describe(idx)}`, idx.pos + 1);
      expect(']');
      node = { kind: 'index', target: node, index: Number(idx.text) };
    }
    return node;
  };

  if (tokens.length === 1) throw new ExpressionError('the condition is empty', 1);
  const tree = or();
  if (peek().type !== 'end') throw new ExpressionError(`unexpected ${describe(peek())}: join conditions with '&&' or '||'`, peek().pos + 1);
  return tree;
}

/** Whether the expression reads `result` as a whole list (len(result), result[i]), not series by series. */
export function readsWholeResult(node: Node): boolean {
  switch (node.kind) {
    case 'call': return node.name === 'len' || readsWholeResult(node.arg);
    case 'index': return true;
    case 'not': return readsWholeResult(node.operand);
    case 'logical':
    case 'compare': return readsWholeResult(node.left) || readsWholeResult(node.right);
    // Stryker disable next-line ConditionalExpression: a literal or `result` alone answers false, as a missing answer (undefined) would.
    default: return false;
  }
}

function evaluateNode(node: Node, result: Value): Value {
  switch (node.kind) {
    case 'literal': return node.value;
    case 'result': return result;
    case 'index': {
      const target = evaluateNode(node.target, result);
      if (!Array.isArray(target)) throw new Error(`cannot index ${describeValue(target)}`);
      if (node.index >= target.length) throw new Error(`result has no element ${node.index} (it holds ${target.length})`);
      return target[node.index];
    }
    case 'call': {
      const arg = evaluateNode(node.arg, result);
      if (node.name === 'len') {
        if (Array.isArray(arg)) return arg.length;
        if (typeof arg === 'string') return arg.length;
        throw new Error(`len() needs a list or text, not ${describeValue(arg)}`);
      }
      return Number.isNaN(arg);
    }
    case 'not': return !truthy(evaluateNode(node.operand, result));
    case 'logical': {
      const left = truthy(evaluateNode(node.left, result));
      if (node.op === '&&') return left && truthy(evaluateNode(node.right, result));
      return left || truthy(evaluateNode(node.right, result));
    }
    case 'compare': return compare(node.op, evaluateNode(node.left, result), evaluateNode(node.right, result));
  }
}

function truthy(value: Value): boolean {
  if (typeof value === 'boolean') return value;
  throw new Error(`${describeValue(value)} is not true or false: compare it, e.g. 'result < 0.01'`);
}

function compare(op: CompareOp, a: Value, b: Value): boolean {
  if (op === '==' || op === '!=') {
    // A number equals only a number, by value (NaN equals nothing); JSON would write NaN as null.
    const equal = typeof a === 'number' || typeof b === 'number' ? a === b : JSON.stringify(a) === JSON.stringify(b);
    return op === '==' ? equal : !equal;
  }
  if (typeof a === 'number' && typeof b === 'number') {
    switch (op) {
      case '<': return a < b;
      case '<=': return a <= b;
      case '>': return a > b;
      case '>=': return a >= b;
    }
  }
  if (typeof a === 'string' && typeof b === 'string') {
    switch (op) {
      case '<': return a < b;
      case '<=': return a <= b;
      case '>': return a > b;
      case '>=': return a >= b;
    }
  }
  throw new Error(`cannot compare ${describeValue(a)} ${op} ${describeValue(b)}`);
}

function describeValue(value: Value): string {
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return typeof value === 'string' ? `the text '${value}'` : String(value);
}

/**
 * Evaluates a condition. A list result (a Prometheus vector) is judged series by series unless the expression
 * reads the list as a whole: `every` says whether every series met it, `some` whether at least one did.
 */
export function evaluate(node: Node, result: Value): { every: boolean; some: boolean } {
  if (Array.isArray(result) && !readsWholeResult(node)) {
    const outcomes = result.map((r) => truthy(evaluateNode(node, r)));
    return { every: outcomes.every(Boolean), some: outcomes.some(Boolean) };
  }
  const value = truthy(evaluateNode(node, result));
  return { every: value, some: value };
}
