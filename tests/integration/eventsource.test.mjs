// The API document's browser pattern, unchanged, with the npm `eventsource`
// package (the W3C EventSource for Node): onmessage, JSON.parse(event.data),
// switch on eventData.type.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import EventSource from 'eventsource';
import { startServer, broadcast, waitFor, EVENTS, DEMO } from './harness.mjs';

let server;
const sources = [];

before(async () => {
  server = await startServer();
});

after(async () => {
  for (const es of sources) es.close();
  if (server) await server.stop();
});

test("the document's JavaScript client receives connection, broadcast and generated events", async () => {
  const received = [];
  const userActions = [];
  const systemAlerts = [];
  const notifications = [];
  const errors = [];
  const lastEventIds = [];
  let opened = false;

  const handleUserAction = (e) => userActions.push(e);
  const handleSystemAlert = (e) => systemAlerts.push(e);
  const showNotification = (e) => notifications.push(e);

  // As in the document, but against the test server's origin.
  const eventSource = new EventSource(`${server.base}/api/v1/events/stream/default`);
  sources.push(eventSource);

  eventSource.onopen = function () {
    opened = true;
  };

  eventSource.onmessage = function (event) {
    const eventData = JSON.parse(event.data);
    received.push(eventData);
    lastEventIds.push(event.lastEventId);

    switch (eventData.type) {
      case 'user_action':
        handleUserAction(eventData);
        break;
      case 'system_alert':
        handleSystemAlert(eventData);
        break;
      case 'notification':
        showNotification(eventData);
        break;
    }
  };

  eventSource.onerror = function (error) {
    errors.push(error);
    eventSource.close();
  };

  await waitFor(() => received.some((e) => e.type === 'connection') || errors.length,
    'the connection event');
  assert.deepEqual(errors, []);
  assert.equal(opened, true, 'onopen fired');
  assert.equal(eventSource.readyState, EventSource.OPEN);
  assert.equal(received[0].type, 'connection', 'connection is the first message');
  assert.equal(received[0].stream_id, 'default');
  assert.equal(lastEventIds[0], '', 'the connection event carries no id');

  const marker = `es-${process.pid}`;
  await broadcast(server.base, EVENTS, {
    stream_id: 'default', type: 'user_action', message: 'User logged in',
    data: { user_id: '12345', action: 'login', marker },
  });
  const mine = await waitFor(() => userActions.find((e) => e.data && e.data.marker === marker) || errors.length,
    'the broadcast user_action in handleUserAction');
  assert.deepEqual(errors, []);
  assert.equal(mine.message, 'User logged in');
  assert.equal(mine.stream_id, 'default');
  assert.match(mine.id, /^evt_/);

  // Generated events of the default stream come through the same handler.
  await waitFor(() => received.some((e) => e.type !== 'connection' && !(e.data && e.data.marker === marker))
    || errors.length, 'a generated event');
  assert.deepEqual(errors, []);
  const generatedTypes = received.filter((e) => e.type !== 'connection' && !(e.data && e.data.marker)).map((e) => e.type);
  for (const type of generatedTypes) {
    assert.ok(['user_action', 'notification', 'data_update', 'system_alert', 'metric_update'].includes(type),
      `generated type ${type} is one of the document's`);
  }

  // lastEventId follows the SSE ids: numeric, strictly increasing.
  const ids = lastEventIds.slice(1).map(Number);
  assert.ok(ids.length >= 2, `ids ${lastEventIds.join(',')}`);
  ids.forEach((id, i) => {
    assert.ok(Number.isInteger(id) && id > 0, `lastEventId ${lastEventIds[i + 1]}`);
    if (i > 0) assert.ok(id > ids[i - 1], `lastEventId increases: ${ids.join(',')}`);
  });

  eventSource.close();
  assert.equal(eventSource.readyState, EventSource.CLOSED);
});

test('the React pattern on the broadcast-demo instance: onopen, last 10 events', async () => {
  let isConnected = false;
  let events = [];
  const eventSource = new EventSource(`${server.base}${DEMO}/stream/demo-notifications`);
  sources.push(eventSource);
  eventSource.onopen = () => { isConnected = true; };
  eventSource.onmessage = (event) => {
    const eventData = JSON.parse(event.data);
    events = [...events.slice(-9), eventData];
  };
  eventSource.onerror = () => { isConnected = false; };

  await waitFor(() => isConnected && events.some((e) => e.type === 'connection'), 'connected');
  for (let i = 0; i < 12; i++) {
    await broadcast(server.base, DEMO, { stream_id: 'demo-notifications', type: 'notification', message: `n${i}` });
  }
  await waitFor(() => events.some((e) => e.message === 'n11'), 'the last broadcast');
  assert.equal(isConnected, true);
  assert.equal(events.length, 10);
  assert.ok(events.every((e) => e.stream_id === 'demo-notifications'));
  eventSource.close();
});
