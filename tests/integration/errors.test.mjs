// Every error of the contract, table-driven: status, the JSON error envelope,
// error.field where a field is at fault, and the CORS header. Afterwards an
// existing subscriber is undisturbed.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, request, broadcast, subscribe, nowSec, EVENTS, DEMO,
} from './harness.mjs';

let server;
let base;
let watcher; // subscribed before any bad input, checked at the end

before(async () => {
  server = await startServer();
  base = server.base;
  watcher = await subscribe(`${base}${EVENTS}/stream/watched-${process.pid}`);
});

after(async () => {
  if (watcher) watcher.close();
  if (server) await server.stop();
});

function assertError(res, status, field, what) {
  assert.equal(res.status, status, `${what}: status ${res.status} ${res.text.slice(0, 300)}`);
  assert.equal(res.headers['access-control-allow-origin'], '*', `${what}: CORS header`);
  assert.match(res.headers['content-type'] || '', /application\/json/, `${what}: JSON content type`);
  assert.ok(res.json, `${what}: body is JSON: ${res.text.slice(0, 200)}`);
  assert.equal(res.json.success, false, `${what}: success false`);
  assert.equal(typeof res.json.error, 'object', `${what}: error object`);
  assert.equal(typeof res.json.error.code, 'string', `${what}: error.code`);
  assert.ok(res.json.error.code.length > 0, `${what}: error.code non-empty`);
  assert.equal(typeof res.json.error.message, 'string', `${what}: error.message`);
  assert.ok(Number.isInteger(res.json.timestamp) && Math.abs(res.json.timestamp - nowSec()) < 120,
    `${what}: timestamp ${res.json.timestamp}`);
  if (field !== undefined) assert.equal(res.json.error.field, field, `${what}: error.field`);
}

const bigMessage = 'x'.repeat(70 * 1024);
const badIds = ['bad%20id', '-x', 'a'.repeat(129), '.hidden'];

// [name, method, path, body (string: raw), status, field]
const cases = [];
for (const p of [EVENTS, DEMO]) {
  cases.push(
    [`${p} malformed JSON`, 'POST', `${p}/broadcast`, '{"type": "t", "message": ', 400],
    [`${p} not JSON at all`, 'POST', `${p}/broadcast`, 'hello', 400],
    [`${p} empty body`, 'POST', `${p}/broadcast`, '', 400],
    [`${p} trailing garbage`, 'POST', `${p}/broadcast`, '{"type":"t","message":"m"} x', 400],
    [`${p} JSON array`, 'POST', `${p}/broadcast`, '[1,2]', 400],
    [`${p} missing type`, 'POST', `${p}/broadcast`, { message: 'm' }, 400, 'type'],
    [`${p} non-string type`, 'POST', `${p}/broadcast`, { type: 5, message: 'm' }, 400, 'type'],
    [`${p} missing message`, 'POST', `${p}/broadcast`, { type: 't' }, 400, 'message'],
    [`${p} non-string message`, 'POST', `${p}/broadcast`, { type: 't', message: ['m'] }, 400, 'message'],
    [`${p} data is an array`, 'POST', `${p}/broadcast`, { type: 't', message: 'm', data: [1] }, 400, 'data'],
    [`${p} data is a string`, 'POST', `${p}/broadcast`, { type: 't', message: 'm', data: 'x' }, 400, 'data'],
    [`${p} body over 64 KiB`, 'POST', `${p}/broadcast`, { type: 't', message: bigMessage }, 413],
    [`${p} unknown action`, 'POST', `${p}/stream/default/explode`, undefined, 404],
    [`${p} unknown route`, 'GET', `${p}/nothing-here`, undefined, 404],
    [`${p} DELETE streams`, 'DELETE', `${p}/streams`, undefined, 405],
    [`${p} POST streams`, 'POST', `${p}/streams`, undefined, 405],
    [`${p} GET broadcast`, 'GET', `${p}/broadcast`, undefined, 405],
    [`${p} PUT broadcast`, 'PUT', `${p}/broadcast`, { type: 't', message: 'm' }, 405],
    [`${p} GET start`, 'GET', `${p}/stream/default/start`, undefined, 405],
    [`${p} POST on the SSE route`, 'POST', `${p}/stream/default`, undefined, 405],
    [`${p} stop unknown stream`, 'POST', `${p}/stream/unknown-${process.pid}/stop`, undefined, 404],
    [`${p} pause unknown stream`, 'POST', `${p}/stream/unknown-${process.pid}/pause`, undefined, 404],
    [`${p} resume unknown stream`, 'POST', `${p}/stream/unknown-${process.pid}/resume`, undefined, 404],
  );
  for (const id of badIds) {
    const shown = id.length > 20 ? `${id.slice(0, 8)}…(${id.length})` : id;
    cases.push([`${p} subscribe to "${shown}"`, 'GET', `${p}/stream/${id}`, undefined, 400]);
    for (const a of ['start', 'stop', 'pause', 'resume']) {
      cases.push([`${p} ${a} "${shown}"`, 'POST', `${p}/stream/${id}/${a}`, undefined, 400]);
    }
  }
  cases.push([`${p} broadcast to stream_id "bad id"`, 'POST', `${p}/broadcast`,
    { stream_id: 'bad id', type: 't', message: 'm' }, 400, 'stream_id']);
  cases.push([`${p} broadcast to a 129-char stream_id`, 'POST', `${p}/broadcast`,
    { stream_id: 'a'.repeat(129), type: 't', message: 'm' }, 400, 'stream_id']);
  cases.push([`${p} broadcast with non-string stream_id`, 'POST', `${p}/broadcast`,
    { stream_id: 7, type: 't', message: 'm' }, 400, 'stream_id']);
}
cases.push(['unknown API prefix', 'GET', '/api/v1/nothing/streams', undefined, 404]);
cases.push(['root path', 'GET', '/', undefined, 404]);
cases.push(['unknown version', 'GET', '/api/v2/events/streams', undefined, 404]);

test('error table', async (t) => {
  for (const [name, method, path, body, status, field] of cases) {
    await t.test(name, async () => {
      const res = await request(base, method, path, { body });
      assertError(res, status, field, name);
    });
  }
});

test('409 for generator state conflicts', async () => {
  const id = `conflict-${process.pid}`;
  const s = await subscribe(`${base}${EVENTS}/stream/${id}`); // the stream exists, no generator
  const act = (a) => request(base, 'POST', `${EVENTS}/stream/${id}/${a}`);
  assertError(await act('pause'), 409, undefined, 'pause without generator');
  assertError(await act('resume'), 409, undefined, 'resume without generator');
  assertError(await act('stop'), 409, undefined, 'stop without generator');
  assert.equal((await act('start')).status, 200);
  assertError(await act('resume'), 409, undefined, 'resume when not paused');
  assert.equal((await act('pause')).status, 200);
  assertError(await act('pause'), 409, undefined, 'pause when paused');
  assert.equal((await act('resume')).status, 200);
  assert.equal((await act('stop')).status, 200);
  assertError(await act('stop'), 409, undefined, 'stop after stop');
  await s.close();
});

test('a 128-character stream id is valid', async () => {
  const id = `A${'b'.repeat(126)}9`;
  assert.equal(id.length, 128);
  const res = await request(base, 'POST', `${EVENTS}/stream/${id}/start`);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.message, `Stream '${id}' started`);
  assert.equal((await request(base, 'POST', `${EVENTS}/stream/${id}/stop`)).status, 200);
});

test('OPTIONS preflight on API paths', async () => {
  // [path, the method its route takes]
  for (const [path, method] of [[`${EVENTS}/broadcast`, 'POST'], [`${EVENTS}/streams`, 'GET'],
    [`${EVENTS}/stream/default`, 'GET'], [`${DEMO}/stream/demo-notifications/pause`, 'POST'],
    [`${DEMO}/broadcast`, 'POST']]) {
    const res = await request(base, 'OPTIONS', path, {
      headers: {
        Origin: 'http://example.com',
        'Access-Control-Request-Method': method,
        'Access-Control-Request-Headers': 'content-type, cache-control',
      },
    });
    assert.ok([200, 204].includes(res.status), `${path}: ${res.status} ${res.text}`);
    assert.equal(res.headers['access-control-allow-origin'], '*', `${path}: ACAO`);
    assert.match(res.headers['access-control-allow-methods'] || '', new RegExp(`\\b${method}\\b`), `${path}: ACAM`);
    assert.ok((res.headers['access-control-allow-headers'] || '').length > 0, `${path}: ACAH`);
    assert.match(res.headers['access-control-allow-headers'], /content-type/i, `${path}: ACAH has Content-Type`);
  }
});

test('CORS header on successful responses too', async () => {
  const res = await request(base, 'GET', `${EVENTS}/streams`);
  assert.equal(res.status, 200);
  assert.equal(res.headers['access-control-allow-origin'], '*');
});

test('after all that, the existing subscriber is undisturbed', async () => {
  assert.equal(server.alive(), true, 'server alive');
  assert.equal(watcher.closed, undefined, 'subscriber still connected');
  const m = `after-errors-${process.pid}`;
  await broadcast(base, EVENTS, { stream_id: `watched-${process.pid}`, type: 'still_here', message: 'ok', data: { marker: m } });
  const ev = await watcher.nextEvent((e) => e.json && e.json.data && e.json.data.marker === m);
  assert.equal(ev.json.stream_id, `watched-${process.pid}`);
  // It saw its connection event and this broadcast, nothing else.
  assert.deepEqual(watcher.events.map((e) => e.json && e.json.type), ['connection', 'still_here']);
  assert.equal(watcher.errors.length, 0, watcher.errors.join('; '));
});
