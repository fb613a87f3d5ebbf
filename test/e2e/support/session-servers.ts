// Servers the workbench suites start inside a session, by a terminal command (the images' own Python).

/** A WebSocket echo server by hand (the image has no WebSocket library): the handshake, then each text frame back. */
const WS_ECHO = `cat > /workspace/ws_echo.py <<'PY'
import base64, hashlib, socket, struct, sys, threading
def serve(c):
    head = b''
    while b'\\r\\n\\r\\n' not in head:
        head += c.recv(4096)
    key = [l.split(b':', 1)[1].strip() for l in head.split(b'\\r\\n') if l.lower().startswith(b'sec-websocket-key')][0]
    accept = base64.b64encode(hashlib.sha1(key + b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest())
    path = head.split(b' ')[1]
    c.sendall(b'HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Accept: ' + accept + b'\\r\\n\\r\\n')
    f = c.makefile('rb')
    while True:
        b1, b2 = f.read(2)
        n = b2 & 127
        if n == 126: n = struct.unpack('>H', f.read(2))[0]
        mask = f.read(4)
        data = bytes(x ^ mask[i % 4] for i, x in enumerate(f.read(n)))
        if b1 & 15 == 8: return
        reply = path + b' ' + data
        c.sendall(bytes([0x81, len(reply)]) + reply)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen()
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
PY`;

/** The command that starts the WebSocket echo server on `port`, in the background. */
export const startWsEcho = (port: number) => `${WS_ECHO}\n(nohup python3 /workspace/ws_echo.py ${port} > /tmp/ws.log 2>&1 &) ; sleep 1`;
