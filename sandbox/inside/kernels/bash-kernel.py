# durabox's bash kernel: a small Python driver around ONE long-lived bash that keeps variables, functions,
# aliases and the working directory between cells. Started by kernel-driver.py as `python3 -c <this file>`.
# Cell requests arrive as JSON lines on fd 3 ({"code": ...}); each finished cell is one JSON line on fd 4
# ({"results": [], "error", "execution_count"}), after one {"ready": true} line once started. bash's stdout
# and stderr are this process's fd 1 and 2.
#
# How a cell is fed: bash runs interactive (-i, no line editing, no job control, no history, empty
# prompts) with its stdin a pipe from here, because only an interactive shell gives a terminal's Ctrl-C:
# SIGINT abandons the rest of the command line and the shell reads the next one, where a script would
# either exit or carry on with the next command. Each cell is ONE command line whose here-document carries
# the code verbatim (quoted delimiter: no expansion; a random delimiter no code can contain):
#   printf 'start N' >&S; IFS= read -r -d '' __durabox_code <<'D'; eval "$__durabox_code" </dev/null S>&-; printf 'N %s' "$?" >&S
#   <code>
#   D
# so multi-line code, quotes and heredocs work, a syntax error is bash's own message with status 2, and the
# exit status comes back on a private pipe S. bash reads the whole line and its here-document before it runs
# any of it, so "start N" means the cell text is consumed: an interrupt is only passed on after it.
# On SIGINT (the driver's timeout): the whole bash process group (bash and the cell's foreground commands)
# gets SIGINT; the running command stops and THE REST OF THE CELL IS SKIPPED (bash drops the rest of the
# command line), the shell and its state live on; the reply is a KeyboardInterrupt error. A command that
# ignores SIGINT is not stopped (the driver then restarts the context). `exit` ends bash, and this kernel
# exits with bash's status (the driver reports the context as died).
import json, os, secrets, select, signal, subprocess

requests = os.fdopen(3, "rb", buffering=0)
replies = os.fdopen(4, "wb", buffering=0)

status_r, status_w = os.pipe()
stderr_copy = os.dup(2)
env = {k: v for k, v in os.environ.items() if k not in ("PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE")}
env.update({"PS1": "", "PS2": "", "PS0": "", "PS4": "+ "})
env.pop("MAIL", None)
# bash's start-up warnings (no terminal, no job control) go nowhere; its real stderr is handed over as an
# extra fd and put in place by the first command.
bash = subprocess.Popen(
    ["bash", "--noprofile", "--norc", "--noediting", "-i", "+m"],
    stdin=subprocess.PIPE, stdout=None, stderr=subprocess.DEVNULL, env=env, close_fds=True,
    pass_fds=(status_w, stderr_copy), process_group=0, restore_signals=True,
    cwd="/workspace" if os.path.isdir("/workspace") else None,
)
os.close(status_w)
os.close(stderr_copy)
S = status_w  # the same number inside bash (pass_fds keeps numbers)

state = {"running": False, "started": False, "interrupt": False}


def on_sigint(signum, frame):
    # Only remembered here: the loop below passes it on once bash has the whole cell.
    if state["running"]:
        state["interrupt"] = True


signal.signal(signal.SIGINT, on_sigint)

pending = bytearray()


def bash_write(text):
    try:
        bash.stdin.write(text.encode("utf-8", "surrogatepass"))
        bash.stdin.flush()
    except (BrokenPipeError, OSError):
        died()


def died():
    code = bash.wait()
    os._exit(code if code >= 0 else 128 - code)


def status_line(timeout):
    # One line from bash's status pipe, or None after `timeout` seconds; bash gone -> this kernel exits.
    while b"\n" not in pending:
        r, _, _ = select.select([status_r], [], [], timeout)
        if not r:
            return None
        chunk = os.read(status_r, 4096)
        if not chunk:
            died()
        pending.extend(chunk)
    line, _, rest = bytes(pending).partition(b"\n")
    pending[:] = rest
    return line.decode()


syncs = 0


def sync():
    # After an interrupt: the next line bash reads tells when it is back at its prompt. A status line of the
    # cell that arrives before it means the cell had finished after all.
    global syncs
    syncs += 1
    bash_write(f"printf 'sync {syncs}\\n' >&{S}\n")
    status = None
    while True:
        line = status_line(None)
        if line == f"sync {syncs}":
            return status
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit():
            status = int(parts[1])


bash_write(
    f"exec 2>&{stderr_copy} {stderr_copy}>&-; set +H +o history; unset HISTFILE MAILCHECK PROMPT_COMMAND; "
    f"printf 'ready\\n' >&{S}\n"
)
while status_line(None) != "ready":
    pass
replies.write(b'{"ready": true}\n')  # started: the driver sends the first cell and starts its clock

count = 0


def run(code):
    global count
    count += 1
    n = count
    code = code.replace("\0", "")
    delim = "__CELL_END_" + secrets.token_hex(16)
    state.update(running=True, started=False, interrupt=False)
    bash_write(
        f"printf 'start {n}\\n' >&{S}; IFS= read -r -d '' __durabox_code <<'{delim}'; "
        f"eval \"$__durabox_code\" </dev/null {S}>&-; printf '{n} %s\\n' \"$?\" >&{S}\n"
        f"{code}{'' if code.endswith(chr(10)) else chr(10)}{delim}\n"
    )
    status, interrupted = None, False
    while status is None:
        if state["interrupt"] and state["started"]:
            state["interrupt"] = False
            try:
                os.killpg(bash.pid, signal.SIGINT)
            except ProcessLookupError:
                died()
            status = sync()
            interrupted = status is None
            break
        line = status_line(0.05)
        if line is None:
            continue
        if line == f"start {n}":
            state["started"] = True
            continue
        parts = line.split()
        if len(parts) == 2 and parts[0] == str(n):
            status = int(parts[1])
    state["running"] = False
    if interrupted:
        error = {"name": "KeyboardInterrupt", "value": "interrupted; the rest of the cell was not run", "traceback": ""}
    elif status != 0:
        error = {"name": "ExitStatus", "value": str(status), "traceback": ""}
    else:
        error = None
    return {"results": [], "error": error, "execution_count": n}


def main():
    buf = b""
    while True:
        # Idle: a bash that ends by itself (killed) ends this kernel at once, so the driver sees it gone.
        r, _, _ = select.select([requests, status_r], [], [])
        if status_r in r:
            chunk = os.read(status_r, 4096)
            if not chunk:
                died()
            continue
        chunk = requests.read(65536)
        if not chunk:
            return
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.strip():
                reply = run(json.loads(line).get("code", ""))
                replies.write((json.dumps(reply) + "\n").encode())


main()
