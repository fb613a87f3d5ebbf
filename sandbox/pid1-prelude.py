# The shared opening of the python keeper and the session agent, each the PID 1 of its container: the
# worker prepends this file to either script when it creates the container.
import ctypes, json, os, select, shutil, signal, struct, subprocess, sys, threading, time

# Not dumpable: a process of the same uid can neither ptrace PID 1 nor read its memory or fds.
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)
# As PID 1 with default handlers, signals sent from inside the container are dropped by the kernel.
for _sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
    signal.signal(_sig, signal.SIG_DFL)

tx = sys.stdout.buffer
_send_lock = threading.Lock()


def send(obj):
    # One length-prefixed JSON frame on stdout, whole, whichever thread sends it.
    body = json.dumps(obj).encode()
    with _send_lock:
        tx.write(struct.pack(">I", len(body)) + body)
        tx.flush()

# A sandbox of an allow-list template reaches out only through its host's egress proxy, which its
# container's environment names: every process started in it is told so too.
PROXY_ENV = {k: os.environ[k] for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy") if k in os.environ}
