# Checkpoints by difference, in Python, run by test/unit/workspace-delta.test.ts: the session agent's delta
# (sandbox/inside/session-agent.py) applied by the restore's rules (sandbox/inside/workspace-restore.py) to a copy must
# give the same tree, step after step: new, changed, deleted and retyped entries, symlinks kept as they are;
# an unchanged workspace gives no delta; an uncommitted delta is sent again with the next; and a delta's
# deletion never reaches outside the workspace or through a symlink.
import base64, io, os, shutil, stat, tempfile, unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load(workspace):
    restore_src = read(os.path.join(ROOT, "sandbox", "inside", "workspace-restore.py")).decode()
    agent = read(os.path.join(ROOT, "sandbox", "inside", "session-agent.py")).decode()
    agent = agent[agent.index("# Checkpoints by difference"):agent.index("\ndef main():")]
    g = {}
    exec(compile("import os, stat, json\n" + restore_src + f"\nWORKSPACE = {workspace!r}\n" + agent, "agent", "exec"), g)
    return g


def read(path):
    with open(path, "rb") as f:
        return f.read()


def tree(root):
    out = {}
    for d, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(d, name)
            st = os.lstat(p)
            kind = stat.S_IFMT(st.st_mode)
            body = read(p) if stat.S_ISREG(st.st_mode) else os.readlink(p) if stat.S_ISLNK(st.st_mode) else None
            out[os.path.relpath(p, root)] = (kind, body)
    return out


class Deltas(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.ws = os.path.join(self.tmp, "ws")
        self.copy = os.path.join(self.tmp, "copy")
        os.mkdir(self.ws)
        os.mkdir(self.copy)
        self.g = load(self.ws)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def step(self, commit=True):
        r = self.g["delta"]({"id": 1, "delta": {"max_bytes": 1 << 20}})
        if r.get("unchanged"):
            return None
        if commit:
            self.g["delta_commit"]({"delta_commit": r["token"]})
            answer = self.g["restore_workspace"](io.BytesIO(base64.b64decode(r["delta"])), root=self.copy)
            self.assertEqual(answer["refused_count"], 0, answer)
        return r

    def same(self):
        self.assertEqual(tree(self.ws), tree(self.copy))

    def write(self, name, body):
        path = os.path.join(self.ws, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(body)

    def test_steps_keep_the_copy_equal(self):
        self.assertIsNone(self.step(), "an empty workspace has nothing to store")
        self.write("f", "x\n")
        self.write("d/e/g", "g")
        self.step()
        self.same()
        self.assertIsNone(self.step(), "nothing changed since")
        with open(os.path.join(self.ws, "f"), "a") as f:
            f.write("x\n")
        r = self.step()
        self.assertEqual((r["changed"], r["deleted"]), (1, 0), "only the changed file travels")
        self.same()
        shutil.rmtree(os.path.join(self.ws, "d"))
        os.symlink("/etc/passwd", os.path.join(self.ws, "link"))
        r = self.step()
        self.assertEqual(r["deleted"], 1, "a deleted directory is one deletion, its contents go with it")
        self.same()
        os.unlink(os.path.join(self.ws, "f"))
        os.mkdir(os.path.join(self.ws, "f"))
        self.write("f/inside", "1")
        self.step()
        self.same()
        shutil.rmtree(os.path.join(self.ws, "f"))
        self.write("f", "a file again")
        self.step()
        self.same()

    def test_a_delta_not_stored_is_sent_again_with_the_next(self):
        self.write("a", "1")
        self.step()
        self.write("b", "2")
        lost = self.step(commit=False)
        self.assertEqual(lost["changed"], 1)
        self.write("c", "3")
        r = self.step()
        self.assertEqual(r["changed"], 2, "b (never stored) and c")
        self.same()

    def test_too_large_changes_ask_for_a_full_checkpoint(self):
        self.write("big", "x" * 5000)
        r = self.g["delta"]({"id": 1, "delta": {"max_bytes": 4096}})
        self.assertTrue(r["too_large"])
        self.g["delta_commit"]({"delta_commit": r["token"]})
        self.assertIsNone(self.step(), "once the full checkpoint is stored, its walk is the base")

    def test_deletions_stay_inside_and_never_follow_symlinks(self):
        outside = os.path.join(self.tmp, "outside")
        os.mkdir(outside)
        with open(os.path.join(outside, "keep"), "w") as f:
            f.write("keep")
        os.symlink(outside, os.path.join(self.copy, "via"))
        import tarfile
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in ("./via/keep", "../outside/keep", "/etc/hostname", "./via"):
                info = tarfile.TarInfo(name)
                info.pax_headers = {"DURABOX.deleted": "1"}
                tar.addfile(info)
        answer = self.g["restore_workspace"](io.BytesIO(buf.getvalue()), root=self.copy)
        self.assertTrue(os.path.exists(os.path.join(outside, "keep")), "nothing outside was deleted")
        self.assertEqual(answer["refused_count"], 3, answer)
        self.assertFalse(os.path.lexists(os.path.join(self.copy, "via")), "the symlink itself may go")


if __name__ == "__main__":
    unittest.main()
