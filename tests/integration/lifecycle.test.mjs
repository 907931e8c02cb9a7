// Process lifecycle: clean exit on SIGTERM/SIGINT with subscribers connected,
// the API document's config file, config errors, and the example binary.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import {
  startServer, runToExit, subscribe, broadcast, waitFor, EXAMPLE_BIN, EVENTS, DEMO,
} from './harness.mjs';

const servers = [];
after(async () => {
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
});
const start = async (opts) => {
  const s = await startServer(opts);
  servers.push(s);
  return s;
};

for (const signal of ['SIGTERM', 'SIGINT']) {
  test(`${signal} with subscribers connected: exit code 0 within 2 s`, async () => {
    const server = await start();
    const subs = await Promise.all([
      subscribe(`${server.base}${EVENTS}/stream/default`),
      subscribe(`${server.base}${EVENTS}/stream/system`),
      subscribe(`${server.base}${DEMO}/stream/demo-notifications`),
    ]);
    const t0 = Date.now();
    const code = await server.stop(signal);
    const took = Date.now() - t0;
    assert.equal(code, 0, `exit code ${code}; stderr:\n${server.stderrText().slice(-2000)}`);
    assert.ok(took < 2000, `exit took ${took} ms`);
    // The streams are ended, not left hanging.
    await Promise.all(subs.map((s) => s.waitEnd()));
    for (const s of subs) assert.equal(s.errors.filter((e) => !e.startsWith('socket:')).length, 0, s.errors.join('; '));
  });
}

test("the API document's config.yaml (services: service_g, app: debug) starts and logs connections", async () => {
  const server = await start({ config: 'services:\n  service_g: true\napp:\n  debug: true\n' });
  const s = await subscribe(`${server.base}${EVENTS}/stream/default`);
  await broadcast(server.base, EVENTS, { stream_id: 'default', type: 'debug_probe', message: 'x' });
  await s.nextEvent((e) => e.json && e.json.type === 'debug_probe');
  await waitFor(() => /connect/i.test(server.stderrText()), 'a debug log line about the connection');
  await s.close();
  await waitFor(() => /disconnect|unsubscrib|closed/i.test(server.stderrText()),
    'a debug log line about the disconnection');
  const d = await subscribe(`${server.base}${DEMO}/stream/demo-notifications`);
  await d.close();
  const code = await server.stop('SIGTERM');
  assert.equal(code, 0);
});

test('an unknown config key: exit code 2, stderr names the key', async () => {
  const res = await runToExit({ config: 'sse:\n  heartbeat_interval: 1s\n  bogus_setting: 3\n' });
  assert.equal(res.code, 2, `exit code ${res.code} (signal ${res.signal}); stderr:\n${res.stderr}`);
  assert.match(res.stderr, /bogus_setting/);
});

test('an unknown top-level config section: exit code 2, stderr names it', async () => {
  const res = await runToExit({ config: 'nonsense_section:\n  a: 1\n' });
  assert.equal(res.code, 2, `exit code ${res.code}; stderr:\n${res.stderr}`);
  assert.match(res.stderr, /nonsense_section/);
});

test('a bad config value: exit code 2, stderr names the key', async () => {
  for (const [yaml, key] of [
    ['sse:\n  heartbeat_interval: banana\n', 'heartbeat_interval'],
    ['sse:\n  mailbox_capacity: -5\n', 'mailbox_capacity'],
    ['server:\n  header_timeout: [1, 2]\n', 'header_timeout'],
  ]) {
    const res = await runToExit({ config: yaml });
    assert.equal(res.code, 2, `${key}: exit code ${res.code}; stderr:\n${res.stderr}`);
    assert.match(res.stderr, new RegExp(key), `stderr names ${key}`);
  }
});

test('malformed YAML and a missing config file: exit code 2', async () => {
  const res = await runToExit({ config: 'sse: [unclosed\n' });
  assert.equal(res.code, 2, `malformed YAML: exit code ${res.code}; stderr:\n${res.stderr}`);
  const missing = await runToExit({ args: ['--config', '/nonexistent/eventcast.yaml'] });
  assert.equal(missing.code, 2, `missing file: exit code ${missing.code}; stderr:\n${missing.stderr}`);
  assert.match(missing.stderr, /nonexistent\/eventcast\.yaml/);
});

test('the example binary serves order_created events on /api/v1/orders/stream/orders', async () => {
  assert.ok(existsSync(EXAMPLE_BIN), `example binary ${EXAMPLE_BIN} exists`);
  const server = await start({ bin: EXAMPLE_BIN });
  const s = await subscribe(`${server.base}/api/v1/orders/stream/orders`);
  const ev = await s.nextEvent((e) => e.json && e.json.type === 'order_created', { what: 'an order_created event' });
  assert.equal(ev.json.stream_id, 'orders');
  assert.match(ev.id, /^\d+$/);
  assert.match(ev.json.id, /^evt_/);
  assert.equal(typeof ev.json.data, 'object');
  await s.close();
  const code = await server.stop('SIGTERM');
  assert.equal(code, 0);
});
