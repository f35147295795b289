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
  it('takes registry ports from 1 to 65535 only, and host names of letters, digits and single dots', () => {
    const why = (text: string) => {
      try {
        parseImageReference(text);
      } catch (err) {
        return (err as Error).message.replace(/^The image reference '.*' is not a valid image reference: /, '').replace(/\. Use registry\/repository.*$/, '');
      }
      return assert.fail(`accepted: ${text}`);
    };
    for (const port of ['0', '65536', 'x5000', '5000x', '123456']) assert.equal(why(`127.0.0.1:${port}/a`), `the registry port '${port}' is not a port number`, port);
    assert.deepEqual([parseImageReference('127.0.0.1:1/a').registry, parseImageReference('127.0.0.1:65535/a').registry, parseImageReference('[::1]:5000/a').registry],
      ['127.0.0.1:1', '127.0.0.1:65535', '[::1]:5000']);
    assert.equal(why('bad_host.example:5000/a'), "the registry host 'bad_host.example' is not a host name");
    assert.equal(why('a..example/x'), "the registry host 'a..example' is not a host name");
    assert.equal(why(':5000/a'), "the registry host ':5000' is not a host name");
    assert.equal(why(`127.0.0.1/${'a'.repeat(246)}`), 'the name is longer than 255 characters');
    assert.equal(parseImageReference(`127.0.0.1/${'a'.repeat(245)}`).repository.length, 245, 'exactly 255 characters');
  });

  it('trims the reference and names it in the refusal', () => {
    assert.deepEqual(parseImageReference(' 127.0.0.1:5000/shop/web:1 '), { registry: '127.0.0.1:5000', repository: 'shop/web', tag: '1', digest: undefined });
    assert.throws(() => parseImageReference('127.0.0.1:0/a'), { message: "The image reference '127.0.0.1:0/a' is not a valid image reference: the registry port '0' is not a port number. Use registry/repository:tag or registry/repository@sha256:<64 hex digits>." });
  });

  it('knows every loopback address of 127.0.0.0/8, and nothing that only contains one', () => {
    for (const host of ['127.10.0.1', '127.0.10.1', '127.0.0.10', '127.255.255.254:5000']) assert.ok(isLoopbackRegistry(host), host);
    for (const host of ['1127.0.0.1', '127.0.0.1.example', '127.0.0', '127.0.0.1x', 'localhost.example']) assert.ok(!isLoopbackRegistry(host), host);
  });
});
