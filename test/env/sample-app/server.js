// The project's sample app: a small HTTP server whose behaviour comes from its environment, so that a "bad build"
// is a real image with other settings (README.md beside this file lists the knobs). It runs in the image's layer
// as `node server.js`, and listens on the pod's own address (POD_IP), as every replica of a Deployment does.
'use strict';
const http = require('node:http');

const env = process.env;
const port = Number(env.PORT || 8080);
const host = env.POD_IP || env.HOST || '127.0.0.1';
const errorRatio = Number(env.ERROR_RATIO || 0);
const latencyMs = Number(env.LATENCY_MS || 0);
const startupDelayMs = Number(env.STARTUP_DELAY_SECONDS || 0) * 1000;
const unhealthy = env.UNHEALTHY === 'true';
const version = env.VERSION || '1';
const name = env.HOSTNAME || 'sample-app';

// Prometheus' default histogram buckets (client_golang's DefBuckets).
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const requests = new Map();
const histogram = { counts: BUCKETS.map(() => 0), sum: 0, count: 0 };

function observe(code, seconds) {
  requests.set(code, (requests.get(code) || 0) + 1);
  BUCKETS.forEach((b, i) => { if (seconds <= b) histogram.counts[i]++; });
  histogram.sum += seconds;
  histogram.count++;
}

function metrics() {
  const lines = ['# HELP http_requests_total Requests answered, by status code.', '# TYPE http_requests_total counter'];
  for (const [code, n] of [...requests].sort()) lines.push(`http_requests_total{code="${code}"} ${n}`);
  lines.push('# HELP http_request_duration_seconds Time to answer a request.', '# TYPE http_request_duration_seconds histogram');
  BUCKETS.forEach((b, i) => lines.push(`http_request_duration_seconds_bucket{le="${b}"} ${histogram.counts[i]}`));
  lines.push(`http_request_duration_seconds_bucket{le="+Inf"} ${histogram.count}`);
  lines.push(`http_request_duration_seconds_sum ${histogram.sum}`, `http_request_duration_seconds_count ${histogram.count}`);
  return `${lines.join('\n')}\n`;
}

// After SIGTERM: every answer closes its connection, so a client on a kept-alive connection reconnects (to the
// pods the Service still selects) instead of meeting the close of an idle connection in the middle of a request.
let draining = false;
const DRAIN_MS = 1000;

/** An answer's headers: its content type, and `Connection: close` once draining. */
function headers(contentType) {
  return { 'content-type': contentType, ...(draining ? { connection: 'close' } : {}) };
}

function answer(res, code, body, started) {
  res.writeHead(code, headers('application/json'));
  res.end(JSON.stringify(body));
  observe(String(code), (Date.now() - started) / 1000);
}

const server = http.createServer((req, res) => {
  const started = Date.now();
  const url = new URL(req.url, 'http://app');
  if (url.pathname === '/metrics') {
    res.writeHead(200, headers('text/plain; version=0.0.4'));
    return res.end(metrics());
  }
  if (url.pathname === '/healthz') {
    return answer(res, unhealthy ? 503 : 200, { status: unhealthy ? 'unhealthy' : 'healthy', pod: name, version }, started);
  }
  if (url.pathname.startsWith('/api/')) {
    return setTimeout(() => {
      if (Math.random() < errorRatio) return answer(res, 500, { error: 'injected failure', pod: name, version }, started);
      answer(res, 200, { path: url.pathname, pod: name, version }, started);
    }, latencyMs);
  }
  answer(res, 404, { error: 'not found' }, started);
});
server.keepAliveTimeout = 5000;

// A build that crashes: without EXIT_AFTER_SECONDS it exits before it ever listens, as a program that fails at start.
if (env.EXIT_CODE !== undefined) {
  const code = Number(env.EXIT_CODE);
  const exit = () => {
    console.log(`sample-app exiting with code ${code}`);
    process.exit(code);
  };
  if (Number(env.EXIT_AFTER_SECONDS || 0) > 0) setTimeout(exit, Number(env.EXIT_AFTER_SECONDS) * 1000);
  else exit();
}

setTimeout(() => {
  server.listen(port, host, () => console.log(`sample-app ${version} (${name}) listening on ${host}:${port}`));
}, startupDelayMs);


// A graceful shutdown as a well-behaved server does it: drain for a second (answers close their connections), then
// stop listening and close what is idle (server.close does both), and exit once the last answer is sent.
process.on('SIGTERM', () => {
  console.log('sample-app received SIGTERM, draining');
  draining = true;
  setTimeout(() => {
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  }, DRAIN_MS).unref();
});
