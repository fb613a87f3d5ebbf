# The code interpreter's kernels, as the PID 1 programs drive them (the keeper: one cell, then the reset; the
# session agent: long-lived contexts). Concatenated after pid1-prelude.py (its imports), frames.py (send()) and after
# the line `KERNEL_SOURCES = {"python": ..., "javascript": ..., "bash": ...}` that the worker inserts with the
# sources of sandbox/inside/kernels/*.
#
# A kernel is one long-lived process per context, in its own session: cell requests go to its fd 3 as JSON
# lines, its one-line reply per cell comes back on its fd 4 (after one {"ready": true} line once it has
# started: a cell's timeout counts from then, not from the interpreter's start-up), and what the cell prints
# arrives on its fd 1 and 2, streamed to on_output as it comes. A cell that runs past its timeout gets SIGINT (the context is kept when the
# kernel answers within INTERRUPT_GRACE_S); a second timeout in a row, or a kernel that does not answer, ends
# the kernel's whole session and the next call starts a fresh one.
import codecs, fcntl

KERNEL_COMMANDS = {"python": ("python3", "-c"), "javascript": ("node", "-e"), "bash": ("python3", "-c")}
KERNEL_BASE_ENV = {
    "PATH": template_path("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
    "HOME": "/workspace",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
    **PROXY_ENV,
    **TEMPLATE_ENV,
}
KERNEL_ENVS = {
    "python": {
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "IPYTHONDIR": "/tmp/.ipython",
        "MPLCONFIGDIR": "/tmp/.config/matplotlib",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    },
    "javascript": {"NODE_DISABLE_COLORS": "1", "NO_COLOR": "1"},
    "bash": {"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"},
}
KERNEL_START_TIMEOUT_S = 20.0  # a new kernel's start-up (IPython's imports, ~0.3 s), not counted in the cell's timeout
INTERRUPT_GRACE_S = 2.0  # after SIGINT, how long a kernel has to answer before it is killed
# After the reply, output still on its way is read into the cell until the pipes have been quiet this long.
# What the kernel itself wrote is in the pipes before its reply (each kernel flushes first, and pipe writes
# are synchronous), so this only waits for stragglers: a thread or a child process printing just at the end.
DRAIN_GRACE_S = 0.001
DRAIN_MAX_S = 0.25  # ... at most, however chatty a background thread is
RESULTS_CAP_BYTES = 1_200_000  # JSON size of a cell's results (base64 images mostly)

_KERNELS_BY_PID = {}


def reap_children():
    # For the PID 1 programs: collects every exited child (orphans are re-parented to PID 1), keeping the exit
    # status of a kernel for its Kernel object instead of losing it.
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        k = _KERNELS_BY_PID.pop(pid, None)
        if k is not None:
            k._status = os.waitstatus_to_exitcode(status)


def _session_members(sid):
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # after "(comm)": state ppid pgrp session; a zombie (Z) or dead (X) one is gone already
        if len(fields) > 3 and int(fields[3]) == sid and fields[0] not in (b"Z", b"X"):
            found.append(int(name))
    return found


def _kill_session(sid):
    # The kernel, and everything it started that stayed in its session (the bash kernel's shell has its own
    # process group there), is killed; what called setsid() itself is the PID 1 program's reset's to end.
    for _ in range(50):
        try:
            os.killpg(sid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        members = _session_members(sid)
        for pid in members:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if not members:
            return
        time.sleep(0.002)


def _high_fd(fd):
    # Above 9, so that dup2() onto 0..4 in the child never overwrites another of its sources.
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return new


class _Stream:
    """One output stream of a cell: at most `limit` bytes kept, decoded incrementally (no split character)."""

    def __init__(self, name, limit, on_output):
        self.name, self.limit, self.on_output = name, limit, on_output
        self.kept, self.truncated, self.chunks = 0, False, []
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def feed(self, data):
        room = self.limit - self.kept
        if room > 0:
            part = data[:room]
            self.kept += len(part)
            self._emit(self.decoder.decode(part))
        if len(data) > max(room, 0):
            self.truncated = True

    def finish(self):
        self._emit(self.decoder.decode(b"", final=True))

    def _emit(self, text):
        if text:
            self.chunks.append(text)
            if self.on_output is not None:
                self.on_output(self.name, text)


class Kernel:
    def __init__(self, language, state_path=None, load_state=False):
        if language not in KERNEL_COMMANDS:
            raise ValueError(f"unknown language: {language}")
        self.language = language
        # Where the kernel saves its variables after each cell (python), and whether its first start loads them.
        self.state_path = state_path
        self._load_state = load_state
        self.pid = None
        self._status = None
        self._ready = False
        self._fds = {}
        self._count = 0  # the last execution_count the kernel gave
        self._timeouts_in_row = 0
        self._restart_notice = False  # the kernel died: the next run() says context_restarted

    # -- process ------------------------------------------------------------------------------------
    def _start(self):
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        req_r, req_w, rep_r, rep_w, out_r, out_w, err_r, err_w = (
            _high_fd(fd) for fd in (req_r, req_w, rep_r, rep_w, out_r, out_w, err_r, err_w))
        null = _high_fd(os.open(os.devnull, os.O_RDONLY))
        env = dict(KERNEL_BASE_ENV)
        env.update(KERNEL_ENVS[self.language])
        # The state file and whether to load it are the kernel's arguments: its environment stays the clean one.
        state_args = [self.state_path, "load" if self._load_state else "fresh"] if self.state_path else []
        self._load_state = False  # a kernel restarted later (died, timed out) starts empty, as it always did
        argv = [*KERNEL_COMMANDS[self.language], KERNEL_SOURCES[self.language], *state_args]
        try:
            self.pid = os.posix_spawnp(
                argv[0], argv, env,
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2),
                    (os.POSIX_SPAWN_DUP2, req_r, 3), (os.POSIX_SPAWN_DUP2, rep_w, 4),
                ],
                setsid=True,
                setsigmask=(),
                setsigdef=(signal.SIGINT, signal.SIGPIPE, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                           signal.SIGUSR1, signal.SIGUSR2, signal.SIGXFSZ, signal.SIGCHLD),
            )
        except OSError:
            for fd in (req_r, req_w, rep_r, rep_w, out_r, out_w, err_r, err_w):
                os.close(fd)
            raise
        finally:
            os.close(null)
        for fd in (req_r, rep_w, out_w, err_w):
            os.close(fd)
        os.set_blocking(req_w, False)
        self._fds = {"req": req_w, "rep": rep_r, "stdout": out_r, "stderr": err_r}
        self._status = None
        self._ready = False
        self._count = 0
        self._timeouts_in_row = 0
        _KERNELS_BY_PID[self.pid] = self

    def _poll(self):
        # The exit code once the kernel has exited (waitpid's convention: -N for signal N), else None.
        if self._status is None and self.pid is not None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = self.pid, 0  # reaped by someone else, status lost
            if pid != 0:
                self._status = os.waitstatus_to_exitcode(status)
                _KERNELS_BY_PID.pop(self.pid, None)
        return self._status

    def alive(self):
        return self.pid is not None and self._poll() is None

    def _stop(self):
        # Kills the kernel's session, reaps the kernel, closes its pipes.
        if self.pid is not None:
            if self._poll() is None:
                _kill_session(self.pid)
                try:
                    _, status = os.waitpid(self.pid, 0)
                    self._status = os.waitstatus_to_exitcode(status)
                except ChildProcessError:
                    pass
            else:
                _kill_session(self.pid)  # what it left behind in its session
            _KERNELS_BY_PID.pop(self.pid, None)
        for fd in self._fds.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds = {}
        self.pid = None

    def close(self):
        self._stop()

    # -- one cell -----------------------------------------------------------------------------------
    def run(self, code, timeout_s, limit, on_output=None):
        restarted, self._restart_notice = self._restart_notice, False
        if self.pid is not None and not self.alive():
            self._stop()  # died while idle
            restarted = True
        out = _Stream("stdout", int(limit), on_output)
        err = _Stream("stderr", int(limit), on_output)
        result = {
            "results": [], "logs": {"stdout": out.chunks, "stderr": err.chunks}, "error": None,
            "execution_count": self._count + 1, "timed_out": False, "context_restarted": restarted,
            "stdout_truncated": False, "stderr_truncated": False, "results_truncated": False,
        }
        if self.pid is None:
            try:
                self._start()
            except OSError as e:
                result["error"] = {"name": "ContextStartError",
                                   "value": f"cannot start the {self.language} context: {e.strerror}", "traceback": ""}
                return result
            result["execution_count"] = 1
        fds = self._fds
        streams = {fds["stdout"]: out, fds["stderr"]: err}
        request = memoryview((json.dumps({"code": code}) + "\n").encode("utf-8", "surrogatepass"))
        reply_buf = bytearray()
        reply = None
        readable = {fds["stdout"], fds["stderr"], fds["rep"]}
        # A new kernel says {"ready": true} once it has started: the cell is sent, and its clock starts, then.
        starting = not self._ready
        start_by = time.monotonic() + KERNEL_START_TIMEOUT_S
        deadline = None if starting else time.monotonic() + max(0.001, float(timeout_s))
        kill_at = None  # set once SIGINT has been sent
        outcome = None  # "reply" | "died" | "killed" | "start_timeout"
        polled = rep_closed_at = 0.0
        while outcome is None:
            now = time.monotonic()
            if starting:
                if now >= start_by:
                    outcome = "start_timeout"
                    break
            elif kill_at is None and now >= deadline:
                result["timed_out"] = True
                if self._timeouts_in_row >= 1:
                    outcome = "killed"
                    break
                try:
                    os.kill(self.pid, signal.SIGINT)
                except ProcessLookupError:
                    pass
                kill_at = now + INTERRUPT_GRACE_S
            elif kill_at is not None and now >= kill_at:
                outcome = "killed"
                break
            until = start_by if starting else kill_at if kill_at is not None else deadline
            wait = min(0.05, max(0.0, until - now))
            wl = [fds["req"]] if request and not starting else []
            try:
                r, w, _ = select.select(list(readable), wl, [], wait)
            except InterruptedError:
                continue
            if w:
                try:
                    n = os.write(fds["req"], request)
                    request = request[n:]
                except BlockingIOError:
                    pass
                except BrokenPipeError:
                    request = None
            for fd in r:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    data = b""
                if fd == fds["rep"]:
                    if not data:
                        readable.discard(fd)
                        continue
                    reply_buf += data
                    while outcome is None and b"\n" in reply_buf:
                        line, _, rest = bytes(reply_buf).partition(b"\n")
                        reply_buf[:] = rest
                        try:
                            msg = json.loads(line)
                        except ValueError:
                            msg = {"results": [], "error": {"name": "KernelError", "value": "unreadable reply",
                                                            "traceback": ""}}
                        if starting and isinstance(msg, dict) and msg.get("ready") is True:
                            starting, self._ready = False, True
                            if isinstance(msg.get("state"), dict):
                                result["context_state"] = msg["state"]
                            deadline = time.monotonic() + max(0.001, float(timeout_s))
                        elif not starting:
                            reply = msg if isinstance(msg, dict) else {}
                            outcome = "reply"
                elif data:
                    streams[fd].feed(data)
                else:
                    readable.discard(fd)
            # Death shows as the reply pipe closing, unless a process the cell started holds it open: then by
            # the kernel's exit status, looked at every 50 ms.
            if outcome is None and (fds["rep"] not in readable or time.monotonic() - polled >= 0.05):
                polled = time.monotonic()
                if self._poll() is not None:
                    outcome = "died"
                elif fds["rep"] not in readable:
                    # It closed its reply pipe yet lives on: it can never answer. End it.
                    rep_closed_at = rep_closed_at or polled
                    if polled - rep_closed_at > 0.5:
                        _kill_session(self.pid)
        if outcome == "reply":
            self._drain(streams, DRAIN_GRACE_S, DRAIN_MAX_S)
            result["results"] = reply.get("results") or []
            result["error"] = reply.get("error")
            if isinstance(reply.get("execution_count"), int):
                result["execution_count"] = reply["execution_count"]
                self._count = reply["execution_count"]
            if reply.get("results_truncated"):
                result["results_truncated"] = True
            self._timeouts_in_row = self._timeouts_in_row + 1 if result["timed_out"] else 0
        elif outcome == "died":
            self._drain(streams, DRAIN_GRACE_S, DRAIN_MAX_S)
            code = self._status if self._status is not None else 0
            status = code if code >= 0 else 128 - code
            self._stop()
            self._restart_notice = True
            result["error"] = {
                "name": "ContextDied",
                "value": f"the context's process exited with status {status}; its variables are gone; "
                         "the next call starts a fresh one",
                "traceback": "",
            }
        elif outcome == "start_timeout":
            self._drain(streams, 0, 0.05)
            self._stop()
            result["error"] = {"name": "ContextStartError", "value": f"the {self.language} context did not start "
                               f"within {KERNEL_START_TIMEOUT_S:g} s", "traceback": ""}
        else:  # killed after a timeout
            self._drain(streams, 0, 0.05)
            self._stop()
            result["context_restarted"] = True
            why = "and did not stop when interrupted" if kill_at is not None else "and so did the cell before it"
            result["error"] = {
                "name": "TimeoutError",
                "value": f"the cell ran past its timeout of {float(timeout_s):g} s {why}; "
                         "the context was restarted; its state is gone",
                "traceback": "",
            }
        out.finish()
        err.finish()
        result["stdout_truncated"], result["stderr_truncated"] = out.truncated, err.truncated
        self._cap_results(result)
        return result

    def _drain(self, streams, quiet_s, max_s):
        # Output the kernel wrote before it answered may still be in the pipes: read it into this cell.
        end = time.monotonic() + max_s
        open_fds = [fd for fd in streams]
        while open_fds:
            left = end - time.monotonic()
            if left <= 0:
                return
            try:
                r, _, _ = select.select(open_fds, [], [], min(quiet_s, left))
            except InterruptedError:
                continue
            if not r:
                return
            for fd in r:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    data = b""
                if data:
                    streams[fd].feed(data)
                else:
                    open_fds.remove(fd)

    @staticmethod
    def _cap_results(result):
        kept, used = [], 0
        for item in result["results"]:
            n = len(json.dumps(item))
            if used + n > RESULTS_CAP_BYTES:
                result["results_truncated"] = True
                continue
            kept.append(item)
            used += n
        result["results"] = kept
