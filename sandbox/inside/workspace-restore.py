# Unpacks a session's checkpoint (a tar, read once as a stream) into /workspace of a fresh container, as
# the sandbox user. A checkpoint is hostile input: the store holds what a host or the session's own user
# put there. So nothing is ever written outside /workspace, and no member can make the restore write
# through a link: each member is made at its own path, whose every directory is a real directory (never a
# symlink) under /workspace. Refused, each named in the answer: absolute names, names with `..`, names
# that go through a symlink, hard links to anything but a regular file this archive made, device nodes,
# FIFOs and other special files. Setuid, setgid and sticky bits are dropped; owners are never set.
# Symlinks are made as they were (the session's user can make any symlink anyway; a venv's
# bin/python -> /usr/bin/python3 is one), and are never followed while the restore runs.
# A checkpoint is a chain: a base, then deltas, each unpacked by these rules in turn. A delta names what
# was deleted since the part before as empty members marked with the PAX record DELETED_KEY; each is
# removed by the same rules (never through a symlink, never outside /workspace).
# The agent calls restore_workspace() with a checkpoint that came in one frame; a larger one is piped to
# `python3 -c <this file> restore-stdin` through `docker exec`, run as the same user: one set of rules.
import errno as _errno
import os as _os
import stat as _stat
import tarfile as _tarfile

WORKSPACE = "/workspace"
# The answer names at most this many refused members (the count covers all).
REFUSED_NAMED = 20
_COPY_CHUNK = 1 << 20
# The PAX record that marks a delta's member as deleted since the part before.
DELETED_KEY = "DURABOX.deleted"


class _Refused(Exception):
    pass


def _parts(name):
    # A member's path under the workspace, as components; `./` (what `tar -C /workspace .` writes) is fine.
    if name.startswith("/"):
        raise _Refused("absolute name")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _Refused("name with '..'")
    return parts


def _parent_dir(root, parts, make=True):
    # The real directory a member goes in: every component must already be a directory, not a symlink.
    # A missing one is made, or, when not `make` (a deletion), there is nothing there: None.
    path = root
    for p in parts[:-1]:
        path = _os.path.join(path, p)
        try:
            st = _os.lstat(path)
        except FileNotFoundError:
            if not make:
                return None
            _os.mkdir(path, 0o700)
            continue
        if _stat.S_ISLNK(st.st_mode):
            raise _Refused("its path goes through a symlink")
        if not _stat.S_ISDIR(st.st_mode):
            raise _Refused("its path goes through a file")
    return path


def _clear(path, for_dir=False):
    # A later member replaces an earlier one at the same name (as tar does); a directory stays a directory.
    try:
        st = _os.lstat(path)
    except FileNotFoundError:
        return
    if _stat.S_ISDIR(st.st_mode):
        if for_dir:
            return
        raise _Refused("a directory of that name is already there")
    _os.unlink(path)


def _perm(mode):
    # Permission bits only: no setuid, setgid or sticky bit; the owner can always read and write its own file.
    return (mode & 0o777) | 0o600


def _write_file(archive, member, path):
    fd = _os.open(path, _os.O_WRONLY | _os.O_CREAT | _os.O_EXCL | _os.O_NOFOLLOW | _os.O_CLOEXEC, 0o600)
    try:
        src = archive.fileobj
        src.seek(member.offset_data)
        # A sparse member's data are its non-hole pieces, stored one after another.
        pieces = member.sparse if member.sparse is not None else [(0, member.size)]
        for offset, size in pieces:
            while size > 0:
                data = src.read(min(size, _COPY_CHUNK))
                if not data:
                    raise _tarfile.ReadError("unexpected end of data")
                _os.pwrite(fd, data, offset)
                offset += len(data)
                size -= len(data)
        _os.ftruncate(fd, member.size)
        _os.fchmod(fd, _perm(member.mode))
    finally:
        _os.close(fd)


def _delete(root, parts):
    # Removes what a delta says was deleted: only a real path under root, never through a symlink.
    import shutil
    parent = _parent_dir(root, parts, make=False)
    if parent is None:
        return
    path = _os.path.join(parent, parts[-1])
    try:
        st = _os.lstat(path)
    except FileNotFoundError:
        return
    if _stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        _os.unlink(path)


def _unpack(archive, member, root, files, dirs):
    parts = _parts(member.name)
    if not parts:
        return  # the workspace itself
    key = "/".join(parts)
    files.discard(key)
    if member.pax_headers.get(DELETED_KEY):
        _delete(root, parts)
        return
    if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
        raise _Refused("a device node, FIFO or other special file")
    path = _os.path.join(_parent_dir(root, parts), parts[-1])
    if member.isdir():
        _clear(path, for_dir=True)
        if not _os.path.isdir(path):
            _os.mkdir(path, 0o700)
        dirs.append((path, _perm(member.mode) | 0o100, member.mtime))
        return
    if member.islnk():
        # Only to a regular file this archive made: never to a file outside the archive's own members.
        try:
            target = "/".join(_parts(member.linkname))
        except _Refused:
            target = None
        if target not in files:
            raise _Refused("a hard link to something this checkpoint did not make")
        source = _os.path.join(_parent_dir(root, target.split("/")), target.split("/")[-1])
        _clear(path)
        _os.link(source, path, follow_symlinks=False)
        files.add(key)
        return
    _clear(path)
    if member.issym():
        _os.symlink(member.linkname, path)
        _os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
        return
    try:
        _write_file(archive, member, path)
        _os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
    except BaseException:
        _os.unlink(path)  # no half-written file is left to look restored
        raise
    files.add(key)


def restore_workspace(fileobj, root=WORKSPACE):
    """Unpacks the tar read from fileobj into root; answers {restored, refused, refused_count}."""
    refused = []
    count = 0
    files = set()  # regular files made, by name: what a hard link may point at
    dirs = []  # directories' modes and times, set once everything inside them is written
    with _tarfile.open(fileobj=fileobj, mode="r|") as archive:
        while True:
            member = archive.next()
            if member is None:
                break
            archive.members.clear()  # read as a stream: no list of members kept in memory
            try:
                _unpack(archive, member, root, files, dirs)
            except (_Refused, OSError, ValueError, OverflowError) as e:
                if isinstance(e, OSError) and e.errno in (_errno.ENOSPC, _errno.EDQUOT):
                    raise OSError(e.errno, "the workspace is full: the checkpoint holds more than this session's /workspace can") from None
                count += 1
                if len(refused) < REFUSED_NAMED:
                    why = str(e) if isinstance(e, _Refused) else f"could not be written ({getattr(e, 'strerror', None) or e})"
                    refused.append(f"{member.name[:200]}: {why}")
    for path, mode, mtime in reversed(dirs):
        try:
            _os.chmod(path, mode)  # a real directory: a later member never replaces one
            _os.utime(path, (mtime, mtime), follow_symlinks=False)
        except (OSError, ValueError, OverflowError):
            pass  # its contents are restored; only its mode or time is not
    return {"restored": True, "refused": refused, "refused_count": count}


def restore_stdin():
    # The `docker exec` path: the tar on stdin, the answer as one JSON line on stdout.
    import json, sys
    try:
        answer = restore_workspace(sys.stdin.buffer)
    except Exception as e:
        print(json.dumps({"error": "restore_failed", "message": str(e)[:500]}))
        sys.exit(1)
    print(json.dumps(answer))
