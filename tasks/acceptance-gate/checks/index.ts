import type { CheckConfig } from '../config';
import { commandCheck } from './command';
import { compareCheck } from './compare';
import { httpCheck } from './http';
import type { CheckContext, CheckKind, Reading } from './kind';
import { prometheusCheck } from './prometheus';

/** Every kind of check by the key that introduces it in the gate YAML; a new kind is one module and one line here. */
export const CHECK_KINDS: { [K in CheckConfig['kind']]: CheckKind<Extract<CheckConfig, { kind: K }>> } = {
  http: httpCheck,
  prometheus: prometheusCheck,
  command: commandCheck,
  compare: compareCheck,
};

export const KIND_NAMES = Object.keys(CHECK_KINDS) as CheckConfig['kind'][];

export function measureCheck(check: CheckConfig, ctx: CheckContext): Promise<Reading> {
  return (CHECK_KINDS[check.kind] as CheckKind<CheckConfig>).measure(check, ctx);
}
