"""The OpenSandbox Python SDKs (opensandbox, opensandbox-code-interpreter) against durabox, unchanged.

Usage: flow.py <domain> <api key> <other account's key>. Prints one JSON object of what each step saw;
the e2e test (test/e2e/peer-opensandbox.test.ts) asserts on it.
"""

import asyncio
import json
import sys
import time
from datetime import timedelta

import httpx
from code_interpreter import CodeInterpreter
from opensandbox import Sandbox
from opensandbox.config import ConnectionConfig
from opensandbox.models.execd import ExecutionHandlers, RunCommandOpts
from opensandbox.models.filesystem import WriteEntry

domain, key, other_key = sys.argv[1], sys.argv[2], sys.argv[3]
out: dict = {}


def failure(e: Exception) -> dict:
    return {"type": type(e).__name__, "status": getattr(e, "status_code", None), "message": str(e)[:600]}


async def main() -> None:
    config = ConnectionConfig(domain=domain, api_key=key, request_timeout=timedelta(seconds=120))
    sandbox = await Sandbox.create("python", connection_config=config, metadata={"suite": "py"}, env={"GREETING": "hi from env"}, timeout=timedelta(minutes=10))
    out["id"] = sandbox.id
    try:
        info = await sandbox.get_info()
        out["info"] = {"state": info.status.state, "metadata": info.metadata, "image": info.image.image if info.image else None}

        # A streamed command: the handler sees the first line long before the command ends.
        seen: list[tuple[str, float]] = []

        async def on_stdout(msg) -> None:
            seen.append((msg.text, time.monotonic()))

        t0 = time.monotonic()
        ex = await sandbox.commands.run("echo first; sleep 2; echo second; echo $GREETING", handlers=ExecutionHandlers(on_stdout=on_stdout))
        t1 = time.monotonic()
        out["stream"] = {
            "texts": [t for t, _ in seen],
            "first_after_s": seen[0][1] - t0 if seen else None,
            "total_s": t1 - t0,
            "exit_code": ex.exit_code,
            "stdout": "".join(m.text for m in ex.logs.stdout),
        }
        bad = await sandbox.commands.run("echo oops >&2; exit 7")
        out["nonzero"] = {"exit_code": bad.exit_code, "stderr": "".join(m.text for m in bad.logs.stderr), "error": bad.error.name if bad.error else None}
        cwd = await sandbox.commands.run("pwd; echo $X", opts=RunCommandOpts(working_directory="/tmp", envs={"X": "from call"}))
        out["cwd"] = "".join(m.text for m in cwd.logs.stdout)

        # Files.
        await sandbox.files.write_files([WriteEntry(path="/workspace/notes/a.txt", data="hello file"), WriteEntry(path="/workspace/notes/b.bin", data=b"\x00\x01\x02", mode=600)])
        out["read"] = await sandbox.files.read_file("/workspace/notes/a.txt")
        from opensandbox.models.filesystem import SearchEntry
        listing = await sandbox.files.search(SearchEntry(path="/workspace/notes", pattern="*"))
        out["search"] = sorted(e.path for e in listing)
        infos = await sandbox.files.get_file_info(["/workspace/notes/b.bin"])
        b = infos["/workspace/notes/b.bin"]
        out["info_b"] = {"size": b.size, "mode": b.mode, "type": str(getattr(b, "type", ""))}
        try:
            await sandbox.files.read_file("/workspace/notes/missing.txt")
            out["missing"] = None
        except Exception as e:  # noqa: BLE001 - the SDK's error is what is checked
            out["missing"] = failure(e)

        # Code: a context keeps a variable; a DataFrame and a figure come back as results.
        ci = await CodeInterpreter.create(sandbox)
        ctx = await ci.codes.create_context("python")
        await ci.codes.run("x = 41", context=ctx)
        r = await ci.codes.run("x + 1", context=ctx)
        out["context"] = {"id": ctx.id, "text": [x.text for x in r.result]}
        df = await ci.codes.run("import pandas as pd\npd.DataFrame({'a': [1, 2]})", context=ctx)
        out["dataframe_text"] = [x.text for x in df.result]
        bash_ctx = await ci.codes.create_context("bash")
        b = await ci.codes.run("echo from-bash-$((6*7))", context=bash_ctx)
        out["bash_context"] = "".join(m.text for m in b.logs.stdout)
        out["contexts"] = sorted(c.language for c in await ci.codes.list_contexts("python")) + sorted(c.language for c in await ci.codes.list_contexts("bash"))
        err = await ci.codes.run("1/0", context=ctx)
        out["code_error"] = {"name": err.error.name if err.error else None, "value": err.error.value if err.error else None}
        # The stream itself, as execd's wire carries it (the SDK keeps only results' text).
        ep = await sandbox.get_endpoint(44772)
        async with httpx.AsyncClient(timeout=120) as http:
            raw = await http.post(f"http://{ep.endpoint}/code", headers=ep.headers, json={"code": "import matplotlib.pyplot as plt\nimport pandas as pd\nplt.plot([1, 2, 3])\nplt.show()\ndisplay(pd.DataFrame({'b': [3]}))", "context": {"id": ctx.id, "language": "python"}})
            events = [json.loads(line[5:]) for line in raw.text.splitlines() if line.startswith("data:")]
            kinds = [k for e in events if e["type"] == "result" for k in e["results"].keys()]
            out["rich"] = {"status": raw.status_code, "kinds": kinds, "png_magic": next((e["results"]["image/png"][:8] for e in events if e["type"] == "result" and "image/png" in e["results"]), None)}
            # No token, no key: the execd endpoint refuses.
            anon = await http.get(f"http://{ep.endpoint}/ping")
            out["anon_ping"] = anon.status_code
            forged = await http.get(f"http://{ep.endpoint}/ping", headers={"OPEN-SANDBOX-EXECD-TOKEN": "x1.e30.AAAA"})
            out["forged_ping"] = forged.status_code

        # A server in the sandbox, reached through its port's endpoint.
        await sandbox.commands.run("mkdir -p /workspace/www && echo py-served > /workspace/www/index.html && (nohup python3 -m http.server 8766 --directory /workspace/www >/tmp/www.log 2>&1 &) ; sleep 1")
        port_ep = await sandbox.get_endpoint(8766)
        async with httpx.AsyncClient(timeout=30) as http:
            page = await http.get(f"http://{port_ep.endpoint}/index.html", headers=port_ep.headers)
            out["port"] = {"status": page.status_code, "body": page.text}

        # Metrics.
        m = await sandbox.get_metrics()
        out["metrics"] = {"cpu_count": m.cpu_count, "mem_total": m.memory_total_in_mib}

        # Renew, pause, resume with files kept.
        renewed = await sandbox.renew(timedelta(minutes=9))
        out["renewed"] = renewed.expires_at.isoformat()
        await sandbox.pause()
        paused = await sandbox.get_info()
        out["paused_state"] = paused.status.state
        resumed = await Sandbox.resume(sandbox.id, connection_config=config)
        out["resumed_state"] = (await resumed.get_info()).status.state
        out["after_resume"] = await resumed.files.read_file("/workspace/notes/a.txt")

        # Unsupported: patching metadata is refused by name, no hang.
        try:
            await resumed.patch_metadata({"k": "v"})
            out["unsupported"] = None
        except Exception as e:  # noqa: BLE001
            out["unsupported"] = failure(e)

        # Another account's key sees nothing of this sandbox.
        other = ConnectionConfig(domain=domain, api_key=other_key, request_timeout=timedelta(seconds=30))
        try:
            await Sandbox.connect(sandbox.id, connection_config=other, connect_timeout=timedelta(seconds=5))
            out["other"] = None
        except Exception as e:  # noqa: BLE001
            out["other"] = failure(e)
    finally:
        await sandbox.kill()
    try:
        await sandbox.get_info()
        out["after_kill"] = None
    except Exception as e:  # noqa: BLE001
        out["after_kill"] = failure(e)

    # An image durabox lacks, and a bad timeout: 4xx naming the field.
    for name, kwargs in (("unknown_image", {"image": "no-such-image:1"}), ("bad_timeout", {"image": "python", "timeout": timedelta(days=30)})):
        try:
            s = await Sandbox.create(kwargs.pop("image"), connection_config=config, **kwargs)
            await s.kill()
            out[name] = None
        except Exception as e:  # noqa: BLE001
            out[name] = failure(e)


def sync_flow() -> None:
    """The synchronous SDK, through the server proxy setting: the same API over blocking calls."""
    from opensandbox.config.connection_sync import ConnectionConfigSync
    from opensandbox.sync import SandboxSync

    config = ConnectionConfigSync(domain=domain, api_key=key, request_timeout=timedelta(seconds=120), use_server_proxy=True)
    s = SandboxSync.create("terminal", connection_config=config, timeout=timedelta(minutes=5))
    try:
        ex = s.commands.run("echo sync-$((1+1)); exit 4")
        out["sync"] = {"stdout": "".join(m.text for m in ex.logs.stdout), "exit_code": ex.exit_code, "state": s.get_info().status.state}
    finally:
        s.kill()


asyncio.run(main())
sync_flow()
print(json.dumps(out))
