# The egress proxy of a host's networked template sandboxes (spec §3.2), PID 1 of its own container.
# Each such sandbox sits alone on an internal Docker network with no address on the host: the only
# thing it can reach is this proxy, which listens on that network with the sandbox's policy, either an
# allow-list of host:port patterns or "public" (a `network: full` template: any host, any port). It answers
#   - HTTP proxy requests (CONNECT host:port for anything over TCP, absolute-URI requests for plain HTTP)
#     on port 3128, for the destinations the policy allows, and 403 for everything else;
#   - DNS on port 53: the addresses of allowed names, NXDOMAIN for every other name.
# Whatever the policy, a destination is refused when its address is private, loopback, link-local,
# reserved, one of the host's own (EGRESS_HOST_ADDRS, public ones too) or an IPv6 form that carries an
# IPv4 address through a gateway (NAT64, 6to4, Teredo, IPv4-compatible): other sandboxes, the host's
# services, its LAN and metadata addresses stay out of reach, unless the operator opened the range
# (EGRESS_PRIVATE_CIDRS). Every request of a kept-alive connection is checked, and its Host header must
# name its target; a CONNECT tunnel's TLS ClientHello must ask for the name it was opened to, and plain
# HTTP inside a tunnel must name its server. docs/security/egress.md says what is and is not covered.
# The worker sends {listen, allow} and {drop} frames on stdin. (send() and read_frame() come from frames.py,
# prepended by the worker with pid1-prelude.py.)
import asyncio, concurrent.futures, ipaddress, json, os, re, socket, struct, sys, threading, urllib.parse

HTTP_PORT = 3128
DNS_PORT = 53
HEAD_MAX = 64 * 1024
# A ClientHello is a few hundred bytes (post-quantum key shares make it ~2 KiB); more is not a hello.
HELLO_MAX = 32 * 1024
HEAD_TIMEOUT = 30
# How long a kept-alive connection may wait for its next request, and a request's body for its next bytes.
IDLE_TIMEOUT = 120
# After a connection's last request, how long its server has to finish answering before it is cut.
DRAIN_TIMEOUT = 30
CONNECT_TIMEOUT = 15
# DNS work per sandbox: queries bigger than a question with EDNS are dropped, at most this many
# lookups (its queries and its proxy requests together) run at once, each for at most this long.
DNS_QUERY_MAX = 512
DNS_LOOKUPS = 8
DNS_PENDING_MAX = 32
DNS_TIMEOUT = 5
LOOKUP_THREADS = 32
CONNECTIONS_MAX = 256
# Python 3.11's is_global passes these: each carries an IPv4 address to a gateway this proxy cannot vet.
TUNNELS = [ipaddress.ip_network(n) for n in (
    "64:ff9b::/96",       # NAT64 (well-known prefix)
    "64:ff9b:1::/48",     # NAT64 (local use)
    "2002::/16",          # 6to4
    "2001::/32",          # Teredo
    "::/96",              # IPv4-compatible (deprecated)
    "::ffff:0:0:0/96",    # IPv4-translated (SIIT)
    "100::/64",           # discard-only
)]


def _config(name):
    return json.loads(os.environ.get(name, "[]"))


PRIVATE_OK = [ipaddress.ip_network(c, strict=False) for c in _config("EGRESS_PRIVATE_CIDRS")]


def _plain(a):
    """An IPv4-mapped IPv6 address is the IPv4 address it maps: judged (and opened) as that."""
    return a.ipv4_mapped if a.version == 6 and a.ipv4_mapped is not None else a


HOST_ADDRS = {_plain(ipaddress.ip_address(a.split("%")[0])) for a in _config("EGRESS_HOST_ADDRS")}


def refusal(addr):
    """Why this proxy never connects to addr (a string), or None when it may."""
    a = _plain(ipaddress.ip_address(addr.split("%")[0]))
    if any(a.version == n.version and a in n for n in PRIVATE_OK):
        return None
    if a in HOST_ADDRS:
        return "an address of this host"
    if a.version == 6 and any(a in n for n in TUNNELS):
        return "an IPv6 range that carries IPv4 through a gateway (NAT64, 6to4, Teredo, IPv4-compatible)"
    if not a.is_global or a.is_multicast:
        return "a private, loopback, link-local, multicast or reserved address"
    return None


def parse_allow(entries):
    rules = []
    for e in entries:
        host, _, port = e.rpartition(":")
        rules.append((host.lower().strip("[]"), int(port)))
    return rules


def name_matches(pattern, host):
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


def canonical_host(host):
    host = host.lower().rstrip(".").strip("[]")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


class Policy:
    """A sandbox's destinations: its allow-list, or "public" (any host and port; addresses are checked alike)."""

    def __init__(self, allow):
        self.public = allow == "public"
        self.rules = [] if self.public else [(canonical_host(h), p) for h, p in parse_allow(allow)]
        self.lookups = asyncio.Semaphore(DNS_LOOKUPS)
        self.dns_pending = 0
        self.connections = 0

    def allows(self, host, port):
        host = canonical_host(host)
        return self.public or any(p == port and name_matches(h, host) for h, p in self.rules)

    def knows(self, name):
        name = canonical_host(name)
        return self.public or any(name_matches(h, name) for h, _ in self.rules)


class Refused(Exception):
    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status


async def addresses(policy, host, port, family=socket.AF_UNSPEC):
    """The reachable addresses of an allowed destination; an IP literal is itself."""
    # A lookup runs in a thread, which a timeout cannot stop: the sandbox's share is given back when the
    # thread is done, so one sandbox never holds more than DNS_LOOKUPS of the pool's threads.
    await policy.lookups.acquire()
    try:
        lookup = asyncio.get_running_loop().run_in_executor(None, socket.getaddrinfo, host, port, family, socket.SOCK_STREAM)
    except BaseException:
        policy.lookups.release()
        raise
    lookup.add_done_callback(lambda f: (policy.lookups.release(), f.cancelled() or f.exception()))
    try:
        infos = await asyncio.wait_for(asyncio.shield(lookup), DNS_TIMEOUT)
    except asyncio.TimeoutError:
        raise Refused(502, f"{host} did not resolve in time")
    except (socket.gaierror, UnicodeError) as e:
        raise Refused(502, f"{host} does not resolve: {e}")
    found = []
    for fam, _, _, _, sa in infos:
        if sa[0] not in [f[1] for f in found]:
            found.append((fam, sa[0]))
    ok = [f for f in found if refusal(f[1]) is None]
    if found and not ok:
        raise Refused(403, f"{host} resolves only to addresses this proxy never reaches ({refusal(found[0][1])})")
    return ok


async def open_upstream(policy, host, port):
    if not host or not policy.allows(host, port):
        raise Refused(403, f"{host}:{port} is not on this sandbox's allow-list")
    last = None
    for _, addr in await addresses(policy, host, port):
        try:
            return await asyncio.wait_for(asyncio.open_connection(addr, port), CONNECT_TIMEOUT)
        except (OSError, asyncio.TimeoutError) as e:
            last = e
    raise Refused(502, f"cannot connect to {host}:{port}: {last}")


def split_host_port(target, default_port):
    u = urllib.parse.urlsplit("//" + target)
    return (u.hostname or ""), (u.port or default_port)


def close(w):
    if w is not None:
        try:
            w.close()
        except (OSError, RuntimeError):
            pass


async def copy(reader, writer, eof=True):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        if eof:
            try:
                writer.write_eof()
            except (OSError, RuntimeError):
                pass


# --- HTTP requests -------------------------------------------------------------------------------

TOKEN = re.compile(rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class Request:
    """One request head, parsed strictly: anything a server might read differently is refused."""

    def __init__(self, head):
        self.raw = head
        lines = head[:-4].split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3 or not TOKEN.match(parts[0]) or parts[2] not in (b"HTTP/1.1", b"HTTP/1.0"):
            raise Refused(400, "not an HTTP/1.x request line")
        self.method = parts[0].decode("ascii")
        self.target = parts[1].decode("latin-1")
        self.version = parts[2].decode("ascii")
        self.headers = []
        for line in lines[1:]:
            # A bare CR or LF, or a NUL, ends a line for some servers and not for others.
            if b"\n" in line or b"\r" in line or b"\0" in line:
                raise Refused(400, "a bare CR, LF or NUL in the request head")
            name, sep, value = line.partition(b":")
            # Folded lines and spaces before the colon are read differently by different servers.
            if not sep or not TOKEN.match(name):
                raise Refused(400, "malformed header line")
            self.headers.append((name.decode("ascii"), value.strip().decode("latin-1")))

    def values(self, name):
        return [v for k, v in self.headers if k.lower() == name]

    def body_framing(self):
        """("chunked", None), ("length", n) or ("none", 0): how the request's body ends."""
        te = self.values("transfer-encoding")
        cl = self.values("content-length")
        if te:
            if cl or len(te) != 1 or te[0].lower() != "chunked":
                raise Refused(400, "only Transfer-Encoding: chunked, alone and without Content-Length")
            return "chunked", None
        if cl:
            if len(set(cl)) != 1 or not cl[0].isdigit():
                raise Refused(400, "one Content-Length, a number")
            return "length", int(cl[0])
        return "none", 0


def http_origin(req):
    """The (host, port) an absolute-URI request is for; its Host header, when given, must name the same."""
    u = urllib.parse.urlsplit(req.target)
    try:
        port = u.port or 80
    except ValueError:
        raise Refused(400, "bad port in the request's URL")
    if u.scheme != "http" or not u.hostname or u.username is not None or u.password is not None:
        raise Refused(400, "send absolute http:// URLs, or CONNECT host:port")
    host = canonical_host(u.hostname)
    named = host_header(req)
    if named and (named[0] != host or (named[1] or 80) != port):
        raise Refused(403, f"the Host header ({named[2]}) names another destination than the request's URL ({u.hostname}:{port})")
    return host, port, u


def host_header(req):
    """The request's one Host header as (canonical host, port or None, as written); None without one."""
    hosts = req.values("host")
    if len(hosts) > 1:
        raise Refused(400, "more than one Host header")
    if not hosts:
        return None
    h = urllib.parse.urlsplit("//" + hosts[0])
    try:
        port = h.port
    except ValueError:
        raise Refused(403, f"the Host header ({hosts[0]}) names no valid port")
    return canonical_host(h.hostname or ""), port, hosts[0]


def origin_form(req, u, host, port):
    """The request as its server reads it: the path, and a Host header (added when the client sent none)."""
    path = urllib.parse.urlunsplit(("", "", u.path or "/", u.query, ""))
    lines = [f"{req.method} {path} {req.version}"]
    if not req.values("host"):
        lines.append(f"Host: {u.netloc.rpartition('@')[2]}")
    lines += [f"{k}: {v}" for k, v in req.headers if not k.lower().startswith("proxy-")]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def read_head(reader, timeout):
    """The next request head, or None when the client closed the connection between requests."""
    try:
        return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    except asyncio.IncompleteReadError as e:
        if not e.partial.strip():
            return None
        raise Refused(400, "the connection ended inside a request head")
    except asyncio.LimitOverrunError:
        raise Refused(400, "request head too large")


async def forward_body(reader, upstream, framing):
    kind, n = framing
    if kind == "length":
        while n > 0:
            data = await asyncio.wait_for(reader.read(min(n, 65536)), IDLE_TIMEOUT)
            if not data:
                raise ConnectionError("the client ended inside a body")
            upstream.write(data)
            await upstream.drain()
            n -= len(data)
    elif kind == "chunked":
        async def line_of_chunks():
            line = await asyncio.wait_for(reader.readuntil(b"\r\n"), IDLE_TIMEOUT)
            # A bare CR or LF ends a line for some servers: the next bytes would be read as another request.
            if b"\r" in line[:-2] or b"\n" in line[:-2]:
                raise Refused(400, "a bare CR or LF in a chunked body's framing")
            return line
        while True:
            line = await line_of_chunks()
            size_text = line.split(b";", 1)[0].strip()
            if not size_text or len(size_text) > 16 or not all(c in b"0123456789abcdefABCDEF" for c in size_text):
                raise Refused(400, "bad chunk size")
            size = int(size_text, 16)
            upstream.write(line)
            if size == 0:
                while True:  # trailers, up to the empty line
                    t = await line_of_chunks()
                    upstream.write(t)
                    if t == b"\r\n":
                        break
                await upstream.drain()
                return
            await forward_body(reader, upstream, ("length", size))
            if await asyncio.wait_for(reader.readexactly(2), IDLE_TIMEOUT) != b"\r\n":
                raise Refused(400, "a chunk does not end with CRLF")
            upstream.write(b"\r\n")


class Upstream:
    """The server a kept-alive connection's requests currently go to; its answers flow back as they come."""

    def __init__(self, key, r, w, client):
        self.key = key
        self.w = w
        # The client's connection stays open when the server is done: a refusal may still have to follow.
        self.answers = asyncio.ensure_future(copy(r, client, eof=False))

    async def finish(self):
        """No more requests for it: it answers what it was sent (a half-close says so), then is closed."""
        try:
            self.w.write_eof()
        except (OSError, RuntimeError):
            pass
        try:
            await asyncio.wait_for(asyncio.shield(self.answers), DRAIN_TIMEOUT)
        except asyncio.TimeoutError:
            self.answers.cancel()
        close(self.w)


def check_tunnel_request(req, host, port):
    """A request inside a tunnel to host:port must be for that server: its Host header (and an absolute URL) name it."""
    if req.method.upper() == "CONNECT":
        raise Refused(400, "CONNECT inside a tunnel")
    if not (req.target.startswith("/") or req.target == "*"):
        h, p, _ = http_origin(req)
        if (h, p) != (canonical_host(host), port):
            raise Refused(403, f"a request for {h}:{p} inside a tunnel to {host}:{port}")
    named = host_header(req)
    if named and (named[0] != canonical_host(host) or named[1] not in (None, port)):
        raise Refused(403, f"the Host header ({named[2]}) names another server than the tunnel's ({host}:{port})")


async def serve_requests(policy, reader, writer, first, tunnel_to=None):
    """HTTP requests one after another on the client's connection, each checked on its own: absolute-URI
    requests to the proxy (each may name another allowed server), or, inside a CONNECT tunnel
    (tunnel_to: its host, port and Upstream), requests for the tunnel's server only."""
    up = tunnel_to[2] if tunnel_to else None
    req = first
    try:
        while req is not None:
            framing = req.body_framing()
            if tunnel_to:
                check_tunnel_request(req, tunnel_to[0], tunnel_to[1])
                up.w.write(req.raw)
            else:
                host, port, u = http_origin(req)
                if up is not None and (up.key != (host, port) or up.answers.done()):
                    await up.finish()
                    up = None
                if up is None:
                    r, w = await open_upstream(policy, host, port)
                    up = Upstream((host, port), r, w, writer)
                up.w.write(origin_form(req, u, host, port))
            await forward_body(reader, up.w, framing)
            if req.values("upgrade"):
                # A protocol switch (WebSocket): the rest of the connection is that protocol's, to this same server.
                await copy(reader, up.w)
                await up.answers
                return
            # The next request, unless the server closes first (its answer may end at its close).
            nxt = asyncio.ensure_future(read_head(reader, IDLE_TIMEOUT))
            await asyncio.wait({nxt, up.answers}, return_when=asyncio.FIRST_COMPLETED)
            if not nxt.done():
                nxt.cancel()
                return
            req = Request(head) if (head := nxt.result()) is not None else None
    except Refused:
        # Earlier requests are answered first: the refusal comes after their answers.
        if up is not None:
            await up.finish()
            up = None
        raise
    finally:
        if up is not None:
            await up.finish()


# --- CONNECT tunnels -----------------------------------------------------------------------------

def client_hello_sni(data):
    """The server names of a complete ClientHello in data; None while more bytes are needed."""
    hs = b""
    off = 0
    while True:
        if len(data) < off + 5:
            return None
        if data[off] != 0x16:
            raise ValueError("not a handshake record")
        n = struct.unpack(">H", data[off + 3:off + 5])[0]
        if len(data) < off + 5 + n:
            return None
        hs += data[off + 5:off + 5 + n]
        off += 5 + n
        if len(hs) >= 4:
            if hs[0] != 1:
                raise ValueError("not a ClientHello")
            need = 4 + int.from_bytes(hs[1:4], "big")
            if len(hs) >= need:
                return hello_names(hs[4:need])


def hello_names(b):
    p = 2 + 32
    p += 1 + b[p]                                            # session id
    p += 2 + int.from_bytes(b[p:p + 2], "big")               # cipher suites
    p += 1 + b[p]                                            # compression methods
    if p >= len(b):
        return []
    end = p + 2 + int.from_bytes(b[p:p + 2], "big")
    if end > len(b):
        raise ValueError("extensions overrun the hello")
    p += 2
    names = []
    seen_sni = False
    while p + 4 <= end:
        etype, elen = struct.unpack(">HH", b[p:p + 4])
        ext = b[p + 4:p + 4 + elen]
        if len(ext) != elen:
            raise ValueError("an extension overruns the hello")
        if etype == 0:
            if seen_sni:
                raise ValueError("two server_name extensions")
            seen_sni = True
            q = 2
            while q + 3 <= len(ext):
                ntype, nlen = ext[q], int.from_bytes(ext[q + 1:q + 3], "big")
                if ntype == 0:
                    names.append(ext[q + 3:q + 3 + nlen].decode("ascii"))
                q += 3 + nlen
        p += 4 + elen
    return names


def sni_refusal(target_host, names):
    """Why a tunnel opened to target_host may not carry a hello for these names, or None."""
    if not names:
        # No name asked for: the server answers with its default site on the address this proxy chose.
        return None
    if len(names) > 1:
        return "a ClientHello naming more than one server"
    name = canonical_host(names[0])
    try:
        ipaddress.ip_address(target_host)
        return f"a tunnel opened to an address carries a ClientHello naming {name}"
    except ValueError:
        pass
    if name != canonical_host(target_host):
        return f"the ClientHello names {name}, not {target_host}"
    return None


# A fatal unrecognized_name alert: the client learns why its handshake ended.
TLS_ALERT = b"\x15\x03\x03\x00\x02\x02\x70"


def first_line_kind(data):
    """What a tunnel's first bytes are: "http" when their first line names an HTTP version, however
    laxly (servers differ in what they accept: the strict parser judges it), "raw" for a binary protocol
    or a text line without one, None while too early to tell."""
    data = bytes(data).lstrip(b"\r\n")  # servers skip empty lines before a request
    line, nl, _ = data.partition(b"\n")
    if re.search(rb"[\x00-\x08\x0a-\x0c\x0e-\x1f\x7f]", line):
        return "raw"
    if b"HTTP/" in line.upper() or len(line) > HEAD_MAX:
        return "http"
    return "raw" if nl else None


class Buffered:
    """A client's stream with the bytes already read put back in front: a tunnel reads its first bytes
    to tell what they are, then the same bytes again as requests."""

    def __init__(self, reader, data):
        self.reader = reader
        self.buf = bytearray(data)

    async def _fill(self):
        more = await self.reader.read(65536)
        self.buf += more
        return bool(more)

    def _take(self, n):
        d = bytes(self.buf[:n])
        del self.buf[:n]
        return d

    async def read(self, n=-1):
        if not self.buf:
            return await self.reader.read(n if n > 0 else 65536)
        return self._take(len(self.buf) if n < 0 else min(n, len(self.buf)))

    async def readuntil(self, sep=b"\n"):
        while (i := self.buf.find(sep)) < 0:
            if len(self.buf) > HEAD_MAX:
                raise asyncio.LimitOverrunError("separator not found", len(self.buf))
            if not await self._fill():
                raise asyncio.IncompleteReadError(self._take(len(self.buf)), None)
        return self._take(i + len(sep))

    async def readexactly(self, n):
        while len(self.buf) < n:
            if not await self._fill():
                raise asyncio.IncompleteReadError(self._take(len(self.buf)), n)
        return self._take(n)


def end(writer):
    try:
        writer.write_eof()
    except (OSError, RuntimeError):
        pass


async def tunnel(policy, host, port, up_r, up_w, reader, writer):
    """CONNECT: the server's bytes flow back at once (some protocols speak first). The client's first
    bytes decide what is checked: a TLS handshake must ask for the server the tunnel was opened to, plain
    HTTP requests must each name it (Host); anything else goes to the checked address as it is."""
    up = Upstream((host, port), up_r, up_w, writer)
    first = b""
    try:
        first = await reader.read(65536)
        if first[:1] == b"\x16":
            while (names := client_hello_sni(first)) is None:
                if len(first) > HELLO_MAX:
                    raise ValueError("ClientHello too large")
                more = await asyncio.wait_for(reader.read(65536), HEAD_TIMEOUT)
                if not more:
                    raise ValueError("the client ended inside its ClientHello")
                first += more
            why = sni_refusal(host, names)
            if why:
                raise ValueError(why)
        elif first:
            while (kind := first_line_kind(first)) is None:
                more = await asyncio.wait_for(reader.read(65536), HEAD_TIMEOUT)
                if not more:
                    break
                first += more
            if kind == "http":
                buffered = Buffered(reader, first)
                head = await read_head(buffered, HEAD_TIMEOUT)
                await serve_requests(policy, buffered, writer, Request(head) if head else None, (host, port, up))
                return
    except (ValueError, IndexError, struct.error, UnicodeDecodeError, asyncio.TimeoutError):
        # Refused, or not a whole hello: the server never sees these bytes.
        up.answers.cancel()
        if first[:1] == b"\x16":
            try:
                writer.write(TLS_ALERT)
                await writer.drain()
            except (OSError, RuntimeError):
                pass
        return
    # Passed on as it is: each side's end reaches the other.
    up.answers.add_done_callback(lambda _: end(writer))
    try:
        if first:
            up_w.write(first)
            await up_w.drain()
            await copy(reader, up_w)
        else:
            end(up_w)
        await up.answers
    finally:
        up.answers.cancel()


REASONS = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway", 503: "Service Unavailable"}


async def serve_http(policy, reader, writer):
    if policy.connections >= CONNECTIONS_MAX:
        close(writer)
        return
    policy.connections += 1
    up_w = None
    try:
        head = await read_head(reader, HEAD_TIMEOUT)
        if head is None:
            return
        req = Request(head)
        if req.method.upper() == "CONNECT":
            host, port = split_host_port(req.target, 443)
            up_r, up_w = await open_upstream(policy, host, port)
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await tunnel(policy, host, port, up_r, up_w, reader, writer)
        else:
            await serve_requests(policy, reader, writer, req)
    except Refused as e:
        body = f"durabox egress proxy: {e}\n".encode()
        try:
            writer.write(f"HTTP/1.1 {e.status} {REASONS.get(e.status, 'Error')}\r\n"
                         f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
            await writer.drain()
        except (OSError, RuntimeError):
            pass
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ValueError, ConnectionError, OSError):
        pass
    finally:
        policy.connections -= 1
        close(writer)
        close(up_w)


# --- DNS -----------------------------------------------------------------------------------------

def dns_name(msg, off):
    labels = []
    while True:
        n = msg[off]
        if n == 0:
            name = ".".join(labels)
            if len(name) > 253:
                raise ValueError("name too long")
            return name, off + 1
        if n & 0xC0:
            raise ValueError("compressed name in a question")
        labels.append(msg[off + 1:off + 1 + n].decode("ascii"))
        off += 1 + n


class Dns(asyncio.DatagramProtocol):
    def __init__(self, policy):
        self.policy = policy

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        # Bounded: an oversized query, or one past the sandbox's pending queries, is dropped (clients retry).
        if len(data) > DNS_QUERY_MAX or self.policy.dns_pending >= DNS_PENDING_MAX:
            return
        self.policy.dns_pending += 1
        asyncio.ensure_future(self.answer(data, addr))

    async def answer(self, q, addr):
        try:
            await self.respond(q, addr)
        finally:
            self.policy.dns_pending -= 1

    async def respond(self, q, addr):
        try:
            (qid, flags, qd) = struct.unpack(">HHH", q[:6])
            if qd != 1 or flags & 0x8000:
                return
            name, end = dns_name(q, 12)
            qtype, _ = struct.unpack(">HH", q[end:end + 4])
        except (ValueError, IndexError, struct.error, UnicodeDecodeError):
            return
        question = q[12:end + 4]
        records = []
        rcode = 3  # NXDOMAIN: a name not on the allow-list does not exist for this sandbox
        if name and self.policy.knows(name):
            rcode = 0
            family = {1: socket.AF_INET, 28: socket.AF_INET6}.get(qtype)
            if family is not None:
                try:
                    found = await addresses(self.policy, name, None, family)
                except Refused:
                    found = []
                for _, a in found:
                    rdata = ipaddress.ip_address(a).packed
                    records.append(struct.pack(">HHHIH", 0xC00C, qtype, 1, 30, len(rdata)) + rdata)
        header = struct.pack(">HHHHHH", qid, 0x8180 | (flags & 0x0100) | rcode, 1, len(records), 0, 0)
        try:
            self.transport.sendto(header + question + b"".join(records), addr)
        except OSError:
            pass


# --- the worker's frames -------------------------------------------------------------------------

listening = {}


async def listen(ip, allow):
    await drop(ip)
    policy = Policy(allow)
    loop = asyncio.get_running_loop()
    http = await asyncio.start_server(lambda r, w: serve_http(policy, r, w), ip, HTTP_PORT, limit=HEAD_MAX)
    dns, _ = await loop.create_datagram_endpoint(lambda: Dns(policy), local_addr=(ip, DNS_PORT))
    listening[ip] = (http, dns)


async def drop(ip):
    servers = listening.pop(ip, None)
    if servers:
        servers[0].close()
        servers[1].close()


async def handle(frame):
    try:
        if "listen" in frame:
            await listen(frame["listen"], frame["allow"])
        elif "drop" in frame:
            await drop(frame["drop"])
        send({"id": frame.get("id"), "ok": True})
    except Exception as e:  # noqa: BLE001 - every failure is the worker's answer
        send({"id": frame.get("id"), "error": str(e)})


def read_frames(loop, stop):
    while (frame := read_frame()) is not None:
        asyncio.run_coroutine_threadsafe(handle(frame), loop)
    # The worker detached (it stopped or died): this proxy goes with it.
    loop.call_soon_threadsafe(stop.set)


async def main():
    loop = asyncio.get_running_loop()
    # Lookups run in threads, DNS_LOOKUPS at most per sandbox; the pool stays well under the container's pids limit.
    loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=LOOKUP_THREADS))
    stop = asyncio.Event()
    threading.Thread(target=read_frames, args=(loop, stop), daemon=True).start()
    send({"ready": True})
    await stop.wait()


# Run as the container's program (python3 -c); imported by the unit tests, it only defines.
if __name__ == "__main__":
    asyncio.run(main())
