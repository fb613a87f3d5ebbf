# The shared opening of every PID 1 program (the python keeper, the session agent, the egress proxy): the
# worker prepends this file, then frames.py (send() and read_frame()), to the script when it creates the
# container.
import ctypes, json, os, select, shutil, signal, struct, subprocess, sys, threading, time

# Not dumpable: a process of the same uid can neither ptrace PID 1 nor read its memory or fds.
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)
# As PID 1 with default handlers, signals sent from inside the container are dropped by the kernel.
for _sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
    signal.signal(_sig, signal.SIG_DFL)

# A sandbox of an allow-list template reaches out only through its host's egress proxy, which its
# container's environment names: every process started in it is told so too.
PROXY_ENV = {k: os.environ[k] for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy") if k in os.environ}

# A sandbox of an account template: the template's pip and npm packages sit under the prefix its image
# names (SANDBOX_TEMPLATE_PREFIX), owned by the sandbox user. Every process started here finds them (pip's
# user scheme, npm's global prefix, their programs first on PATH); this program itself never imports them.
_TEMPLATE_PREFIX = os.environ.get("SANDBOX_TEMPLATE_PREFIX", "")
TEMPLATE_ENV = {
    "PYTHONUSERBASE": _TEMPLATE_PREFIX + "/python",
    "NODE_PATH": _TEMPLATE_PREFIX + "/npm/lib/node_modules",
} if _TEMPLATE_PREFIX.startswith("/") and ":" not in _TEMPLATE_PREFIX else {}


def template_path(path):
    return f"{_TEMPLATE_PREFIX}/python/bin:{_TEMPLATE_PREFIX}/npm/bin:{path}" if TEMPLATE_ENV else path
