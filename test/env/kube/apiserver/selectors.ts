import { KubeStatus, splitSelector, type ResourceType } from '../types';

const KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const OPERATORS = 'in, notin, =, ==, !=, gt, lt';

/**
 * A label selector as `labels.Parse` accepts it (`apimachinery/pkg/labels/selector.go`); a malformed one is a 400,
 * with the parser's message (`found 'selector', expected: in, notin, =, ==, !=, gt, lt`).
 */
export function checkLabelSelector(selector: string | undefined): void {
  if (!selector) return;
  for (const term of splitSelector(selector).map((t) => t.trim())) {
    let m: RegExpExecArray | null;
    let key: string;
    let values: string[] = [];
    if ((m = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term))) {
      key = m[1];
      values = m[3].split(',').map((v) => v.trim());
    } else if ((m = /^([^\s=!<>]+)\s*(==|=|!=|gt|lt)\s*(\S*)$/.exec(term)) && !/^(in|notin)$/.test(m[3])) {
      key = m[1];
      values = [m[3]];
    } else if ((m = /^!?([^\s=!(),]+)$/.exec(term))) {
      key = m[1];
    } else {
      const words = term.split(/\s+/);
      const found = words.length > 1 ? words[1] : term === '' ? '' : term;
      throw new KubeStatus(400, 'BadRequest', term === '' ? 'found \'\', expected: !, identifier, or \'end of string\'' : `found '${found}', expected: ${OPERATORS}`);
    }
    if (!KEY.test(key)) throw new KubeStatus(400, 'BadRequest', `unable to parse requirement: <nil>: Invalid value: "${key}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`);
    for (const v of values) {
      if (!VALUE.test(v)) throw new KubeStatus(400, 'BadRequest', `unable to parse requirement: <nil>: Invalid value: "${v}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`);
    }
  }
}

/** The fields each kind may be selected by (each kind's `GetAttrs` / `SelectableFields`), besides metadata.name and namespace. */
const FIELDS: Record<string, string[]> = {
  Pod: ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'spec.hostNetwork', 'status.phase', 'status.podIP', 'status.nominatedNodeName'],
  Event: ['involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid', 'involvedObject.apiVersion',
    'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'reportingComponent', 'source', 'type'],
  Secret: ['type'], Namespace: ['status.phase'], Node: ['spec.unschedulable'], ReplicaSet: ['status.replicas'], Job: ['status.successful'],
};

/** A field selector naming a field its kind cannot be selected by is a 400 (`field label not supported: spec.foo`). */
export function checkFieldSelector(type: ResourceType, selector: string | undefined): void {
  if (!selector) return;
  for (const term of selector.split(',')) {
    const m = /^\s*([^=!\s]+)\s*(!=|==|=)/.exec(term);
    if (!m) throw new KubeStatus(400, 'BadRequest', `invalid selector: '${selector}'; can't understand '${term}'`);
    const field = m[1];
    if (['metadata.name', 'metadata.namespace'].includes(field) || (FIELDS[type.kind] ?? []).includes(field)) continue;
    throw new KubeStatus(400, 'BadRequest', `field label not supported: ${field}`);
  }
}
