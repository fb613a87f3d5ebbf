# The keeper: PID 1 of every warm python sandbox. It runs one execution at a time, as a child process
# with a clean environment, then kills every other process in the container and wipes every writable
# path, so nothing of one execution reaches the next. It speaks to its runtime worker over the
# container's attached stdin/stdout in length-prefixed JSON frames; stdin closing means the worker is
# gone, and the keeper exits (the container is removed with it).
# Frames in: a python program {code, limit, stream?} -> {exit_code, stdout, stderr, ...}; a one-shot
# code-interpreter cell {cell: {language, code, timeout_ms}, limit, stream?} -> {cell_result: ...}, run by a
# kernel started for that cell alone. With stream, {chunk: {stream, text}} frames come first, as the output
# is written. Then {ready}, once the container is clean again.
# (The imports and the PID 1 set-up come from pid1-prelude.py, prepended by the worker; send() and
# read_frame() from frames.py, after it; Kernel from kernel-driver.py, prepended after those.)
import codecs, resource

# /dev/mqueue holds POSIX message queues: they outlive their processes like files do.
WRITABLE = ("/tmp", "/workspace", "/dev/shm", "/dev/mqueue")
CHILD_ENV = {
    "PATH": template_path("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
    "HOME": "/workspace",
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    **PROXY_ENV,
    **TEMPLATE_ENV,
}

def drain(stream, limit, out, name=None):
    # Keep the first `limit` bytes, read and drop the rest, so memory stays bounded by the limit. With a
    # stream name, what is kept is also sent as chunk frames as it comes (decoded without splitting a
    # character, so the chunks add up to the final text).
    kept, truncated = bytearray(), False
    decoder = codecs.getincrementaldecoder("utf-8")("replace") if name else None
    while True:
        chunk = stream.read1(65536)
        if not chunk:
            break
        room = limit - len(kept)
        if room > 0:
            kept += chunk[:room]
            if decoder:
                text = decoder.decode(chunk[:room])
                if text:
                    send({"chunk": {"stream": name, "text": text}})
        if len(chunk) > room:
            truncated = True
    if decoder:
        text = decoder.decode(b"", final=True)
        if text:
            send({"chunk": {"stream": name, "text": text}})
    out.extend([bytes(kept), truncated])


def feed(stdin, code):
    try:
        stdin.write(code)
    except OSError:
        pass  # the program exited or closed stdin before reading all of its source
    finally:
        try:
            stdin.close()
        except OSError:
            pass


def spawn():
    # `python3 -` reads the whole program from its stdin before it runs any of it.
    return subprocess.Popen(
        ["python3", "-"], cwd="/workspace", env=CHILD_ENV, close_fds=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def run(req, child):
    limit = int(req.get("limit", 1048576))
    stream = bool(req.get("stream"))
    if child is None or child.poll() is not None:
        child = spawn()
    out, err = [], []
    threads = [
        threading.Thread(target=feed, args=(child.stdin, req["code"].encode("utf-8", "surrogatepass"))),
        threading.Thread(target=drain, args=(child.stdout, limit, out, "stdout" if stream else None)),
        threading.Thread(target=drain, args=(child.stderr, limit, err, "stderr" if stream else None)),
    ]
    for t in threads:
        t.start()
    code = child.wait()
    # A background process that kept the pipes open must not hold the result back: end them all now.
    kill_others()
    for t in threads:
        t.join()
    return {
        "exit_code": code if code >= 0 else 128 - code,
        "stdout": out[0].decode("utf-8", "replace"),
        "stderr": err[0].decode("utf-8", "replace"),
        "stdout_truncated": out[1],
        "stderr_truncated": err[1],
    }


def run_cell(req):
    # One cell in a kernel of its own; the reset that follows ends the kernel with everything else.
    cell = req["cell"]
    limit = int(req.get("limit", 1048576))
    on_output = (lambda name, text: send({"chunk": {"stream": name, "text": text}})) if req.get("stream") else None
    try:
        kernel = Kernel(cell.get("language") or "python")
    except ValueError:
        return {"cell_result": None, "error": "unknown_language"}
    try:
        timeout_s = max(1, int(cell.get("timeout_ms", 60000))) / 1000
        return {"cell_result": kernel.run(cell.get("code", ""), timeout_s, limit, on_output)}
    finally:
        kernel.close()


def others():
    me = os.getpid()
    return [p for p in os.listdir("/proc") if p.isdigit() and int(p) != me]


def kill_others():
    for _ in range(400):
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        if not others():
            return True
        time.sleep(0.005)
    return False


def remove_tree(top):
    # Iterative, and making every directory writable first: user code may leave deep or mode-000 trees.
    stack = [(top, False)]
    while stack:
        path, visited = stack.pop()
        if os.path.islink(path) or not os.path.isdir(path):
            os.unlink(path)
        elif visited:
            os.rmdir(path)
        else:
            os.chmod(path, 0o700)
            stack.append((path, True))
            stack.extend((os.path.join(path, n), False) for n in os.listdir(path))


def wipe():
    for root in WRITABLE:
        if not os.path.isdir(root):
            continue
        try:
            for name in os.listdir(root):
                remove_tree(os.path.join(root, name))
        except OSError:
            return False
        if os.listdir(root):
            return False
        if not reset_root(root):
            return False
    return remove_sysv_ipc()


def reset_root(root):
    # The roots themselves belong to the sandbox's uid: a run may chmod them or hang extended attributes
    # on them (a default ACL is one, and every later file would inherit it). Put the root as it came.
    try:
        for name in os.listxattr(root):
            os.removexattr(root, name)
        if root in ("/tmp", "/workspace"):
            os.chmod(root, 0o700)
        return not os.listxattr(root)
    except OSError:
        return False


def remove_sysv_ipc():
    # System V shared memory, semaphores and message queues outlive their processes: remove them all.
    libc = ctypes.CDLL(None, use_errno=True)
    removers = {
        "shm": lambda i: libc.shmctl(i, 0, None),  # 0 = IPC_RMID
        "sem": lambda i: libc.semctl(i, 0, 0),
        "msg": lambda i: libc.msgctl(i, 0, None),
    }
    for kind, remove in removers.items():
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                ids = [int(line.split()[1]) for line in f.read().splitlines()[1:] if line.strip()]
        except OSError:
            continue  # no System V IPC in this kernel
        if any(remove(i) != 0 for i in ids):
            return False
    return True


def process_settings():
    # What a program of the sandbox's own uid can change in PID 1 and every later child inherits: resource
    # limits, priority, scheduling policy, CPU affinity.
    limits = {name: resource.getrlimit(getattr(resource, name)) for name in dir(resource) if name.startswith("RLIMIT_")}
    return {
        "rlimits": limits,
        "priority": os.getpriority(os.PRIO_PROCESS, 0),
        "scheduler": os.sched_getscheduler(0),
        "affinity": sorted(os.sched_getaffinity(0)),
    }


def settings_intact(initial):
    # Puts back what can be put back; a sandbox whose PID 1 stays changed is not used again (its
    # container is replaced), so one run never poisons the next, whoever's it is.
    for name, limit in initial["rlimits"].items():
        try:
            if resource.getrlimit(getattr(resource, name)) != limit:
                resource.setrlimit(getattr(resource, name), limit)
        except (ValueError, OSError):
            return False
    try:
        if sorted(os.sched_getaffinity(0)) != initial["affinity"]:
            os.sched_setaffinity(0, initial["affinity"])
    except OSError:
        return False
    return process_settings() == initial


def reset(initial):
    return kill_others() and wipe() and settings_intact(initial)


def main():
    initial = process_settings()
    while True:
        ready = reset(initial)
        child = spawn() if ready else None
        send({"ready": ready})
        req = read_frame()
        if req is None:
            return
        if "cell" in req:
            # A cell runs in a kernel of its own, beside no other process.
            if child:
                child.kill()
                child.wait()
            send(run_cell(req))
        else:
            send(run(req, child))


main()
