# durabox's Python kernel: one IPython InteractiveShell (no Jupyter, no ZMQ) that runs cells one at a time
# and keeps its namespace between them. Started by kernel-driver.py as `python3 -c <this file>`.
# Cell requests arrive as JSON lines on fd 3 ({"code": ...}); each finished cell is one JSON line on fd 4
# ({"results", "error", "execution_count"}), after one {"ready": true} line once started. The user's stdout
# and stderr are this process's fd 1 and 2.
# Rich output goes through IPython's own machinery: a DisplayPublisher for display(), a DisplayHook for
# the last expression's value, _showtraceback for errors; matplotlib through IPython's inline backend
# (MPLBACKEND=module://matplotlib_inline.backend_inline), which displays every figure left open; a cell that
# switches to another backend (matplotlib.use("Agg")) has its open figures shown by show_figures_left_open.
import base64, json, os, shutil, signal, sys

requests = os.fdopen(3, "rb", buffering=0)
replies = os.fdopen(4, "wb", buffering=0)
os.set_inheritable(3, False)  # not for the programs the cells start (os.system, ...)
os.set_inheritable(4, False)
try:
    os.chdir("/workspace")
except OSError:
    pass

# SIGINT interrupts a running cell (Python's own handler: KeyboardInterrupt); while idle it is ignored.
def idle_sigint(signum, frame):
    pass


signal.signal(signal.SIGINT, idle_sigint)

# matplotlib's font cache, built into the image: copied (tiny) so the first plot does not rescan the fonts.
_mpl = os.environ.get("MPLCONFIGDIR")
if _mpl and not os.path.isdir(_mpl) and os.path.isdir("/opt/durabox/mplcache"):
    try:
        shutil.copytree("/opt/durabox/mplcache", _mpl)
    except OSError:
        pass

from traitlets.config import Config
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.displaypub import DisplayPublisher
from IPython.core.displayhook import DisplayHook

# MIME type -> result field.
FIELDS = {
    "text/plain": "text", "text/html": "html", "text/markdown": "markdown", "image/svg+xml": "svg",
    "image/png": "png", "image/jpeg": "jpeg", "application/json": "json", "text/latex": "latex",
}
# A kernel-side bound on what one reply carries (the driver cuts finer): a huge repr must not make a
# reply line of hundreds of megabytes.
RESULTS_BUDGET = 4 * 1024 * 1024

cell = {"results": [], "error": None}


def to_result(data, main):
    item = {"is_main_result": main}
    for mime, field in FIELDS.items():
        if mime not in data:
            continue
        value = data[mime]
        if field in ("png", "jpeg"):
            if isinstance(value, (bytes, bytearray)):
                value = base64.b64encode(value).decode("ascii")
            elif isinstance(value, str):
                value = value.strip()  # already base64 (IPython >= 8 gives str for figures)
        elif field == "json":
            # Plain JSON only: NaN and the infinities (which Python's json would write as bare words, and
            # JSON.parse refuses) become null, anything else unknown its str().
            value = json.loads(json.dumps(value, default=str), parse_constant=lambda _: None)
        elif isinstance(value, (bytes, bytearray)):
            value = value.decode("utf-8", "replace")
        item[field] = value
    return item if len(item) > 1 else None


class Publisher(DisplayPublisher):
    """display(...) bundles become results of the running cell."""

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
        item = to_result(data, False)
        if item is not None:
            cell["results"].append(item)

    def clear_output(self, wait=False):
        cell["results"][:] = [r for r in cell["results"] if r["is_main_result"]]


class Hook(DisplayHook):
    """The value of the cell's last expression becomes its main result (no Out[n] prompt, nothing printed)."""

    def start_displayhook(self):
        pass

    def write_output_prompt(self):
        pass

    def write_format_data(self, format_dict, md_dict=None):
        item = to_result(format_dict, True)
        if item is not None:
            cell["results"].append(item)

    def finish_displayhook(self):
        sys.stdout.flush()


class Shell(InteractiveShell):
    def ask_exit(self):
        # exit() / quit(): the context ends after this cell (the driver reports it as died), as a kernel's would.
        self.exit_now = True

    def _showtraceback(self, etype, evalue, stb):
        cell["error"] = {
            "name": getattr(etype, "__name__", str(etype)),
            "value": str(evalue),
            "traceback": "\n".join(stb) if isinstance(stb, list) else str(stb),
        }


config = Config()
config.HistoryManager.enabled = False  # nothing written to IPYTHONDIR's sqlite file
shell = Shell.instance(
    config=config, display_pub_class=Publisher, displayhook_class=Hook, colors="NoColor", autocall=0,
)
# `!cmd` runs with the kernel's own stdout and stderr (the default runs it on a pseudo-terminal: CRLF lines).
shell.system = shell.system_raw


def show_figures_left_open():
    # Code that picks a backend itself (matplotlib.use("Agg"), common in scripts written for headless
    # machines) leaves the inline backend, whose own post-execute hook shows what is left open, and its
    # plt.show() shows nothing: every figure still open after the cell is shown here instead, as a PNG,
    # and closed, as the inline backend would.
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None or "backend_inline" in plt.get_backend():
        return
    from matplotlib._pylab_helpers import Gcf
    from IPython.core.pylabtools import print_figure
    try:
        for manager in Gcf.get_all_fig_managers():
            fig = manager.canvas.figure
            data = {"text/plain": repr(fig)}
            png = print_figure(fig, "png")  # None for a figure with nothing drawn: then its text only
            if png:
                data["image/png"] = png
            shell.display_pub.publish(data)
    except Exception:  # noqa: BLE001 - a figure that cannot be drawn is the cell's error, as inline's would be
        shell.showtraceback()
    finally:
        if Gcf.get_all_fig_managers():
            plt.close("all")


shell.events.register("post_execute", show_figures_left_open)


# The context's variables over a pause or a move (docs/sessions/durability.md). Given a state file (its
# first argument), the namespace is saved after every cell that changed it, each variable pickled by dill
# on its own, into that file under /workspace/.durabox (so the session's checkpoint carries it), and what
# could not be pickled is named in <file>.json. A kernel told "load" (its second argument: the first of its
# context in a restored container) loads the file before its first cell. Modules are saved by name.
STATE = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] else None
LOAD_STATE = len(sys.argv) > 2 and sys.argv[2] == "load"
STATE_MAX_BYTES = 64 << 20
NOT_STATE = {"In", "Out", "exit", "quit", "get_ipython"}
_saved_digest = None


def _user_variables():
    hidden = shell.user_ns_hidden
    for name, value in list(shell.user_ns.items()):
        if name.startswith("_") or name in NOT_STATE or (name in hidden and hidden[name] is value):
            continue
        yield name, value


def _write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def save_state():
    global _saved_digest
    import hashlib, pickle, types
    try:
        import dill
    except ImportError:
        dill = None
    saved, unsaved = {}, []
    for name, value in _user_variables():
        try:
            if isinstance(value, types.ModuleType):
                saved[name] = ("module", value.__name__)
            elif dill is None:
                unsaved.append(name)
            else:
                saved[name] = ("value", dill.dumps(value, recurse=True))
        except Exception:  # noqa: BLE001 - whatever a value's pickling raises, it is named, not fatal
            unsaved.append(name)
    blob = pickle.dumps(saved, protocol=4)
    why = None if dill is not None else "dill is not installed in this image"
    if len(blob) > STATE_MAX_BYTES:
        unsaved, saved, why = sorted([*saved, *unsaved]), {}, f"the variables take more than {STATE_MAX_BYTES} bytes"
        blob = pickle.dumps(saved, protocol=4)
    digest = hashlib.sha256(blob + json.dumps(sorted(unsaved)).encode()).hexdigest()
    if digest == _saved_digest:
        return  # nothing changed: the checkpoint carries nothing new
    _write(STATE, blob)
    _write(STATE + ".json", json.dumps({"saved": sorted(saved), "unsaved": sorted(unsaved), **({"why": why} if why else {})}).encode())
    _saved_digest = digest


def load_state():
    import importlib, pickle, types
    try:
        with open(STATE, "rb") as f:
            saved = pickle.load(f)
        with open(STATE + ".json", "rb") as f:
            unsaved = list(json.load(f).get("unsaved", []))
        import dill
    except Exception:  # noqa: BLE001 - no state, or none this image can read
        return None
    restored, functions = [], []
    for name, (kind, data) in saved.items():
        try:
            value = importlib.import_module(data) if kind == "module" else dill.loads(data)
        except Exception:  # noqa: BLE001
            unsaved.append(name)
            continue
        shell.user_ns[name] = value
        restored.append(name)
        if isinstance(value, types.FunctionType):
            functions.append(name)
    # A function came back with copies of the globals it used: bind it to the live namespace again.
    for name in functions:
        fn = shell.user_ns[name]
        live = types.FunctionType(fn.__code__, shell.user_ns, fn.__name__, fn.__defaults__, fn.__closure__)
        live.__kwdefaults__, live.__qualname__, live.__doc__ = fn.__kwdefaults__, fn.__qualname__, fn.__doc__
        live.__dict__.update(fn.__dict__)
        shell.user_ns[name] = live
    return {"variables": sorted(restored), "not_restored": sorted(set(unsaved))}


ready = {"ready": True}
if STATE and LOAD_STATE:
    loaded = load_state()
    if loaded is not None:
        ready["state"] = loaded
replies.write((json.dumps(ready) + "\n").encode())  # started: the driver sends the first cell and starts its clock


def bounded(results):
    kept, used, cut = [], 0, False
    for r in results:
        n = len(json.dumps(r, default=str))
        if used + n > RESULTS_BUDGET:
            cut = True
            continue
        kept.append(r)
        used += n
    return kept, cut


INTERRUPTED = {"name": "KeyboardInterrupt", "value": "", "traceback": "KeyboardInterrupt"}


def run(code):
    cell["results"], cell["error"] = [], None
    count = shell.execution_count
    try:
        try:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            result = shell.run_cell(code, store_history=True)
        finally:
            signal.signal(signal.SIGINT, idle_sigint)
        count = getattr(result, "execution_count", None) or count
    except KeyboardInterrupt:
        # Arrived outside the user's code, inside IPython's own bookkeeping.
        signal.signal(signal.SIGINT, idle_sigint)
        cell["error"] = dict(INTERRUPTED)
    except BaseException as e:  # noqa: BLE001 - the kernel must answer whatever happened
        cell["error"] = {"name": type(e).__name__, "value": str(e), "traceback": ""}
    results, cut = bounded(cell["results"])
    reply = {"results": results, "error": cell["error"], "execution_count": count}
    if cut:
        reply["results_truncated"] = True
    return reply


def main():
    buf = b""
    while True:
        chunk = requests.read(65536)
        if not chunk:
            return
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if not line.strip():
                continue
            req = json.loads(line)
            try:
                reply = run(req.get("code", ""))
            except KeyboardInterrupt:  # at the very end of the cell
                signal.signal(signal.SIGINT, idle_sigint)
                reply = {"results": [], "error": dict(INTERRUPTED), "execution_count": shell.execution_count - 1}
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
            if shell.exit_now:
                os._exit(0)
            if STATE:
                try:
                    save_state()
                except Exception:  # noqa: BLE001 - a cell's answer never waits on its state's troubles
                    pass
            replies.write((json.dumps(reply, default=str) + "\n").encode())


main()
