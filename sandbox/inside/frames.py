# The frames between the worker and PID 1, on the container's attached stdin/stdout: a 4-byte big-endian
# length, then that many bytes of JSON, an object. The worker's end is sandbox/frame-channel.ts and every
# frame's shape is in sandbox/frames.ts. The worker puts this file after pid1-prelude.py in every PID 1
# program (the keeper, the session agent, the egress proxy), so all of them read and write frames alike.
import json, os, select, struct, sys, threading

_tx = sys.stdout.buffer
_send_lock = threading.Lock()
# Bytes read from stdin and not yet cut into frames.
_pending = bytearray()


def send(obj):
    # One frame on stdout, whole, whichever thread sends it.
    body = json.dumps(obj).encode()
    with _send_lock:
        _tx.write(struct.pack(">I", len(body)) + body)
        _tx.flush()


def read_frame(idle_timeout=None):
    # The next frame from the worker. Reads fd 0 directly, so select() sees exactly what is left to read.
    # Returns None at EOF (the worker detached; a frame cut short counts as EOF), "idle" when nothing
    # arrived within idle_timeout seconds. Bytes that are not JSON raise: the worker never sends them.
    while True:
        if len(_pending) >= 4:
            (n,) = struct.unpack(">I", _pending[:4])
            if len(_pending) >= 4 + n:
                body = bytes(_pending[4:4 + n])
                del _pending[:4 + n]
                return json.loads(body)
        if idle_timeout is not None and not select.select([0], [], [], idle_timeout)[0]:
            return "idle"
        chunk = os.read(0, 65536)
        if not chunk:
            return None
        _pending.extend(chunk)
