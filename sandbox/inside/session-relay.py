# The session's relay: byte streams from outside into the container, for the workbench (a server on one of
# the session's ports, its browser's DevTools endpoint, an interactive terminal). It runs in threads of the
# session agent, beside the frame loop, so a stream works while a command runs.
#
# The host's worker listens on a Unix socket in a directory mounted read-only at /run/durabox (only this
# container sees it; a read-only mount still lets a process connect to a socket). The relay never listens:
# it connects out. It holds one control connection ("ctl\n", then one JSON request per line); for each
# request {id, port} or {id, pty: {name, cols, rows}} (or {id, port, browser: true}) it opens the target
# and connects again with its answer line {"id", "ok": true} (or {"ok": false, "error", "message"}),
# after which the connection carries the stream. When the worker is gone (it restarts), the relay tries
# again every half second: a restarted worker listens at the same path.
import socket
import termios
import threading

RELAY_SOCKET = "/run/durabox/relay.sock"
# The session's services: {"<port>": {"command": "..."}}. A file of the workspace, so it travels with the
# session's checkpoints, forks and snapshots: after a resume or a move, the first request to a port whose
# server is not running starts its command again.
SERVICES_FILE = "/workspace/.durabox/services.json"
SERVICE_START_SEC = 60
PTY_KEEP_BYTES = 256 * 1024
BROWSER_PORT = 9222
BROWSER_BIN = "/usr/bin/chromium"
# --no-sandbox: the container is the sandbox (Chromium's own needs user namespaces or setuid, which it has
# not); no background traffic of Chromium's own when the template has a network; a desktop-sized window.
BROWSER_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--no-default-browser-check", "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1280,800", "--remote-debugging-address=127.0.0.1", f"--remote-debugging-port={BROWSER_PORT}",
    "--user-data-dir=/tmp/.durabox-browser", "about:blank",
]
# Makes the terminal on stdin the controlling terminal of the new session, then runs the shell in it.
CTTY_SHIM = "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); os.execvp(sys.argv[1], sys.argv[1:])"


class RelayRefused(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def _answer(req_id, ok, code=None, message=None):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(RELAY_SOCKET)
    line = {"id": req_id, "ok": ok}
    if not ok:
        line.update(error=code, message=message)
    s.sendall(json.dumps(line).encode() + b"\n")
    return s


def _pump(src, dst):
    # One direction of a stream; the end of one side is passed on as a half-close, so HTTP/1.0 style
    # bodies and WebSocket close handshakes both get through.
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def _splice(a, b):
    t = threading.Thread(target=_pump, args=(b, a), daemon=True)
    t.start()
    _pump(a, b)
    t.join()
    a.close()
    b.close()


def _connect_local(port):
    # A server bound to "localhost" may be on 127.0.0.1 or ::1 only (Node's default since 17): try both.
    last = None
    for family, addr in ((socket.AF_INET, ("127.0.0.1", port)), (socket.AF_INET6, ("::1", port))):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect(addr)
            s.settimeout(None)
            return s
        except OSError as e:
            last = e
            s.close()
    raise RelayRefused("port_not_listening", f"nothing in the session listens on port {port} ({last.strerror if last else 'refused'})")


_services = {}  # port -> the process this container started for it
_services_lock = threading.Lock()


def _service_command(port):
    try:
        with open(SERVICES_FILE, "rb") as f:
            spec = json.loads(f.read(1 << 20)).get(str(port))
        command = spec.get("command") if isinstance(spec, dict) else None
        return command if isinstance(command, str) and command.strip() else None
    except (OSError, ValueError, AttributeError):
        return None


def _connect_or_start(port):
    # A port nobody listens on whose service is registered: its command starts (once), and the stream
    # waits for it to listen.
    try:
        return _connect_local(port)
    except RelayRefused:
        command = _service_command(port)
        if command is None:
            raise
    log = f"/tmp/.durabox-service-{port}.log"
    with _services_lock:
        proc = _services.get(port)
        if proc is None or proc.poll() is not None:
            with open(log, "ab") as out:
                _services[port] = proc = subprocess.Popen(
                    ["sh", "-lc", command], cwd="/workspace", env=ENV, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                    close_fds=True, start_new_session=True,
                )
    deadline = time.monotonic() + SERVICE_START_SEC
    while time.monotonic() < deadline:
        try:
            return _connect_local(port)
        except RelayRefused:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    raise RelayRefused("port_not_listening", f"the service of port {port} ({command!r}) did not listen on it within {SERVICE_START_SEC} s, or ended; see {log} in the session")


_browser = {"proc": None}
_browser_lock = threading.Lock()


def _ensure_browser():
    # Chromium starts on the first use of the session's browser and stays; it runs as the sandbox user with
    # the session's own network (so it reaches what the template allows, and always the session's localhost).
    with _browser_lock:
        try:
            _connect_local(BROWSER_PORT).close()
            return
        except RelayRefused:
            pass
        if not os.path.exists(BROWSER_BIN):
            raise RelayRefused("browser_unavailable", "this session's template has no browser: start the session with template \"browser\" (or a template built from it)")
        proc = _browser["proc"]
        if proc is None or proc.poll() is not None:
            log = open("/tmp/.durabox-browser.log", "ab")
            _browser["proc"] = subprocess.Popen(
                [BROWSER_BIN, *BROWSER_ARGS], cwd="/workspace", env=dict(ENV, HOME="/tmp/.durabox-browser"),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=True, start_new_session=True,
            )
            log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                _connect_local(BROWSER_PORT).close()
                return
            except RelayRefused:
                if _browser["proc"].poll() is not None:
                    break
                time.sleep(0.1)
        raise RelayRefused("browser_unavailable", "the session's browser did not start (see /tmp/.durabox-browser.log in the session)")


class Pty:
    # One interactive terminal: a login shell on a pseudo-terminal, the last PTY_KEEP_BYTES of its output
    # kept for a viewer that comes late, and any number of viewers.
    def __init__(self, name, cols, rows):
        self.name = name
        self.viewers = set()
        self.keep = bytearray()
        self.lock = threading.Lock()
        self.exit_code = None
        self._status = None  # set by reap_children when PID 1 collects the shell first
        master, slave = os.openpty()
        self.master = master
        self.resize(cols, rows)
        shell = "/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CTTY_SHIM, shell, "-l"], cwd="/workspace", env=dict(ENV, TERM="xterm-256color"),
            stdin=slave, stdout=slave, stderr=slave, close_fds=True, start_new_session=True,
        )
        _KERNELS_BY_PID[self.proc.pid] = self
        os.close(slave)
        threading.Thread(target=self._read, daemon=True).start()

    def resize(self, cols, rows):
        cols, rows = max(1, min(int(cols), 1000)), max(1, min(int(rows), 1000))
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def signal(self, name):
        sig = {"INT": signal.SIGINT, "TERM": signal.SIGTERM, "KILL": signal.SIGKILL, "HUP": signal.SIGHUP, "QUIT": signal.SIGQUIT}.get(name)
        if sig is None:
            return
        try:
            os.killpg(os.tcgetpgrp(self.master), sig)  # the terminal's foreground job, as the key would
        except OSError:
            pass

    def write(self, data):
        try:
            os.write(self.master, data)
        except OSError:
            pass

    def attach(self, viewer):
        with self.lock:
            if self.keep:
                viewer.send(0, bytes(self.keep))
            self.viewers.add(viewer)

    def detach(self, viewer):
        with self.lock:
            self.viewers.discard(viewer)

    def _read(self):
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                data = b""
            if not data:
                break
            with self.lock:
                self.keep += data
                if len(self.keep) > PTY_KEEP_BYTES:
                    del self.keep[:len(self.keep) - PTY_KEEP_BYTES]
                viewers = list(self.viewers)
            for v in viewers:
                v.send(0, data)
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        if self._status is not None:
            code = self._status
        self.exit_code = code
        with _ptys_lock:
            if _ptys.get(self.name) is self:
                del _ptys[self.name]
        with self.lock:
            viewers = list(self.viewers)
            self.viewers.clear()
        for v in viewers:
            v.send(1, str(code if code is not None else -1).encode())
            v.close()
        os.close(self.master)


_ptys = {}
_ptys_lock = threading.Lock()


class Viewer:
    # A viewer's connection. Frames both ways are a type byte and a 4-byte length: from the viewer 0 input,
    # 1 resize "cols rows", 2 signal name; to it 0 output, 1 exit code. A viewer that stops reading for
    # 10 s is dropped rather than holding the terminal's output for the others.
    def __init__(self, sock):
        self.sock = sock
        self.sock.settimeout(10)
        self.send_lock = threading.Lock()
        self.closed = False

    def send(self, kind, data):
        if self.closed:
            return
        try:
            with self.send_lock:
                self.sock.sendall(struct.pack(">BI", kind, len(data)) + data)
        except OSError:
            self.close()

    def close(self):
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def frames(self):
        buf = bytearray()
        while True:
            while len(buf) >= 5:
                kind, n = struct.unpack(">BI", buf[:5])
                if n > 1 << 20:
                    return
                if len(buf) < 5 + n:
                    break
                body = bytes(buf[5:5 + n])
                del buf[:5 + n]
                yield kind, body
            try:
                self.sock.settimeout(None)
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data


def _pty_stream(req_id, spec):
    name = str(spec.get("name") or "main")[:64]
    with _ptys_lock:
        p = _ptys.get(name)
        if p is None:
            p = Pty(name, spec.get("cols", 80), spec.get("rows", 24))
            _ptys[name] = p
        elif spec.get("cols") and spec.get("rows"):
            p.resize(spec["cols"], spec["rows"])
    v = Viewer(_answer(req_id, True))
    p.attach(v)
    try:
        for kind, body in v.frames():
            if kind == 0:
                p.write(body)
            elif kind == 1:
                cols, _, rows = body.decode("ascii", "replace").partition(" ")
                try:
                    p.resize(int(cols), int(rows))
                except (ValueError, OSError):
                    pass
            elif kind == 2:
                p.signal(body.decode("ascii", "replace"))
    finally:
        p.detach(v)
        v.sock.close()


def _stream(req):
    req_id = str(req.get("id", ""))[:64]
    try:
        if isinstance(req.get("pty"), dict):
            _pty_stream(req_id, req["pty"])
            return
        port = int(req.get("port", 0))
        if not 1 <= port <= 65535:
            raise RelayRefused("invalid_port", f"not a port: {port}")
        if req.get("browser"):
            _ensure_browser()
            target = _connect_local(port)
        else:
            target = _connect_or_start(port)
    except RelayRefused as e:
        try:
            _answer(req_id, False, e.code, str(e)).close()
        except OSError:
            pass
        return
    except Exception as e:  # anything else is answered too: the worker must never wait for nothing
        try:
            _answer(req_id, False, "relay_failed", f"{type(e).__name__}: {e}").close()
        except OSError:
            pass
        return
    try:
        back = _answer(req_id, True)
    except OSError:
        target.close()
        return
    _splice(back, target)


def listening_ports():
    # The TCP ports something in the session listens on (the container's own network namespace).
    found = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f, None)
                for line in f:
                    parts = line.split()
                    if len(parts) > 3 and parts[3] == "0A":  # LISTEN
                        found.add(int(parts[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return sorted(found)


def _relay_loop():
    while True:
        try:
            ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            ctl.connect(RELAY_SOCKET)
            ctl.sendall(b"ctl\n")
            for line in ctl.makefile("rb"):
                try:
                    req = json.loads(line)
                except ValueError:
                    continue
                if req.get("ports"):
                    ctl.sendall(json.dumps({"id": req.get("id"), "ports": listening_ports()}).encode() + b"\n")
                    continue
                threading.Thread(target=_stream, args=(req,), daemon=True).start()
        except OSError:
            pass
        try:
            ctl.close()
        except OSError:
            pass
        time.sleep(0.5)


def start_relay():
    threading.Thread(target=_relay_loop, daemon=True).start()
