#!/usr/bin/env node
// A chat participant on the official socket.io-client 2.0.4 (websocket only), for testing bots:
// it subscribes to a space, says `--count` numbered lines (`<text> 1`, `<text> 2`, …) every
// `--interval` ms, waits until each has been answered with `<answer-prefix><line>` by someone
// else, then listens `--grace` ms more (so a late duplicate is seen) and closes.
//
// Usage:
//   node js-chatter.js --url http://127.0.0.1:PORT/chat --token T [--space ID] [--count N]
//                      [--text TEXT] [--answer-prefix P] [--interval MS] [--grace MS]
//                      [--timeout MS]
//
// stdout: one JSON line per MESSAGE_SENT from someone else, {"event":"MESSAGE_SENT","data":…},
// then exactly one final line:
//   RESULT ok                 exit 0 (every line answered)
//   RESULT timeout <stage>    exit 2
'use strict';

const io = require('socket.io-client');

const opts = {
  url: null, token: null, space: 's1', count: 5, text: 'js says', answerPrefix: 'echo: ',
  interval: 50, grace: 1000, timeout: 20000,
};
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const value = () => {
    if (i + 1 >= args.length) usage(`missing value for ${args[i]}`);
    return args[++i];
  };
  switch (args[i]) {
    case '--url': opts.url = value(); break;
    case '--token': opts.token = value(); break;
    case '--space': opts.space = value(); break;
    case '--count': opts.count = Number(value()); break;
    case '--text': opts.text = value(); break;
    case '--answer-prefix': opts.answerPrefix = value(); break;
    case '--interval': opts.interval = Number(value()); break;
    case '--grace': opts.grace = Number(value()); break;
    case '--timeout': opts.timeout = Number(value()); break;
    default: usage(`unknown argument ${JSON.stringify(args[i])}`);
  }
}
if (!opts.url || !opts.token) usage('--url and --token are required');

function usage(msg) {
  process.stderr.write(`js-chatter: ${msg}\n`);
  process.exit(64);
}

let stage = 'connect';
function finish(line, code) {
  process.stdout.write(`RESULT ${line}\n`);
  socket.close();
  process.exit(code);
}
setTimeout(() => finish(`timeout ${stage}`, 2), opts.timeout);

const socket = io(opts.url, {
  transports: ['websocket'],
  reconnection: false,
  query: { tokenType: 'jwt', token: opts.token },
});
const lines = [];
for (let k = 1; k <= opts.count; k++) lines.push(`${opts.text} ${k}`);
const unanswered = new Set(lines);

socket.on('connect', () => {
  stage = 'subscribe';
  socket.emit('SUBSCRIBE_CHANNEL', { channel: { _id: opts.space, type: 'topic' } });
});
socket.on('CHANNEL_SUBSCRIBED', () => {
  stage = 'answers';
  lines.forEach((text, i) => setTimeout(() => {
    socket.emit('SEND_MESSAGE', { category: 'chat', topicId: opts.space, content: { bodyText: text } });
  }, i * opts.interval));
});
socket.on('MESSAGE_SENT', (message) => {
  const mine = message && message.sender && message.sender._id === opts.token;
  if (mine) return;
  process.stdout.write(`${JSON.stringify({ event: 'MESSAGE_SENT', data: message })}\n`);
  const text = message && message.content && message.content.bodyText;
  if (typeof text === 'string' && text.startsWith(opts.answerPrefix)) {
    unanswered.delete(text.slice(opts.answerPrefix.length));
    if (unanswered.size === 0 && stage === 'answers') {
      stage = 'grace';
      setTimeout(() => finish('ok', 0), opts.grace);
    }
  }
});
