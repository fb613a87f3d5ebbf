# The egress proxy of a host's allow-list sandboxes (spec §3.2), PID 1 of its own container. Each such
# sandbox sits alone on an internal Docker network with no address on the host: the only thing it can
# reach is this proxy, which listens on that network with the sandbox's allow-list. It answers
#   - HTTP proxy requests (CONNECT host:port for anything over TCP, absolute-URI requests for plain HTTP)
#     on port 3128, for the host:port patterns allowed, and 403 for everything else;
#   - DNS on port 53: the addresses of allowed names, NXDOMAIN for every other name.
# A destination that resolves to a private, loopback or link-local address (other sandboxes, the host's
# own services) is refused even when allowed by name, unless the operator opened its range
# (EGRESS_PRIVATE_CIDRS). The worker sends {listen, allow} and {drop} frames on stdin.
import asyncio, ipaddress, socket, urllib.parse

HTTP_PORT = 3128
DNS_PORT = 53
HEAD_MAX = 64 * 1024
PRIVATE_OK = [ipaddress.ip_network(c, strict=False) for c in json.loads(os.environ.get("EGRESS_PRIVATE_CIDRS", "[]"))]


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


def reachable(addr):
    a = ipaddress.ip_address(addr)
    if any(a in n for n in PRIVATE_OK):
        return True
    return a.is_global and not a.is_multicast


class Policy:
    def __init__(self, allow):
        self.rules = parse_allow(allow)

    def allows(self, host, port):
        host = host.lower().rstrip(".")
        return any(p == port and name_matches(h, host) for h, p in self.rules)

    def knows(self, name):
        name = name.lower().rstrip(".")
        return any(name_matches(h, name) for h, _ in self.rules)


class Refused(Exception):
    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status


async def addresses(host, port, family=socket.AF_UNSPEC):
    """The reachable addresses of an allowed destination; an IP literal is itself."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise Refused(502, f"{host} does not resolve: {e}")
    found = []
    for fam, _, _, _, sa in infos:
        if sa[0] not in [f[1] for f in found]:
            found.append((fam, sa[0]))
    ok = [f for f in found if reachable(f[1])]
    if found and not ok:
        raise Refused(403, f"{host} resolves only to private or local addresses, which this proxy never reaches")
    return ok


async def open_upstream(policy, host, port):
    if not policy.allows(host, port):
        raise Refused(403, f"{host}:{port} is not on this sandbox's allow-list")
    last = None
    for _, addr in await addresses(host, port):
        try:
            return await asyncio.wait_for(asyncio.open_connection(addr, port), 15)
        except (OSError, asyncio.TimeoutError) as e:
            last = e
    raise Refused(502, f"cannot connect to {host}:{port}: {last}")


def split_host_port(target, default_port):
    u = urllib.parse.urlsplit("//" + target)
    return (u.hostname or ""), (u.port or default_port)


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.write_eof()
        except (OSError, RuntimeError):
            pass


async def serve_http(policy, reader, writer):
    up_w = None
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        line, _, rest = head.partition(b"\r\n")
        method, target, version = line.decode("latin-1").split(" ", 2)
        if method.upper() == "CONNECT":
            host, port = split_host_port(target, 443)
            up_r, up_w = await open_upstream(policy, host, port)
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            u = urllib.parse.urlsplit(target)
            if u.scheme != "http" or not u.hostname:
                raise Refused(400, "send absolute http:// URLs, or CONNECT host:port")
            host, port = u.hostname, u.port or 80
            up_r, up_w = await open_upstream(policy, host, port)
            path = urllib.parse.urlunsplit(("", "", u.path or "/", u.query, ""))
            up_w.write(f"{method} {path} {version}\r\n".encode("latin-1") + rest)
        await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer))
    except Refused as e:
        body = f"durabox egress proxy: {e}\n".encode()
        writer.write(f"HTTP/1.1 {e.status} {'Forbidden' if e.status == 403 else 'Bad Gateway' if e.status == 502 else 'Bad Request'}\r\n"
                     f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ValueError, ConnectionError):
        pass
    finally:
        for w in (writer, up_w):
            if w is not None:
                try:
                    w.close()
                except (OSError, RuntimeError):
                    pass


def dns_name(msg, off):
    labels = []
    while True:
        n = msg[off]
        if n == 0:
            return ".".join(labels), off + 1
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
        asyncio.ensure_future(self.answer(data, addr))

    async def answer(self, q, addr):
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
        if self.policy.knows(name):
            rcode = 0
            family = {1: socket.AF_INET, 28: socket.AF_INET6}.get(qtype)
            if family is not None:
                try:
                    found = await addresses(name, None, family)
                except Refused:
                    found = []
                for _, a in found:
                    rdata = ipaddress.ip_address(a).packed
                    records.append(struct.pack(">HHHIH", 0xC00C, qtype, 1, 30, len(rdata)) + rdata)
        header = struct.pack(">HHHHHH", qid, 0x8180 | (flags & 0x0100) | rcode, 1, len(records), 0, 0)
        self.transport.sendto(header + question + b"".join(records), addr)


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
    rx = sys.stdin.buffer
    while True:
        head = rx.read(4)
        if len(head) < 4:
            break
        (n,) = struct.unpack(">I", head)
        frame = json.loads(rx.read(n))
        asyncio.run_coroutine_threadsafe(handle(frame), loop)
    # The worker detached (it stopped or died): this proxy goes with it.
    loop.call_soon_threadsafe(stop.set)


async def main():
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    threading.Thread(target=read_frames, args=(loop, stop), daemon=True).start()
    send({"ready": True})
    await stop.wait()


asyncio.run(main())
