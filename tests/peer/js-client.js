#!/usr/bin/env node
// Conformance client: the official socket.io-client 2.0.4 (websocket only) running the
// Spaces chat scenario against a server.
//
// Usage:
//   node js-client.js --url http://127.0.0.1:PORT/chat [--token T] [--token-type jwt|oauth]
//                     [--space ID] [--timeout MS] [--text TEXT]
//   (--token omitted = no token in the query at all)
//
// Scenario: connect with query {tokenType, token}; on `connect` send SUBSCRIBE_CHANNEL;
// on CHANNEL_SUBSCRIBED send a SEND_MESSAGE chat carrying a unique loopbackMetadata; wait for
// our own MESSAGE_SENT echo (matched by loopbackMetadata) AND for at least one `pong`; then
// UNSUBSCRIBE_CHANNEL, wait for CHANNEL_UNSUBSCRIBED, close.
//
// stdout: one JSON line per event received, {"event":NAME,"data":...} (for server events with
// several arguments, data is the array of arguments; built-ins: connect, disconnect, error,
// connect_error, connect_timeout, ping, pong), then exactly one final line:
//   RESULT ok                 exit 0
//   RESULT fail <reason>      exit 1
//   RESULT timeout <stage>    exit 2
'use strict';

const io = require('socket.io-client');

function parseArgs(argv) {
  const opts = { url: null, token: undefined, tokenType: 'jwt', space: 'space1', timeout: 10000, text: 'hello from js-client' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`missing value for ${a}`);
      return argv[++i];
    };
    switch (a) {
      case '--url': opts.url = value(); break;
      case '--token': opts.token = value(); break;
      case '--token-type': opts.tokenType = value(); break;
      case '--space': opts.space = value(); break;
      case '--text': opts.text = value(); break;
      case '--timeout': {
        const v = Number(value());
        if (!Number.isInteger(v) || v <= 0) usage('--timeout needs a positive integer');
        opts.timeout = v;
        break;
      }
      default: usage(`unknown argument ${JSON.stringify(a)}`);
    }
  }
  if (!opts.url) usage('--url is required');
  return opts;
}

function usage(msg) {
  process.stderr.write(`js-client: ${msg}\n`);
  process.exit(64);
}

const opts = parseArgs(process.argv.slice(2));
const clientVersion = require('socket.io-client/package.json').version;
process.stderr.write(`js-client: socket.io-client ${clientVersion}\n`);

function print(event, data) {
  if (finished) return; // RESULT must stay the last line
  process.stdout.write(JSON.stringify({ event, data: data === undefined ? null : data }) + '\n');
}

let socket = null;
let finished = false;
let deadline = null;
function finish(code, line) {
  if (finished) return;
  finished = true;
  if (deadline) clearTimeout(deadline);
  process.stdout.write(`RESULT ${line}\n`);
  try {
    if (socket) socket.close();
  } catch (_) { /* exiting anyway */ }
  // Give the websocket close frame a moment to leave before exiting.
  setTimeout(() => process.exit(code), 50);
}

const query = { tokenType: opts.tokenType };
if (opts.token !== undefined) query.token = opts.token;

socket = io(opts.url, {
  transports: ['websocket'],
  query,
  forceNew: true,
  reconnection: false,
});

const loopbackMetadata = `js-client-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
let stage = 'connect';
let gotEcho = false;
let sawPong = false;

// Print every server event before the handlers below see it (2.0.4 has no onAny).
const originalOnevent = socket.onevent;
socket.onevent = function onevent(packet) {
  const args = packet.data || [];
  print(String(args[0]), args.length === 2 ? args[1] : args.slice(1));
  return originalOnevent.call(this, packet);
};

function maybeUnsubscribe() {
  if (stage !== 'echo+pong' || !gotEcho || !sawPong) return;
  stage = 'unsubscribe';
  socket.emit('UNSUBSCRIBE_CHANNEL', { channel: { _id: opts.space, type: 'topic' } });
}

socket.on('connect', () => {
  print('connect', null);
  if (stage !== 'connect') return finish(1, 'fail unexpected second connect');
  stage = 'subscribe';
  socket.emit('SUBSCRIBE_CHANNEL', { channel: { _id: opts.space, type: 'topic' } });
});
socket.on('disconnect', (reason) => {
  print('disconnect', reason);
  finish(1, `fail disconnect ${reason} during ${stage}`);
});
socket.on('error', (err) => {
  print('error', err instanceof Error ? err.message : err);
  finish(1, `fail error ${JSON.stringify(err instanceof Error ? err.message : err)}`);
});
socket.on('connect_error', (err) => {
  print('connect_error', err && err.message ? err.message : String(err));
  finish(1, `fail connect_error ${err && err.message}`);
});
socket.on('connect_timeout', (t) => {
  print('connect_timeout', t);
  finish(1, 'fail connect_timeout');
});
socket.on('ping', () => print('ping', null));
socket.on('pong', (latency) => {
  print('pong', latency);
  sawPong = true;
  maybeUnsubscribe();
});

socket.on('CHANNEL_SUBSCRIBED', (data) => {
  if (stage !== 'subscribe') return;
  if (!data || !data.channel || data.channel._id !== opts.space) return finish(1, 'fail CHANNEL_SUBSCRIBED for another channel');
  stage = 'echo+pong';
  socket.emit('SEND_MESSAGE', {
    category: 'chat',
    topicId: opts.space,
    content: { bodyText: opts.text },
    loopbackMetadata,
  });
});
socket.on('SUBSCRIBE_CHANNEL_FAILED', (data) => finish(1, `fail SUBSCRIBE_CHANNEL_FAILED ${JSON.stringify(data && data.error)}`));
socket.on('SEND_MESSAGE_FAILED', (data) => finish(1, `fail SEND_MESSAGE_FAILED ${JSON.stringify(data && data.error)}`));
socket.on('MESSAGE_SENT', (msg) => {
  if (!msg || msg.loopbackMetadata !== loopbackMetadata) return;
  if (msg.topicId !== opts.space) return finish(1, 'fail echo has wrong topicId');
  if (!msg.content || msg.content.bodyText !== opts.text) return finish(1, 'fail echo has wrong bodyText');
  if (!msg.sender || typeof msg.sender._id !== 'string') return finish(1, 'fail echo has no sender._id');
  if (typeof msg._id !== 'string' || msg._id === '') return finish(1, 'fail echo has no _id');
  gotEcho = true;
  maybeUnsubscribe();
});
socket.on('CHANNEL_UNSUBSCRIBED', (data) => {
  if (stage !== 'unsubscribe') return;
  if (!data || !data.channel || data.channel._id !== opts.space) return finish(1, 'fail CHANNEL_UNSUBSCRIBED for another channel');
  finish(0, 'ok');
});

deadline = setTimeout(() => {
  const waiting = stage === 'echo+pong' ? `${gotEcho ? '' : 'echo '}${sawPong ? '' : 'pong'}`.trim() : stage;
  finish(2, `timeout waiting for ${waiting}`);
}, opts.timeout);
