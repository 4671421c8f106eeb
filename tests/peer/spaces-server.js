#!/usr/bin/env node
// Spaces-like test server built on the REAL socket.io package (2.0.4 or 1.7.3).
//
// It plays the Avaya Spaces `/chat` namespace closely enough for conformance and
// integration tests of the Rust client (see docs/spaces-socket-api.md §7). Everything that
// is not documented by Spaces is an explicit, documented convention of this file.
//
// Usage:
//   node spaces-server.js [--sio 2.0.4|1.7.3] [--port 0] [--ping-interval MS]
//                         [--ping-timeout MS] [--log-frames] [--late-middleware]
//                         [--max-payload BYTES] [--drop-loopback] [--odd-fields]
//                         [--error-after-connect] [--unanswered-subscribe PREFIX]
//                         [--rate-limit N:MS] [--refuse-tokens PREFIX]
//
// Live-service modes (each mirrors an EmulatorConfig mode of the Rust emulator, so the client's
// policies can be proved against the real socket.io too):
//   --drop-loopback          the sender's own MESSAGE_SENT comes back WITHOUT its loopbackMetadata
//                            (emulator: drop_loopback)
//   --odd-fields             every MESSAGE_SENT carries fields of unexpected types: a number
//                            `version` (2), `content.assignees` as plain ids (["u1","u2"]) and
//                            `mentions` as an object ({"odd":true}) (emulator: odd_message_fields)
//   --error-after-connect    right after answering `40/chat`, sends the error packet
//                            44/chat,{"message":"server hiccup","code":"server.error"}; the
//                            connection stays (emulator: Emulator::send_error, codes::SERVER_ERROR)
//   --unanswered-subscribe P SUBSCRIBE_CHANNEL to a space id starting with P is never answered: no
//                            CHANNEL_SUBSCRIBED, no failure, no room (emulator: unanswered_spaces)
//   --rate-limit N:MS        at most N SEND_MESSAGEs per connection per fixed window of MS ms (the
//                            window starts at the first SEND_MESSAGE after the previous one ended);
//                            one over it is answered SEND_MESSAGE_FAILED with the payload, `sender`
//                            and "error":"rate.limit.exceeded", and is not delivered. Refused sends
//                            count too (emulator: message_rate_limit, codes::RATE_LIMITED)
//   --refuse-tokens P        every token starting with P is refused like a "bad" one (invalid
//                            signature), e.g. `eyJ` for every JWT: a refreshing token source
//                            (service-app minting) is refused on every attempt
//
// stdout protocol (one line each):
//   LISTENING <port>                 always the first line, once the server listens on 127.0.0.1
//   OK <verb>[ <result>]             answer to a stdin command (see below)
//   ERR <verb> <reason>              a stdin command that could not be run
//   {"dir":"in"|"out","sid":S,"data":D[,"binary":true]}
//                                    with --log-frames: one engine.io packet received/sent,
//                                    D = the exact websocket text frame (or hex of a binary frame)
//   {"dir":"close","sid":S,"reason":R}
//                                    with --log-frames: an engine.io connection closed
//   {"dir":"leave","sid":S,"reason":R}
//                                    with --log-frames: a /chat socket disconnected, with
//                                    socket.io's reason: "client namespace disconnect" for a
//                                    clean leave (the client's 41/chat), "transport close" or
//                                    "ping timeout" when the connection was lost
// Diagnostics (versions, errors) go to stderr only.
//
// Token conventions (handshake query `token`, `tokenType`, read by /chat middleware):
//   missing/empty token   -> 44/chat,{"message":"No Authorization header was found","code":"credentials_required","type":"UnauthorizedError"}
//   "expired"             -> 44/chat,{"message":"jwt expired","code":"invalid_token",...}
//   starts with "bad"     -> 44/chat,{"message":"invalid signature","code":"invalid_token",...}
//   tokenType not jwt/oauth (missing means jwt)
//                         -> 44/chat,{"message":"unsupported token type","code":"invalid_token",...}
//   anything else         -> valid. User id = the token up to its first "~" (so "alice~1" and
//                            "alice~2" are two sessions of user "alice"). Identity:
//                            {_id:<id>, type:"user"|"anonymous" (ids starting "anon"),
//                             username:"<id>@example.test", displayname:"User <id>"}
//
// Space conventions (SUBSCRIBE_CHANNEL):
//   ids starting "locked"    need channel.password == "1234", else SUBSCRIBE_CHANNEL_FAILED
//                            error {code:"invalid.password", message:"space password is missing or wrong"}
//   ids starting "forbidden" always fail: error {code:"not.authorized", message:"user has no access to this space"}
//   any other id             is an open space titled "Space <id>".
//
// stdin commands (one per line):
//   kick                 close every engine.io connection (websocket close 1000) -> OK kick <n>
//   drop                 destroy every engine.io TCP socket without a close frame -> OK drop <n>
//   disconnect-chat      server-side socket.disconnect() on every /chat socket (41/chat,) -> OK disconnect-chat <n>
//   say <spaceId> <text> MESSAGE_SENT from user "server-bot" into that space -> OK say <receivers>
//   stats                -> OK stats {"connections":N,"chatSockets":N,"subscriptions":N,"messages":N,"presenceEvents":N}
//   quit                 -> OK quit, then exit 0
// The process also exits 0 on stdin EOF, SIGTERM or SIGINT.
'use strict';

const http = require('http');
const path = require('path');
const readline = require('readline');
const crypto = require('crypto');
const { createRequire } = require('module');

// ---------------------------------------------------------------- arguments

function parseArgs(argv) {
  const opts = {
    sio: '2.0.4',
    port: 0,
    pingInterval: 25000,
    pingTimeout: 60000,
    logFrames: false,
    lateMiddleware: false,
    maxPayload: 16 * 1024,
    dropLoopback: false,
    oddFields: false,
    errorAfterConnect: false,
    unansweredSubscribe: null,
    rateLimit: null,
    refuseTokens: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) die(`missing value for ${a}`);
      return argv[++i];
    };
    const int = () => {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) die(`${a} needs a non-negative integer, got ${JSON.stringify(v)}`);
      return n;
    };
    switch (a) {
      case '--sio': opts.sio = value(); break;
      case '--port': opts.port = int(); break;
      case '--ping-interval': opts.pingInterval = int(); break;
      case '--ping-timeout': opts.pingTimeout = int(); break;
      case '--max-payload': opts.maxPayload = int(); break;
      case '--log-frames': opts.logFrames = true; break;
      // Reproduces socket.io#3082 on 2.0.4: Namespace#use after attach drops the root `40`.
      case '--late-middleware': opts.lateMiddleware = true; break;
      case '--drop-loopback': opts.dropLoopback = true; break;
      case '--odd-fields': opts.oddFields = true; break;
      case '--error-after-connect': opts.errorAfterConnect = true; break;
      case '--unanswered-subscribe': {
        const prefix = value();
        if (prefix === '') die('--unanswered-subscribe needs a non-empty space id prefix');
        opts.unansweredSubscribe = prefix;
        break;
      }
      case '--refuse-tokens': {
        const prefix = value();
        if (prefix === '') die('--refuse-tokens needs a non-empty token prefix');
        opts.refuseTokens = prefix;
        break;
      }
      case '--rate-limit': {
        const v = value();
        const m = /^([0-9]+):([0-9]+)$/.exec(v);
        if (!m || Number(m[1]) === 0 || Number(m[2]) === 0) die(`--rate-limit needs N:MS (both > 0), got ${JSON.stringify(v)}`);
        opts.rateLimit = { max: Number(m[1]), windowMs: Number(m[2]) };
        break;
      }
      default: die(`unknown argument ${JSON.stringify(a)}`);
    }
  }
  if (opts.sio !== '2.0.4' && opts.sio !== '1.7.3') die(`--sio must be 2.0.4 or 1.7.3, got ${opts.sio}`);
  // engine.io treats 0 as "use the default" (`opts.pingInterval || 25000`).
  if (opts.pingInterval === 0 || opts.pingTimeout === 0) die('ping interval/timeout must be > 0');
  return opts;
}

function die(msg) {
  process.stderr.write(`spaces-server: ${msg}\n`);
  process.exit(64);
}

const opts = parseArgs(process.argv.slice(2));

// ---------------------------------------------------------------- load the real packages

const sioName = opts.sio === '2.0.4' ? 'socket.io' : 'socket.io-1.7.3';
const sioRequire = createRequire(require.resolve(`${sioName}/package.json`));
const SocketIo = require(sioName);
const sioVersion = require(`${sioName}/package.json`).version;
const eioRequire = createRequire(sioRequire.resolve('engine.io/package.json'));
const eioVersion = eioRequire('./package.json').version;
const EioSocket = eioRequire('./lib/socket');
const eioParser = eioRequire('engine.io-parser');
const versions = {
  'socket.io': sioVersion,
  'engine.io': eioVersion,
  'engine.io-parser': eioRequire('engine.io-parser/package.json').version,
  'socket.io-parser': sioRequire('socket.io-parser/package.json').version,
  ws: eioRequire('ws/package.json').version,
};
if (sioVersion !== opts.sio) die(`installed ${sioName} is ${sioVersion}, expected ${opts.sio}`);
process.stderr.write(`spaces-server: ${JSON.stringify(versions)}\n`);

// ---------------------------------------------------------------- output

function out(line) {
  process.stdout.write(line + '\n');
}

// ---------------------------------------------------------------- frame log

if (opts.logFrames) {
  // The open packet and the initial `40` are sent from inside the engine.io Socket
  // constructor, before the server's 'connection' event, so the `packet`/`packetCreate`
  // listeners are attached from onOpen, which runs just before they are sent.
  const originalOnOpen = EioSocket.prototype.onOpen;
  EioSocket.prototype.onOpen = function onOpenWithFrameLog() {
    const sock = this;
    const log = (dir, packet) => {
      // Encode a copy: engine.io-parser 2.1.1 may mutate the packet it encodes.
      eioParser.encodePacket({ type: packet.type, data: packet.data }, true, (encoded) => {
        if (Buffer.isBuffer(encoded)) {
          out(JSON.stringify({ dir, sid: sock.id, data: encoded.toString('hex'), binary: true }));
        } else {
          out(JSON.stringify({ dir, sid: sock.id, data: encoded }));
        }
      });
    };
    sock.on('packet', (packet) => {
      if (packet.type === 'error') {
        // engine.io's sentinel for an undecodable frame; the raw bytes are not available.
        out(JSON.stringify({ dir: 'in', sid: sock.id, error: String(packet.data) }));
      } else {
        log('in', packet);
      }
    });
    sock.on('packetCreate', (packet) => log('out', packet));
    sock.once('close', (reason) => out(JSON.stringify({ dir: 'close', sid: sock.id, reason: String(reason) })));
    return originalOnOpen.apply(this, arguments);
  };
}

// ---------------------------------------------------------------- server

const httpServer = http.createServer((req, res) => {
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('not found');
});

const io = new SocketIo({ serveClient: false });
const chat = io.of('/chat');
const stats = { messages: 0, presenceEvents: 0 };
let nextMessageSeq = 1;
let nextDtsid = 1;

function authError(message, code) {
  const err = new Error(message);
  err.data = { message, code, type: 'UnauthorizedError' };
  return err;
}

function identityFor(token) {
  const id = token.split('~')[0];
  return {
    _id: id,
    type: id.startsWith('anon') ? 'anonymous' : 'user',
    username: `${id}@example.test`,
    displayname: `User ${id}`,
  };
}

// Like the Spaces server: auth is /chat namespace middleware reading the handshake query.
function authenticate(socket, next) {
  const query = (socket.handshake && socket.handshake.query) || {};
  const token = typeof query.token === 'string' ? query.token : '';
  const tokenType = query.tokenType === undefined ? 'jwt' : query.tokenType;
  if (token === '') return next(authError('No Authorization header was found', 'credentials_required'));
  if (tokenType !== 'jwt' && tokenType !== 'oauth') return next(authError('unsupported token type', 'invalid_token'));
  if (token === 'expired') return next(authError('jwt expired', 'invalid_token'));
  if (token.startsWith('bad')) return next(authError('invalid signature', 'invalid_token'));
  if (opts.refuseTokens !== null && token.startsWith(opts.refuseTokens)) {
    return next(authError('invalid signature', 'invalid_token'));
  }
  socket.spaces = {
    user: identityFor(token),
    tokenType,
    sessionId: crypto.randomUUID(),
    topics: new Set(),
  };
  return next();
}

if (!opts.lateMiddleware) chat.use(authenticate);
io.attach(httpServer, {
  pingInterval: opts.pingInterval,
  pingTimeout: opts.pingTimeout,
  // engine.io 3.1.x defaults to `uws` (optional, never installed here); be explicit.
  wsEngine: 'ws',
});
if (opts.lateMiddleware) chat.use(authenticate);

const room = (spaceId) => `topic_${spaceId}`;
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const nonEmptyString = (v) => typeof v === 'string' && v !== '';

function jsonSize(value) {
  try {
    return Buffer.byteLength(JSON.stringify(value) || '', 'utf8');
  } catch (_) {
    return Infinity;
  }
}

function newMessageId() {
  // 24 hex chars, like a MongoDB ObjectId.
  const seq = (nextMessageSeq++).toString(16).padStart(8, '0');
  return crypto.randomBytes(8).toString('hex') + seq;
}

function withoutLoopback(obj) {
  const copy = Object.assign({}, obj);
  delete copy.loopbackMetadata;
  return copy;
}

// --odd-fields: the types a lenient client must survive (see the usage above).
function withOddFields(message) {
  if (!opts.oddFields) return message;
  const content = Object.assign({}, isObject(message.content) ? message.content : {}, { assignees: ['u1', 'u2'] });
  return Object.assign({}, message, { version: 2, mentions: { odd: true }, content });
}

// --rate-limit: counts a SEND_MESSAGE of `state` in its fixed window; true if it is over.
function overRateLimit(state) {
  const limit = opts.rateLimit;
  if (!limit) return false;
  const now = Date.now();
  if (!state.rateWindow || now >= state.rateWindow.start + limit.windowMs) {
    state.rateWindow = { start: now, count: 0 };
  }
  state.rateWindow.count++;
  return state.rateWindow.count > limit.max;
}

function partyLeaves(state, spaceId) {
  return {
    origin: 'server',
    category: 'app.event.presence.party.leaves',
    sender: state.user,
    topicId: spaceId,
    content: { emitedby: 'server', sessionId: state.sessionId, data: [] },
  };
}

chat.on('connection', (socket) => {
  const state = socket.spaces;
  if (!state) {
    // Only possible with --late-middleware when the CONNECT raced the middleware registration.
    socket.disconnect();
    return;
  }
  // The `40/chat` answer is already queued (Socket#onconnect runs before 'connection').
  if (opts.errorAfterConnect) socket.error({ message: 'server hiccup', code: 'server.error' });

  socket.on('SUBSCRIBE_CHANNEL', (data) => {
    const channel = isObject(data) ? data.channel : undefined;
    const fail = (error) => socket.emit('SUBSCRIBE_CHANNEL_FAILED', { channel: channel === undefined ? null : channel, error });
    if (!isObject(channel) || !nonEmptyString(channel._id)) {
      return fail({ code: 'invalid.parameters', message: 'channel data was not provided' });
    }
    const spaceId = channel._id;
    if (opts.unansweredSubscribe !== null && spaceId.startsWith(opts.unansweredSubscribe)) return;
    if (spaceId.startsWith('forbidden')) {
      return fail({ code: 'not.authorized', message: 'user has no access to this space' });
    }
    if (spaceId.startsWith('locked') && String(channel.password) !== '1234') {
      return fail({ code: 'invalid.password', message: 'space password is missing or wrong' });
    }
    socket.join(room(spaceId), () => {
      if (socket.disconnected) return;
      state.topics.add(spaceId);
      socket.emit('CHANNEL_SUBSCRIBED', {
        channel: { _id: spaceId, type: 'topic' },
        dtsid: String(nextDtsid++),
        sessionId: state.sessionId,
      });
      socket.broadcast.to(room(spaceId)).emit('PRESENCE_EVENT_RESPONSE', {
        category: 'app.event.presence.request.parties',
        sender: state.user,
        topicId: spaceId,
        content: { sessionId: state.sessionId, data: [] },
      });
    });
  });

  socket.on('UNSUBSCRIBE_CHANNEL', (data) => {
    const channel = isObject(data) && data.channel !== undefined ? data.channel : null;
    const spaceId = isObject(channel) && nonEmptyString(channel._id) ? channel._id : null;
    const wasSubscribed = spaceId !== null && state.topics.delete(spaceId);
    const reply = () => {
      if (socket.disconnected) return;
      socket.emit('CHANNEL_UNSUBSCRIBED', { channel });
      if (wasSubscribed) chat.to(room(spaceId)).emit('PRESENCE_EVENT_RESPONSE', partyLeaves(state, spaceId));
    };
    if (wasSubscribed) socket.leave(room(spaceId), reply);
    else reply();
  });

  socket.on('SEND_MESSAGE', (data) => {
    const fail = (error) => socket.emit('SEND_MESSAGE_FAILED', Object.assign({}, isObject(data) ? data : {}, { sender: state.user, error }));
    if (jsonSize(data) > opts.maxPayload) return fail('payload.too.large');
    if (!isObject(data) || !nonEmptyString(data.topicId)) return fail('invalid.parameters');
    if (!state.topics.has(data.topicId)) return fail('app.event.channel.subscription.required');
    if (overRateLimit(state)) return fail('rate.limit.exceeded');
    const message = withOddFields(Object.assign({}, data, {
      _id: newMessageId(),
      created: new Date().toISOString(),
      sender: state.user,
      topicTitle: `Space ${data.topicId}`,
      topicType: 'group',
    }));
    stats.messages++;
    socket.emit('MESSAGE_SENT', opts.dropLoopback ? withoutLoopback(message) : message);
    socket.broadcast.to(room(data.topicId)).emit('MESSAGE_SENT', withoutLoopback(message));
  });

  socket.on('SEND_PRESENCE_EVENT', (data) => {
    // Spaces ignores presence without a top-level topicId; there is no failure event.
    if (!isObject(data) || !nonEmptyString(data.topicId)) return;
    if (jsonSize(data) > opts.maxPayload) return;
    const content = Object.assign({}, isObject(data.content) ? data.content : {}, { sessionId: state.sessionId });
    const event = Object.assign({}, data, { sender: state.user, content });
    stats.presenceEvents++;
    socket.broadcast.to(room(data.topicId)).emit('PRESENCE_EVENT_RESPONSE', withoutLoopback(event));
    if (data.loopbackMetadata !== undefined) socket.emit('PRESENCE_EVENT_RESPONSE', event);
  });

  socket.on('disconnect', (reason) => {
    if (opts.logFrames) {
      out(JSON.stringify({ dir: 'leave', sid: socket.conn.id, reason: String(reason) }));
    }
    // socket.io has already removed the socket from its rooms here.
    for (const spaceId of state.topics) {
      chat.to(room(spaceId)).emit('PRESENCE_EVENT_RESPONSE', partyLeaves(state, spaceId));
    }
    state.topics.clear();
  });
});

// ---------------------------------------------------------------- stdin control

function engineClients() {
  const clients = io.engine ? io.engine.clients : {};
  return Object.keys(clients).map((id) => clients[id]);
}

function chatSockets() {
  return Object.keys(chat.connected).map((id) => chat.connected[id]);
}

function runCommand(line) {
  const trimmed = line.trim();
  if (trimmed === '') return;
  const space = trimmed.indexOf(' ');
  const verb = space === -1 ? trimmed : trimmed.slice(0, space);
  const rest = space === -1 ? '' : trimmed.slice(space + 1).trim();
  switch (verb) {
    case 'kick': {
      const clients = engineClients();
      clients.forEach((c) => c.close());
      return out(`OK kick ${clients.length}`);
    }
    case 'drop': {
      const clients = engineClients();
      clients.forEach((c) => {
        // Destroy the TCP socket itself: ws 1.x terminate() only half-closes and then
        // waits up to 30 s for the peer, leaving the engine.io session counted meanwhile.
        const ws = c.transport && c.transport.socket;
        const tcp = ws && ws._socket;
        if (tcp && typeof tcp.destroy === 'function') tcp.destroy();
        else if (ws && typeof ws.terminate === 'function') ws.terminate();
        else c.close();
      });
      return out(`OK drop ${clients.length}`);
    }
    case 'disconnect-chat': {
      const sockets = chatSockets();
      sockets.forEach((s) => s.disconnect());
      return out(`OK disconnect-chat ${sockets.length}`);
    }
    case 'say': {
      const sp = rest.indexOf(' ');
      const spaceId = sp === -1 ? rest : rest.slice(0, sp);
      const text = sp === -1 ? '' : rest.slice(sp + 1);
      if (spaceId === '') return out('ERR say usage: say <spaceId> <text>');
      const receivers = chatSockets().filter((s) => s.spaces && s.spaces.topics.has(spaceId)).length;
      chat.to(room(spaceId)).emit('MESSAGE_SENT', withOddFields({
        _id: newMessageId(),
        category: 'chat',
        topicId: spaceId,
        content: { bodyText: text, data: [] },
        created: new Date().toISOString(),
        sender: { _id: 'server-bot', type: 'user', username: 'server-bot@example.test', displayname: 'Server Bot' },
        topicTitle: `Space ${spaceId}`,
        topicType: 'group',
      }));
      stats.messages++;
      return out(`OK say ${receivers}`);
    }
    case 'stats': {
      const sockets = chatSockets();
      const subscriptions = sockets.reduce((n, s) => n + (s.spaces ? s.spaces.topics.size : 0), 0);
      return out(`OK stats ${JSON.stringify({
        connections: io.engine ? io.engine.clientsCount : 0,
        chatSockets: sockets.length,
        subscriptions,
        messages: stats.messages,
        presenceEvents: stats.presenceEvents,
      })}`);
    }
    case 'quit':
      out('OK quit');
      return shutdown(0);
    default:
      return out(`ERR ${verb} unknown command`);
  }
}

let shuttingDown = false;
function shutdown(code) {
  if (shuttingDown) return;
  shuttingDown = true;
  try {
    io.close();
  } catch (e) {
    process.stderr.write(`spaces-server: error while closing: ${e && e.stack}\n`);
  }
  process.exit(code);
}

process.on('SIGTERM', () => shutdown(0));
process.on('SIGINT', () => shutdown(0));

httpServer.on('error', (e) => {
  process.stderr.write(`spaces-server: http server error: ${e && e.stack}\n`);
  process.exit(1);
});

httpServer.listen(opts.port, '127.0.0.1', () => {
  out(`LISTENING ${httpServer.address().port}`);
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  rl.on('line', (line) => {
    try {
      runCommand(line);
    } catch (e) {
      out(`ERR ${line.trim().split(' ')[0]} ${String(e && e.message).replace(/\n/g, ' ')}`);
    }
  });
  rl.on('close', () => shutdown(0));
});
