# The E2B Python SDKs driving durabox unchanged (E2B_API_URL, E2B_SANDBOX_URL, E2B_API_KEY from the
# environment): one sandbox through the calls test/e2e/peer-e2b.test.ts asserts on. Prints one JSON object.
import json
import os
import sys
import time
import urllib.request

from e2b import Sandbox as BaseSandbox, CommandExitException
from e2b_code_interpreter import Sandbox

out = {}


def attempt(name, fn):
    """The error a call raised (its class and message), or what it answered."""
    try:
        out[name] = {"ok": fn()}
    except Exception as e:  # the SDK's own exception is what the test looks at
        out[name] = {"error": type(e).__name__, "message": str(e)[:500]}


sbx = Sandbox.create(metadata={"suite": "peer-e2b-py"}, timeout=600)
out["sandbox_id"] = sbx.sandbox_id
out["template"] = sbx.get_info().template_id

# A streamed command: the callback sees the first line before the command ends.
seen = []
t0 = time.monotonic()
r = sbx.commands.run("echo first; sleep 3; echo second", on_stdout=lambda line: seen.append((line, time.monotonic() - t0)))
out["stream"] = {"stdout": r.stdout, "exit_code": r.exit_code, "first_at": seen[0][1] if seen else None, "ended_at": time.monotonic() - t0, "chunks": [s[0] for s in seen]}

try:
    sbx.commands.run("echo oops >&2; exit 3")
    out["nonzero"] = {"raised": False}
except CommandExitException as e:
    out["nonzero"] = {"raised": True, "exit_code": e.exit_code, "stderr": e.stderr}

out["cwd"] = sbx.commands.run("pwd; echo $FROM_CALL", envs={"FROM_CALL": "yes"}).stdout

sbx.files.write("/home/user/py/hello.txt", "hello from python")
out["read"] = sbx.files.read("/home/user/py/hello.txt")
out["list"] = sorted(e.name for e in sbx.files.list("/home/user/py"))
out["exists"] = [sbx.files.exists("/home/user/py/hello.txt"), sbx.files.exists("/home/user/py/nope.txt")]
sbx.files.make_dir("/home/user/py/sub")
sbx.files.rename("/home/user/py/hello.txt", "/home/user/py/sub/moved.txt")
out["moved"] = sbx.files.read("/home/user/py/sub/moved.txt")
out["stat"] = {"type": str(sbx.files.get_info("/home/user/py/sub").type)}
sbx.files.remove("/home/user/py/sub/moved.txt")
out["removed"] = sbx.files.exists("/home/user/py/sub/moved.txt")

ctx = sbx.create_code_context()
sbx.run_code("x = 41", context=ctx)
out["context"] = sbx.run_code("x + 1", context=ctx).text
out["contexts"] = [c.id for c in sbx.list_code_contexts()]
seen_code = []
ex = sbx.run_code("import time\nprint('a', flush=True)\ntime.sleep(2)\nprint('b')", on_stdout=lambda m: seen_code.append(m.line))
out["cell_stdout"] = ex.logs.stdout
df = sbx.run_code("import pandas as pd\npd.DataFrame({'a': [1, 2], 'b': [3, 4]})")
out["dataframe_html"] = bool(df.results and df.results[0].html and "<table" in df.results[0].html)
fig = sbx.run_code("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()")
out["png"] = any(bool(x.png) for x in fig.results)
err = sbx.run_code("1/0")
out["cell_error"] = err.error.name if err.error else None

# A watched directory tells what changed in it since the last look.
sbx.files.make_dir("/home/user/w")
watcher = sbx.files.watch_dir("/home/user/w")
sbx.files.write("/home/user/w/new.txt", "x")
out["watch"] = sorted([e.name, e.type.value] for e in watcher.get_new_events())
sbx.files.remove("/home/user/w/new.txt")
out["watch_removed"] = sorted([e.name, e.type.value] for e in watcher.get_new_events())
watcher.stop()

# A background command runs beside others; list, connect and kill it.
bg = sbx.commands.run("echo started; sleep 30", background=True)
out["beside"] = sbx.commands.run("echo beside").stdout
out["bg_listed"] = bg.pid in [p.pid for p in sbx.commands.list()]
again_bg = sbx.commands.connect(bg.pid)
out["bg_killed"] = sbx.commands.kill(bg.pid)
try:
    again_bg.wait()
    out["bg_wait"] = {"raised": False}
except CommandExitException as e:
    out["bg_wait"] = {"raised": True, "exit_code": e.exit_code, "stdout": e.stdout}
out["bg_after"] = bg.pid in [p.pid for p in sbx.commands.list()]

# Stdin: what send_stdin sends, then the end when close_stdin closes it.
reader = sbx.commands.run('read line; echo "got $line"; cat', background=True, stdin=True)
sbx.commands.send_stdin(reader.pid, "hello\n")
sbx.commands.send_stdin(reader.pid, "rest")
sbx.commands.close_stdin(reader.pid)
out["stdin"] = reader.wait().stdout

# A port, through the host the SDK builds (durabox's preview host), with the sandbox's traffic token.
sbx.commands.run("mkdir -p /home/user/site && echo served-py > /home/user/site/index.html && (cd /home/user/site && nohup python3 -m http.server 8765 > /tmp/http.log 2>&1 &) ; sleep 1")
host = sbx.get_host(8765)
req = urllib.request.Request(os.environ["DURABOX_URL"] + "/index.html", headers={"Host": host, "E2B-Traffic-Access-Token": sbx.traffic_access_token})
out["host"] = host
out["port"] = urllib.request.urlopen(req, timeout=30).read().decode().strip()

# Unsupported and bad calls: the SDK's errors, no hang.
attempt("restart_context", lambda: sbx.restart_code_context(ctx))
attempt("bad_template", lambda: Sandbox.create(template="no-such-template-xyz").sandbox_id)
attempt("bad_timeout", lambda: sbx.set_timeout(10**9))
attempt("other_account", lambda: BaseSandbox.connect(sbx.sandbox_id, api_key=os.environ["OTHER_KEY"]).sandbox_id)
attempt("other_kill", lambda: BaseSandbox.kill(sbx.sandbox_id, api_key=os.environ["OTHER_KEY"]))

out["listed"] = sbx.sandbox_id in [s.sandbox_id for s in BaseSandbox.list().next_items()]
sbx.set_timeout(500)

# Pause and resume: the files stay.
sbx.pause()
out["paused_state"] = str(BaseSandbox.get_info(sbx.sandbox_id).state)
again = Sandbox.connect(sbx.sandbox_id)
out["after_resume"] = again.commands.run("ls /home/user/py").stdout
out["killed"] = BaseSandbox.kill(sbx.sandbox_id)
attempt("after_kill", lambda: BaseSandbox.get_info(sbx.sandbox_id).sandbox_id)
print(json.dumps(out))
