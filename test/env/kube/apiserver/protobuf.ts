/**
 * Just enough of the Kubernetes protobuf encoding (`k8s\0` + runtime.Unknown, `apimachinery/pkg/runtime/serializer/
 * protobuf`) to read the bodies kubectl's typed clients send as protobuf where the emulator needs them: a
 * SelfSubjectAccessReview (`kubectl auth can-i`). Answers are JSON, which those clients accept too.
 */
type Fields = Map<number, (Buffer | number)[]>;

function varint(buf: Buffer, at: number): [number, number] {
  let value = 0;
  let shift = 0;
  for (;;) {
    const b = buf[at++];
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [value, at];
    shift += 7;
  }
}

function fields(buf: Buffer): Fields {
  const out: Fields = new Map();
  let at = 0;
  while (at < buf.length) {
    const [tag, next] = varint(buf, at);
    at = next;
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    let value: Buffer | number;
    if (wire === 0) [value, at] = varint(buf, at);
    else if (wire === 2) {
      const [len, start] = varint(buf, at);
      value = buf.subarray(start, start + len);
      at = start + len;
    } else if (wire === 5) { value = buf.readUInt32LE(at); at += 4; } else if (wire === 1) { value = Number(buf.readBigUInt64LE(at)); at += 8; } else {
      throw new Error(`unsupported protobuf wire type ${wire}`);
    }
    out.set(field, [...(out.get(field) ?? []), value]);
  }
  return out;
}

const text = (f: Fields, n: number): string | undefined => {
  const v = f.get(n)?.[0];
  return Buffer.isBuffer(v) ? v.toString('utf8') : undefined;
};
const sub = (f: Fields, n: number): Fields | undefined => {
  const v = f.get(n)?.[0];
  return Buffer.isBuffer(v) ? fields(v) : undefined;
};

export function isProtobuf(contentType: string | undefined): boolean {
  return (contentType ?? '').startsWith('application/vnd.kubernetes.protobuf');
}

/** A SelfSubjectAccessReview from its protobuf encoding (`authorization/v1/generated.proto`). */
export function selfSubjectAccessReview(body: Buffer): { spec: { resourceAttributes?: Record<string, string>; nonResourceAttributes?: Record<string, string> } } {
  if (body.subarray(0, 4).toString('latin1') !== 'k8s\0') throw new Error('not a Kubernetes protobuf message');
  const unknown = fields(body.subarray(4));
  const review = fields(unknown.get(2)?.[0] as Buffer);
  const spec = sub(review, 2);
  const ra = spec && sub(spec, 1);
  const nra = spec && sub(spec, 2);
  const names = ['namespace', 'verb', 'group', 'version', 'resource', 'subresource', 'name'];
  const resourceAttributes = ra && Object.fromEntries(names.map((k, i) => [k, text(ra, i + 1)]).filter(([, v]) => v !== undefined));
  const nonResourceAttributes = nra && Object.fromEntries([['path', text(nra, 1)], ['verb', text(nra, 2)]].filter(([, v]) => v !== undefined));
  return { spec: { ...(resourceAttributes ? { resourceAttributes } : {}), ...(nonResourceAttributes ? { nonResourceAttributes } : {}) } };
}
