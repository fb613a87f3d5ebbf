# The session agent: PID 1 of every terminal session's container. It runs the session's commands, one
# at a time, as `sh -lc <command>` in their own process group, and answers over the container's attached
# stdin/stdout in length-prefixed JSON frames, so a command costs no `docker exec`. Stdin stays open
# when the worker detaches, so a restarted worker attaches again and the session goes on.
# Frames in: a command {id, command, timeout_ms, limit, stream?} -> {id, exit_code, stdout, stderr, ...}; a
# code-interpreter cell {id, cell: {language, code, context_id, timeout_ms}, limit, stream?} -> {id,
# cell_result}, run in the context's kernel (created on the id's first use, kept until dropped); {id,
# drop_context} -> {id, dropped}; {id, restore: <a tar, base64>} -> {id, restored, refused, refused_count}
# once it is unpacked into /workspace (a checkpoint of the session, restored into this fresh container;
# refused: the members it left out, and why); {id, delta: {mode, max_bytes}} -> what changed in /workspace
# since the last stored checkpoint (see below), and {delta_commit: token}, answered by nothing. With stream, {id, chunk: {stream, text}} frames come first, as the output
# is written. Also {adopt} and {ping}, answered by nothing.
# (The imports and the PID 1 set-up come from pid1-prelude.py, prepended by the worker; send() and
# read_frame() from frames.py; restore_workspace from workspace-restore.py, Kernel and reap_children from
# kernel-driver.py, and the workbench's relay (ports, browser, terminals) from session-relay.py, after them.)
import codecs
import stat

ENV = {
    "PATH": template_path("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
    "HOME": "/workspace",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
    **PROXY_ENV,
    **TEMPLATE_ENV,
}

# A warm container not yet given to a session ends when its worker stops pinging it (the worker died);
# once adopted by a session it stays, whatever happens to the worker, until the session removes it.
UNADOPTED_IDLE_SEC = 10


def reap():
    # Orphans of earlier commands are re-parented to PID 1: collect them so they never pile up (a kernel's
    # exit status is kept for its Kernel).
    reap_children()


def run(req):
    limit = int(req.get("limit", 1048576))
    stream = bool(req.get("stream"))
    deadline = time.monotonic() + max(0.001, int(req.get("timeout_ms", 60000)) / 1000)
    try:
        child = subprocess.Popen(
            ["sh", "-lc", req["command"]], cwd="/workspace", env=ENV, close_fds=True, start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
    except OSError as e:
        # The session's own processes hold every pid (or memory): answer, and stay alive for the next call.
        reap()
        return {"id": req.get("id"), "exit_code": 126, "stdout": "", "stderr": f"cannot start the command: {e.strerror}\n",
                "stdout_truncated": False, "stderr_truncated": False, "timed_out": False}
    # stdout and stderr, each: kept bytes (at most `limit`; the rest is read and dropped) and truncated.
    out_fd, err_fd = child.stdout.fileno(), child.stderr.fileno()
    streams = {out_fd: [bytearray(), False], err_fd: [bytearray(), False]}
    # With stream: what is kept is also sent as chunk frames as it comes, decoded without splitting a character.
    decoders = {fd: (name, codecs.getincrementaldecoder("utf-8")("replace"))
                for fd, name in ((out_fd, "stdout"), (err_fd, "stderr"))} if stream else {}

    def chunk(fd, data, final=False):
        if fd in decoders:
            name, decoder = decoders[fd]
            text = decoder.decode(data, final)
            if text:
                send({"id": req.get("id"), "chunk": {"stream": name, "text": text}})
    open_fds = set(streams)
    timed_out, exited_at = False, None
    while open_fds:
        now = time.monotonic()
        if exited_at is None and child.poll() is not None:
            exited_at = now
        if exited_at is not None and now - exited_at > 0.05:
            break  # the command is done; background jobs that keep the pipes open are not waited for
        if exited_at is None and now >= deadline:
            timed_out = True
            try:
                os.killpg(child.pid, signal.SIGKILL)  # the command and everything it started in its group
            except ProcessLookupError:
                pass
            child.wait()
            exited_at = time.monotonic()
            continue
        wait = 0.01 if exited_at is not None else min(0.05, max(0.0, deadline - now))
        ready, _, _ = select.select(list(open_fds), [], [], wait)
        for fd in ready:
            data = os.read(fd, 65536)
            if not data:
                open_fds.discard(fd)
                continue
            kept = streams[fd]
            room = limit - len(kept[0])
            if room > 0:
                kept[0] += data[:room]
                chunk(fd, data[:room])
            if len(data) > room:
                kept[1] = True
    for fd in decoders:
        chunk(fd, b"", final=True)
    code = child.wait()
    child.stdout.close()
    child.stderr.close()
    reap()
    (out, out_cut), (err, err_cut) = streams[out_fd], streams[err_fd]
    return {
        "id": req.get("id"),
        "exit_code": code if code >= 0 else 128 - code,
        "stdout": out.decode("utf-8", "replace"),
        "stderr": err.decode("utf-8", "replace"),
        "stdout_truncated": out_cut,
        "stderr_truncated": err_cut,
        "timed_out": timed_out,
    }


contexts = {}  # context_id -> Kernel


def run_cell(req):
    cell = req["cell"]
    language = cell.get("language") or "python"
    context_id = str(cell.get("context_id") or f"default-{language}")
    kernel = contexts.get(context_id)
    if kernel is not None and kernel.language != language:
        return {"id": req.get("id"), "cell_result": None, "error": "context_language_mismatch"}
    if kernel is None:
        try:
            # A python context saves its variables beside the workspace it serves; the first kernel of a
            # context this container did not start (a restored session) loads what was saved.
            state = context_state_path(context_id) if language == "python" else None
            kernel = Kernel(language, state, load_state=state is not None and os.path.exists(state))
        except ValueError:
            return {"id": req.get("id"), "cell_result": None, "error": "unknown_language"}
        contexts[context_id] = kernel
    limit = int(req.get("limit", 1048576))
    on_output = (lambda name, text: send({"id": req.get("id"), "chunk": {"stream": name, "text": text}})) \
        if req.get("stream") else None
    timeout_s = max(1, int(cell.get("timeout_ms", 60000))) / 1000
    result = kernel.run(cell.get("code", ""), timeout_s, limit, on_output)
    reap()
    return {"id": req.get("id"), "cell_result": result}


CONTEXT_STATE_DIR = "/workspace/.durabox/contexts"


def context_state_path(context_id):
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in context_id)[:128]
    return f"{CONTEXT_STATE_DIR}/{safe}.pickle"


def saved_contexts():
    # What the contexts of a restored workspace saved: {context_id: {saved, unsaved}} from their notes.
    found = {}
    try:
        names = os.listdir(CONTEXT_STATE_DIR)
    except OSError:
        return found
    for name in names:
        if name.endswith(".pickle.json"):
            try:
                with open(f"{CONTEXT_STATE_DIR}/{name}", "rb") as f:
                    note = json.loads(f.read(1 << 20))
                found[name[:-len(".pickle.json")]] = {"saved": [str(v) for v in note.get("saved", [])][:200],
                                                       "unsaved": [str(v) for v in note.get("unsaved", [])][:200]}
            except (OSError, ValueError, AttributeError):
                continue
    return found


def drop_context(req):
    context_id = str(req["drop_context"])
    kernel = contexts.pop(context_id, None)
    if kernel is not None:
        kernel.close()
        reap()
    for path in (context_state_path(context_id), context_state_path(context_id) + ".json"):
        try:
            os.unlink(path)
        except OSError:
            pass
    return {"id": req.get("id"), "dropped": kernel is not None}


def restore(req):
    # By restore_workspace (workspace-restore.py): the rules a checkpoint is unpacked by, the same as the
    # `docker exec` path's for larger checkpoints.
    import base64, io
    try:
        return {"id": req.get("id"), **restore_workspace(io.BytesIO(base64.b64decode(req["restore"])))}
    except Exception as e:
        return {"id": req.get("id"), "error": "restore_failed", "message": str(e)[:500]}


# Checkpoints by difference (docs/sessions/durability.md). The agent keeps the stat of every entry of
# /workspace as of the chain's last stored part (`committed`; a new container's chain starts from the
# empty workspace). A delta request walks the workspace and answers a tar of what differs: changed
# entries (a directory as its header only), and deleted ones as empty members marked DELETED_KEY. Once
# the host has stored it, {delta_commit: token} makes that walk the committed one; a delta never stored
# is sent again, whole, with the next. Mode "walk" only walks (the host then tars the whole workspace
# itself, or has just restored it) and answers the token to commit. A file's stat changes whenever its
# content does (ctime cannot be set back), so equal stats mean an unchanged entry.
committed = {}
walks = {}  # token -> the walk of a delta answered but not yet stored
last_token = 0


def walk_workspace():
    seen = {}
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            entries = os.scandir(WORKSPACE + "/" + rel if rel else WORKSPACE)
        except OSError:
            continue
        with entries:
            for e in entries:
                name = rel + "/" + e.name if rel else e.name
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                seen[name] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
                if stat.S_ISDIR(st.st_mode):
                    stack.append(name)
    return seen


def delta(req):
    global last_token
    import base64, io, tarfile
    spec = req["delta"]
    now = walk_workspace()
    last_token += 1
    token = last_token
    if spec.get("mode") == "walk":
        walks[token] = now
        return {"id": req.get("id"), "token": token, **({"contexts": saved_contexts()} if spec.get("contexts") else {})}
    changed = sorted(name for name, st in now.items() if committed.get(name) != st)
    # Gone, or now of another type (removed first, so the new one can be made); under a deleted directory: its rmtree.
    gone = sorted(name for name, st in committed.items()
                  if name not in now or stat.S_IFMT(now[name][0]) != stat.S_IFMT(st[0]))
    deleted = [name for i, name in enumerate(gone) if not any(name.startswith(g + "/") for g in gone[max(0, i - 64):i])]
    if not changed and not deleted:
        return {"id": req.get("id"), "unchanged": True}
    size = sum(now[name][1] for name in changed if stat.S_ISREG(now[name][0]))
    if size > int(spec.get("max_bytes", 8 << 20)):
        walks[token] = now
        return {"id": req.get("id"), "too_large": True, "token": token}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in deleted:
            info = tarfile.TarInfo("./" + name)
            info.pax_headers = {DELETED_KEY: "1"}
            tar.addfile(info)
        for name in changed:
            path = WORKSPACE + "/" + name
            try:
                info = tar.gettarinfo(path, arcname="./" + name)
                if info is None:
                    continue  # a socket: never in a checkpoint
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                if info.isreg():
                    # Read whole first: a file that shrinks meanwhile must not leave the tar short.
                    with open(path, "rb") as f:
                        data = f.read(info.size)
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
                else:
                    tar.addfile(info)
            except (OSError, ValueError):
                now[name] = ("unsent",)  # differs from any stat: the next delta tries it again
    walks[token] = now
    raw = buf.getvalue()
    return {"id": req.get("id"), "delta": base64.b64encode(raw).decode("ascii"), "token": token,
            "changed": len(changed), "deleted": len(deleted), "raw_bytes": len(raw)}


def delta_commit(req):
    global committed
    token = int(req["delta_commit"])
    if token in walks:
        committed = walks[token]
        for t in [t for t in walks if t <= token]:
            del walks[t]


def main():
    adopted = False
    start_relay()
    send({"ready": True})
    while True:
        req = read_frame(None if adopted else UNADOPTED_IDLE_SEC)
        if req is None or req == "idle":
            return
        if req.get("adopt"):
            adopted = True
            continue
        if req.get("ping"):
            continue
        if "cell" in req:
            send(run_cell(req))
        elif "drop_context" in req:
            send(drop_context(req))
        elif "restore" in req:
            send(restore(req))
        elif "delta" in req:
            send(delta(req))
        elif "delta_commit" in req:
            delta_commit(req)
        else:
            send(run(req))


main()
