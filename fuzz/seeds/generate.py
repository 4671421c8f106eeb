#!/usr/bin/env python3
"""Writes the fuzz seeds under fuzz/seeds/<target>/ (run from anywhere; idempotent).

engine_decode, socket_decode: every string literal in tests/engine_codec_golden_vectors.rs and
tests/socket_codec_golden_vectors.rs becomes a seed (malformed ones included: they sit next to
the interesting edges), plus the byte arrays of the engine's binary frames. The Socket.IO
target also gets each Engine.IO message frame without its leading `4`. Files are named by
their SHA-1, as libFuzzer names corpus entries, so re-running adds nothing twice.

state_machine: hand-written scenarios (a happy Spaces session, reconnects, auth failure, acks,
binary events, heartbeat loss, ...) in the byte encoding of fuzz_targets/state_machine.rs
(`setup` and `Bytes::op`); known frames are looked up by text in its FRAMES table, so keep the
opcodes below in step with `Bytes::op`.
"""
import hashlib
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
SEEDS = pathlib.Path(__file__).resolve().parent

LITERAL = re.compile(r'r(#*)"(.*?)"\1|"((?:[^"\\]|\\.)*)"', re.S)
BYTES = re.compile(r"\[(\s*0x[0-9a-fA-F]{2}\s*(?:,\s*0x[0-9a-fA-F]{2}\s*)*),?\s*\]")


def unescape(s: str) -> str:
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        n = s[i + 1]
        if n == "u":
            end = s.index("}", i)
            out.append(chr(int(s[i + 3 : end], 16)))
            i = end + 1
            continue
        if n == "\n":  # line continuation
            i += 2
            while i < len(s) and s[i] in " \t\n":
                i += 1
            continue
        out.append({"n": "\n", "t": "\t", "r": "\r", "0": "\0"}.get(n, n))
        i += 2
    return "".join(out)


def literals(path: pathlib.Path) -> list[str]:
    text = path.read_text()
    # Drop line comments so apostrophes and quotes in prose are not taken for literals.
    text = "\n".join(re.sub(r"^\s*//.*$", "", line) for line in text.splitlines())
    found = []
    for m in LITERAL.finditer(text):
        found.append(m.group(2) if m.group(2) is not None else unescape(m.group(3)))
    # Assertion messages ("binary decode must borrow") are prose, not frames.
    return [s for s in found if s and not (s[0].isalpha() and " " in s)]


def write(target: str, data: bytes) -> None:
    d = SEEDS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


engine = ROOT / "tests/engine_codec_golden_vectors.rs"
socket = ROOT / "tests/socket_codec_golden_vectors.rs"
for s in literals(engine) + literals(socket):
    write("engine_decode", s.encode())
for m in BYTES.finditer(engine.read_text()):
    write("engine_decode", bytes(int(b, 16) for b in re.findall(r"0x([0-9a-fA-F]{2})", m.group(1))))
for s in literals(socket) + literals(engine):
    write("socket_decode", s.encode())
    if s.startswith("4") and len(s) > 1:
        write("socket_decode", s[1:].encode())


# ----- state_machine scenarios ---------------------------------------------------------------

SM = (SEEDS.parent / "fuzz_targets/state_machine.rs").read_text()
FRAMES = [unescape(m.group(3)) if m.group(2) is None else m.group(2)
          for m in LITERAL.finditer(SM[SM.index("const FRAMES"):SM.index("];", SM.index("const FRAMES"))])]
OPS = ["advance", "timeout", "fire", "open", "open_failed", "closed", "known", "text",
       "attachment", "binary", "connect", "close", "join", "leave", "emit", "emit_binary", "ack",
       "set_query", "query_failed", "token", "token_error", "subscribe", "unsubscribe", "send",
       "presence"]
NSP = {"/chat": 0, "/": 1, "/other": 2, "bad": 3}
SPACE = {"space1": 0, "space2": 1, "": 2}


def setup(spaces=False, reconnection=True, jitter=True, fresh_query=False, attempts=None,
          delay=1000, delay_max=5000, connect_timeout=20000, ack_timeout=None,
          confirm_timeout=None, max_buffered=8, max_acks=8, rate_limit=200, max_held=8) -> bytes:
    flags = (spaces << 0 | reconnection << 1 | jitter << 2 | fresh_query << 3
             | (attempts is not None) << 4 | (connect_timeout is not None) << 5
             | (ack_timeout is not None) << 6 | (confirm_timeout is not None) << 7)
    le = lambda v: (v or 0).to_bytes(2, "little")
    return (bytes([flags, attempts or 0]) + le(delay) + le(delay_max) + le(connect_timeout)
            + le(ack_timeout) + le(confirm_timeout)
            + bytes([max_buffered, max_acks, rate_limit, max_held]))


def op(name, *args) -> bytes:
    code = bytes([OPS.index(name)])
    if name == "known":
        return code + bytes([FRAMES.index(args[0])])
    if name == "advance":
        return code + args[0].to_bytes(2, "little")
    if name in ("text", "attachment", "binary"):
        data = args[0].encode() if isinstance(args[0], str) else bytes(args[0])
        return code + bytes([len(data)]) + data
    if name in ("join", "leave"):
        return code + bytes([NSP[args[0]]])
    if name in ("subscribe", "unsubscribe", "send", "presence"):
        return code + bytes([SPACE[args[0]]] + [int(a) for a in args[1:]])
    if name in ("emit", "emit_binary", "ack"):
        return code + bytes([NSP[args[0]]] + [int(a) for a in args[1:]])
    return code + bytes(int(a) for a in args)


def known(prefix):
    """The FRAMES entry starting with `prefix` (exactly one)."""
    (frame,) = [f for f in FRAMES if f.startswith(prefix)]
    return op("known", frame)


HANDSHAKE = known('0{"sid":"x","upgrades":[],"pingInterval":25000')
FAST_HANDSHAKE = known('0{"sid":"x","upgrades":[],"pingInterval":10,')
OPEN = op("open") + HANDSHAKE
CHAT = op("known", "40/chat,")
SUBSCRIBED_1 = known('42/chat,["CHANNEL_SUBSCRIBED",{"channel":{"_id":"space1"')
SUBSCRIBED_2 = known('42/chat,["CHANNEL_SUBSCRIBED",{"channel":{"_id":"space2"')
ECHO_0 = known('42/chat,["MESSAGE_SENT",{"_id":"m0"')
ECHO_1 = known('42/chat,["MESSAGE_SENT",{"_id":"m1"')
REJECT_1 = known('42/chat,["SEND_MESSAGE_FAILED",{"topicId":"space1","error":{"code":"x"},"loopbackMetadata":"spaces-socket:1"')
SPACES_UP = op("connect") + op("token") + OPEN + op("known", "40") + CHAT + SUBSCRIBED_1

SCENARIOS = {
    "spaces_send_confirm_reject": setup(spaces=True) + op("subscribe", "space1", 0) + SPACES_UP
    + op("send", "space1") + ECHO_0 + op("send", "space1") + REJECT_1
    + known('42/chat,["MESSAGE_SENT",{"_id":"m2"') + known('42/chat,["PRESENCE_EVENT_RESPONSE"')
    + op("presence", "space1") + op("close"),
    "spaces_held_then_flushed": setup(spaces=True) + op("subscribe", "space1", 1)
    + op("subscribe", "space2", 0) + op("send", "space1") + op("send", "space2") + SPACES_UP
    + SUBSCRIBED_2 + ECHO_1 + op("advance", 30000) + op("fire") + op("known", "3") + ECHO_0,
    "spaces_reconnect_resends": setup(spaces=True, confirm_timeout=3000) + op("subscribe", "space1", 0)
    + SPACES_UP + op("send", "space1") + op("closed", 1) + op("fire") + op("token") + OPEN + CHAT
    + SUBSCRIBED_1 + op("advance", 4000) + op("fire") + op("send", "space1") + ECHO_1,
    "spaces_unsubscribe_with_echo_pending": setup(spaces=True) + op("subscribe", "space1", 0)
    + SPACES_UP + op("send", "space1") + op("unsubscribe", "space1") + op("closed", 0)
    + op("fire") + op("token") + OPEN + CHAT,
    "spaces_auth_failure": setup(spaces=True) + op("subscribe", "space1", 0) + op("send", "space1")
    + op("connect") + op("token") + OPEN + known('44/chat,{"message":"jwt expired"')
    + op("fire") + op("connect") + op("token_error") + op("fire") + op("token"),
    "spaces_subscribe_failed": setup(spaces=True) + op("subscribe", "space1", 0) + op("send", "space1")
    + SPACES_UP[:-len(SUBSCRIBED_1)] + known('42/chat,["SUBSCRIBE_CHANNEL_FAILED"')
    + known('42/chat,["CHANNEL_UNSUBSCRIBED"') + known('42/chat,["MESSAGE_SENT",1]'),
    "spaces_rate_and_queue_limits": setup(spaces=True, rate_limit=2, max_held=2)
    + op("subscribe", "space1", 0) + op("send", "space1") + op("send", "space1")
    + op("send", "space1") + op("send", "space2") + op("send", "") + op("advance", 60000)
    + op("send", "space1") + SPACES_UP,
    "spaces_token_timeout": setup(spaces=True, connect_timeout=500, attempts=2)
    + op("connect") + op("fire") + op("fire") + op("token") + op("fire") + op("fire") + op("fire"),
    "client_acks_and_events": setup(ack_timeout=2000) + op("connect") + OPEN + op("known", "40")
    + CHAT + op("emit", "/chat", 0, 1, 1) + op("emit", "/chat", 0, 2, 1)
    + op("known", '43/chat,0["thanks"]') + known("42/chat,7") + op("ack", "/chat", 7)
    + op("ack", "/chat", 7) + op("emit", "/chat", 1, 0, 0) + op("emit", "/chat", 0, 3, 0)
    + op("advance", 2500) + op("fire") + op("known", "43/chat,1[]"),
    "client_binary_events": setup() + op("connect") + OPEN + CHAT
    + known('451-/chat,["x"') + op("attachment", [1, 2, 3])
    + known("452-/chat,3") + op("attachment", [4]) + op("known", "b4AQID")
    + known("461-/chat,0") + op("attachment", []) + op("binary", [0xaa, 1])
    + op("emit_binary", "/chat", 1, 1) + op("emit_binary", "/chat", 2, 0),
    "client_namespaces": setup() + op("join", "/other") + op("join", "/") + op("connect") + OPEN
    + op("known", "40") + op("known", "40/other,") + known('44/other,') + CHAT
    + op("known", "41/chat,") + op("join", "/chat") + op("known", "40/chat") + op("leave", "/other")
    + op("leave", "/") + op("leave", "/chat") + op("connect"),
    "client_buffered_then_flushed": setup(max_buffered=2, max_acks=1) + op("connect")
    + op("emit", "/chat", 0, 1, 1) + op("emit", "/chat", 0, 1, 1) + op("emit", "/chat", 0, 1, 0)
    + OPEN + CHAT + op("close") + op("emit", "/chat", 0, 1, 0) + op("connect"),
    "client_heartbeat_loss": setup(delay=0, delay_max=1, jitter=False) + op("connect") + op("open")
    + FAST_HANDSHAKE + CHAT + op("fire") + op("known", "3") + op("fire") + op("fire") + op("fire")
    + op("open") + FAST_HANDSHAKE + op("known", "2") + op("known", "1") + op("known", "6")
    + op("text", "garbage"),
    "client_fresh_query_and_failures": setup(fresh_query=True, attempts=3, reconnection=True)
    + op("connect") + op("query_failed") + op("fire") + op("set_query") + op("open_failed")
    + op("fire") + op("set_query") + op("open") + op("closed", 1) + op("fire") + op("fire")
    + op("set_query") + op("fire"),
    "client_no_reconnection": setup(reconnection=False) + op("connect") + op("open")
    + op("text", '0{"sid":"x","upgrades":[],"pingInterval":0,"pingTimeout":0}') + op("fire")
    + op("fire") + op("connect") + op("open") + HANDSHAKE + op("known", "4") + op("closed", 0),
}
for scenario in SCENARIOS.values():
    write("state_machine", scenario)
