import { strict as assert } from 'node:assert';
import { UserError } from '../../tasks/common/errors';
import { formatImageReference, isDigest, isLoopbackRegistry, parseImageReference, registryApiHost } from '../../tasks/common/imageReference';

const D = `sha256:${'a'.repeat(64)}`;

describe('image references', () => {
  const cases: [string, { registry: string; repository: string; tag?: string; digest?: string }][] = [
    ['nginx', { registry: 'docker.io', repository: 'library/nginx' }],
    ['nginx:1.27', { registry: 'docker.io', repository: 'library/nginx', tag: '1.27' }],
    ['bitnami/redis:7', { registry: 'docker.io', repository: 'bitnami/redis', tag: '7' }],
    ['contoso.azurecr.io/shop/web:1.4.2', { registry: 'contoso.azurecr.io', repository: 'shop/web', tag: '1.4.2' }],
    [`contoso.azurecr.io/shop/web@${D}`, { registry: 'contoso.azurecr.io', repository: 'shop/web', digest: D }],
    [`contoso.azurecr.io/shop/web:1.4.2@${D}`, { registry: 'contoso.azurecr.io', repository: 'shop/web', tag: '1.4.2', digest: D }],
    ['127.0.0.1:5002/shop/web:v1', { registry: '127.0.0.1:5002', repository: 'shop/web', tag: 'v1' }],
    ['localhost/app', { registry: 'localhost', repository: 'app' }],
    ['localhost:5000/a/b/c:x_y.z-1', { registry: 'localhost:5000', repository: 'a/b/c', tag: 'x_y.z-1' }],
    ['[::1]:5000/app:1', { registry: '[::1]:5000', repository: 'app', tag: '1' }],
    ['registry.example.com/a__b/c-d.e:t', { registry: 'registry.example.com', repository: 'a__b/c-d.e', tag: 't' }],
  ];
  for (const [text, expected] of cases) {
    it(`parses ${text}`, () => {
      const ref = parseImageReference(text);
      assert.deepEqual({ ...ref }, Object.fromEntries(Object.entries({ tag: undefined, digest: undefined, ...expected })));
    });
  }

  it('never splits on the first colon: a registry port is not a tag', () => {
    const ref = parseImageReference('myregistry:5000/team/app');
    assert.equal(ref.registry, 'myregistry:5000');
    assert.equal(ref.repository, 'team/app');
    assert.equal(ref.tag, undefined);
  });

  const bad: [string, RegExp][] = [
    ['', /it is empty/],
    ['Contoso/App', /upper-case/],
    ['contoso.azurecr.io/Shop/web', /upper-case/],
    ['app:', /tag ''/],
    ['app:-bad', /tag '-bad'/],
    [`app:${'x'.repeat(129)}`, /tag/],
    ['app@sha256:abc', /64 lower-case hex/],
    ['app@md5', /not of the form algorithm:hex/],
    ['contoso.azurecr.io//web', /empty component/],
    ['contoso.azurecr.io:99999/web', /port/],
    ['a b', /white space/],
    ['shop/-web', /may hold only/],
  ];
  for (const [text, why] of bad) {
    it(`refuses '${text.slice(0, 40)}' and says why`, () => {
      assert.throws(() => parseImageReference(text, "Input 'image'"), (err: unknown) => {
        assert.ok(err instanceof UserError);
        assert.match(err.message, /^Input 'image' '/);
        assert.match(err.message, why);
        assert.match(err.message, /registry\/repository:tag or registry\/repository@sha256/);
        return true;
      });
    });
  }

  it('formats a reference back to its canonical text', () => {
    assert.equal(formatImageReference(parseImageReference('nginx:1')), 'docker.io/library/nginx:1');
    assert.equal(formatImageReference(parseImageReference(`127.0.0.1:5000/a@${D}`)), `127.0.0.1:5000/a@${D}`);
  });

  it('knows digests, Docker Hub API host and loopback registries', () => {
    assert.ok(isDigest(D));
    assert.ok(!isDigest('sha256:abc'));
    assert.equal(registryApiHost('docker.io'), 'registry-1.docker.io');
    assert.equal(registryApiHost('contoso.azurecr.io'), 'contoso.azurecr.io');
    assert.ok(isLoopbackRegistry('127.0.0.1:5000'));
    assert.ok(isLoopbackRegistry('localhost:5000'));
    assert.ok(isLoopbackRegistry('[::1]:5000'));
    assert.ok(!isLoopbackRegistry('contoso.azurecr.io'));
    assert.ok(!isLoopbackRegistry('127.0.0.1.example.com'));
  });
});
