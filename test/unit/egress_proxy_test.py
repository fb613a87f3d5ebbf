# The egress proxy's pure parts (sandbox/inside/egress-proxy.py), run by test/unit/egress-proxy.test.ts: which
# addresses it never reaches, how strictly it reads a request head and its Host header, and the server
# names of a TLS ClientHello. Addresses here are only classified: nothing is sent anywhere.
import asyncio, importlib.util, os, sys, unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The operator opened 10.9.0.0/16 and one address of this (pretend) host; the host also has a public address.
os.environ["EGRESS_PRIVATE_CIDRS"] = '["10.9.0.0/16", "198.51.100.7/32"]'
os.environ["EGRESS_HOST_ADDRS"] = '["172.17.0.1", "127.0.0.1", "8.8.4.4", "198.51.100.7", "2001:4860:4860::8844", "fe80::1%eth0"]'
_spec = importlib.util.spec_from_file_location("egress_proxy", os.path.join(ROOT, "sandbox", "inside", "egress-proxy.py"))
proxy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(proxy)


def hello(sni, split=None):
    """A ClientHello record (or two, split at `split` bytes of the handshake) with an optional server_name."""
    ext = b""
    for name in ([sni] if isinstance(sni, str) else sni or []):
        n = name.encode()
        entry = b"\x00" + len(n).to_bytes(2, "big") + n
        names = len(entry).to_bytes(2, "big") + entry
        ext += b"\x00\x00" + len(names).to_bytes(2, "big") + names
    ext = b"\x00\x0a\x00\x04\x00\x02\x00\x1d" + ext  # another extension first (supported_groups)
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x00\x2f" + b"\x01\x00" + len(ext).to_bytes(2, "big") + ext
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    parts = [hs] if split is None else [hs[:split], hs[split:]]
    return b"".join(b"\x16\x03\x01" + len(p).to_bytes(2, "big") + p for p in parts)


class Addresses(unittest.TestCase):
    def refused(self, addr):
        return proxy.refusal(addr) is not None

    def test_public_addresses_pass(self):
        for a in ("8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"):
            self.assertIsNone(proxy.refusal(a), a)

    def test_private_local_and_reserved_addresses_are_refused(self):
        for a in ("10.0.0.1", "172.17.0.2", "192.168.1.1", "127.0.0.1", "169.254.169.254", "100.64.0.1",
                  "0.0.0.0", "224.0.0.1", "255.255.255.255", "240.0.0.1", "::1", "::", "fe80::1", "fd00::1",
                  "ff0e::1", "2001:db8::1"):
            self.assertTrue(self.refused(a), a)

    def test_ipv6_forms_that_carry_ipv4_are_refused_though_is_global_passes_some(self):
        for a in ("64:ff9b::a9fe:a9fe",    # NAT64 of the metadata address
                  "64:ff9b::808:808",      # NAT64 of a public address: still through a gateway
                  "64:ff9b:1::1",          # NAT64, local use
                  "2002:808:808::1",       # 6to4
                  "2002:ac11:1::1",
                  "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
                  "::8.8.8.8",             # IPv4-compatible
                  "::172.17.0.1",
                  "::ffff:0:808:808",      # IPv4-translated
                  "100::1"):               # discard-only
            self.assertTrue(self.refused(a), a)

    def test_ipv4_mapped_addresses_are_judged_as_the_ipv4_they_map(self):
        for a in ("::ffff:172.17.0.1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1", "::ffff:8.8.4.4"):
            self.assertTrue(self.refused(a), a)
        self.assertIsNone(proxy.refusal("::ffff:10.9.1.2"), "an opened range, mapped")

    def test_the_hosts_own_addresses_are_refused_even_when_public(self):
        for a in ("8.8.4.4", "2001:4860:4860::8844", "172.17.0.1", "fe80::1"):
            self.assertTrue(self.refused(a), a)
        self.assertIn("this host", proxy.refusal("8.8.4.4"))

    def test_ranges_the_operator_opened_pass_host_addresses_included(self):
        for a in ("10.9.0.1", "10.9.255.254", "198.51.100.7"):
            self.assertIsNone(proxy.refusal(a), a)
        self.assertTrue(self.refused("10.10.0.1"))


class Policies(unittest.TestCase):
    def test_an_allow_list_allows_its_patterns_only(self):
        p = proxy.Policy(["pypi.org:443", "*.pythonhosted.org:443", "[FD00::1]:80"])
        self.assertTrue(p.allows("PyPI.org.", 443))
        self.assertTrue(p.allows("files.pythonhosted.org", 443))
        self.assertTrue(p.allows("fd00:0::1", 80))
        self.assertFalse(p.allows("pythonhosted.org", 443))
        self.assertFalse(p.allows("pypi.org", 80))
        self.assertFalse(p.knows("example.com"))

    def test_public_allows_any_host_and_port(self):
        p = proxy.Policy("public")
        self.assertTrue(p.allows("example.com", 25))
        self.assertTrue(p.knows("anything.example"))


class Requests(unittest.TestCase):
    def req(self, head):
        return proxy.Request(head.encode("latin-1"))

    def status(self, fn):
        with self.assertRaises(proxy.Refused) as c:
            fn()
        return c.exception.status

    def test_host_header_must_name_the_urls_host_and_port(self):
        ok = self.req("GET http://Example.com/x HTTP/1.1\r\nHost: example.COM.:80\r\n\r\n")
        self.assertEqual(proxy.http_origin(ok)[:2], ("example.com", 80))
        for head in ("GET http://example.com/ HTTP/1.1\r\nHost: evil.example\r\n\r\n",
                     "GET http://example.com/ HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
                     "GET http://example.com:8080/ HTTP/1.1\r\nHost: example.com\r\n\r\n"):
            self.assertEqual(self.status(lambda: proxy.http_origin(self.req(head))), 403, head)
        two = self.req("GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\nHost: evil.example\r\n\r\n")
        self.assertEqual(self.status(lambda: proxy.http_origin(two)), 400)

    def test_a_request_without_host_gets_its_urls(self):
        r = self.req("GET http://example.com:8080/a?b=1 HTTP/1.1\r\nProxy-Authorization: x\r\nAccept: */*\r\n\r\n")
        host, port, u = proxy.http_origin(r)
        out = proxy.origin_form(r, u, host, port).decode()
        self.assertEqual(out, "GET /a?b=1 HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\n\r\n")

    def test_only_absolute_http_urls(self):
        for target in ("/", "https://example.com/", "http://user:pw@example.com/", "http:///x"):
            r = self.req(f"GET {target} HTTP/1.1\r\n\r\n")
            self.assertEqual(self.status(lambda: proxy.http_origin(r)), 400, target)

    def test_heads_a_server_could_read_otherwise_are_refused(self):
        for head in ("GET http://a/ HTTP/1.1\r\nX: 1\nHost: evil\r\n\r\n",     # bare LF
                     "GET http://a/ HTTP/1.1\r\n Host: evil\r\n\r\n",            # folded
                     "GET http://a/ HTTP/1.1\r\nHost : a\r\n\r\n",               # space before the colon
                     "GET http://a/ HTTP/2\r\n\r\n",
                     "GET  http://a/ HTTP/1.1\r\n\r\n"):
            self.assertEqual(self.status(lambda: self.req(head)), 400, repr(head))
        for head in ("POST http://a/ HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                     "POST http://a/ HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
                     "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                     "POST http://a/ HTTP/1.1\r\nContent-Length: -1\r\n\r\n"):
            self.assertEqual(self.status(lambda: self.req(head).body_framing()), 400, repr(head))
        self.assertEqual(self.req("POST http://a/ HTTP/1.1\r\nContent-Length: 3\r\n\r\n").body_framing(), ("length", 3))
        self.assertEqual(self.req("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n").body_framing(), ("chunked", None))

    def test_a_chunked_body_is_forwarded_whole_and_no_further(self):
        async def run():
            r = asyncio.StreamReader()
            r.feed_data(b"3;x=1\r\nabc\r\n0\r\nT: 1\r\n\r\nGET http://next/ HTTP/1.1\r\n\r\n")
            r.feed_eof()
            out = []

            class W:
                def write(self, d):
                    out.append(d)

                async def drain(self):
                    pass
            await proxy.forward_body(r, W(), ("chunked", None))
            return b"".join(out), await r.read()
        body, rest = asyncio.run(run())
        self.assertEqual(body, b"3;x=1\r\nabc\r\n0\r\nT: 1\r\n\r\n")
        self.assertEqual(rest, b"GET http://next/ HTTP/1.1\r\n\r\n")

    def test_chunk_framing_a_server_could_read_otherwise_is_refused(self):
        async def run(data):
            r = asyncio.StreamReader()
            r.feed_data(data)
            r.feed_eof()

            class W:
                def write(self, d):
                    pass

                async def drain(self):
                    pass
            await proxy.forward_body(r, W(), ("chunked", None))
        for data in (b"3;x\nGET http://evil/ HTTP/1.1\r\nabc\r\n0\r\n\r\n",   # a bare LF in an extension
                     b"0\r\nT: 1\nGET http://evil/ HTTP/1.1\r\n\r\n",            # and in a trailer
                     b"0x3\r\nabc\r\n0\r\n\r\n",
                     b"3\r\nabcX\r\n0\r\n\r\n"):
            with self.assertRaises(proxy.Refused, msg=repr(data)):
                asyncio.run(run(data))


class ClientHellos(unittest.TestCase):
    def test_reads_the_server_name_whole_or_across_records(self):
        self.assertEqual(proxy.client_hello_sni(hello("pypi.org")), ["pypi.org"])
        self.assertEqual(proxy.client_hello_sni(hello("pypi.org", split=20)), ["pypi.org"])
        self.assertEqual(proxy.client_hello_sni(hello(None)), [])
        self.assertIsNone(proxy.client_hello_sni(hello("pypi.org")[:30]), "more bytes needed")
        with self.assertRaises(ValueError):
            proxy.client_hello_sni(hello(["a.example", "b.example"]))
        with self.assertRaises(ValueError):
            proxy.client_hello_sni(b"\x17\x03\x03\x00\x01x")

    def test_the_name_must_be_the_tunnels(self):
        self.assertIsNone(proxy.sni_refusal("pypi.org", ["PyPI.org"]))
        self.assertIsNone(proxy.sni_refusal("pypi.org", []))
        self.assertIsNone(proxy.sni_refusal("151.101.0.223", []))
        self.assertIsNotNone(proxy.sni_refusal("pypi.org", ["evil.example"]))
        self.assertIsNotNone(proxy.sni_refusal("151.101.0.223", ["pypi.org"]))
        self.assertIsNotNone(proxy.sni_refusal("2a04:4e42::223", ["pypi.org"]))


class Tunnels(unittest.TestCase):
    def test_a_tunnels_first_bytes_tell_http_from_anything_else(self):
        kind = proxy.first_line_kind
        self.assertEqual(kind(b"GET / HTTP/1.1\r\nHost: x\r\n"), "http")
        self.assertEqual(kind(b"\r\nget / http/1.1\n"), "http", "lax forms are judged by the strict parser")
        self.assertEqual(kind(b"GET /\xc3\xa9 HTTP/1.1\r\n"), "http", "bytes past ASCII in a target")
        self.assertIsNone(kind(b"GET / HTT"), "too early to tell")
        self.assertEqual(kind(b"SSH-2.0-OpenSSH_9.2\r\n"), "raw")
        self.assertEqual(kind(b"\x00\x00\x00\x08\x04\xd2\x16\x2f"), "raw", "a PostgreSQL startup")
        self.assertEqual(kind(b"EHLO mail.example\r\n"), "raw")

    def test_requests_inside_a_tunnel_must_name_its_server(self):
        def req(head):
            return proxy.Request(head.encode())
        proxy.check_tunnel_request(req("GET / HTTP/1.1\r\nHost: Pypi.org\r\n\r\n"), "pypi.org", 80)
        proxy.check_tunnel_request(req("GET / HTTP/1.1\r\nHost: pypi.org:8080\r\n\r\n"), "pypi.org", 8080)
        proxy.check_tunnel_request(req("GET http://pypi.org:8080/ HTTP/1.1\r\nHost: pypi.org:8080\r\n\r\n"), "pypi.org", 8080)
        for head in ("GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n",
                     "GET / HTTP/1.1\r\nHost: pypi.org:81\r\n\r\n",
                     "GET http://evil.example/ HTTP/1.1\r\n\r\n"):
            with self.assertRaises(proxy.Refused, msg=head):
                proxy.check_tunnel_request(req(head), "pypi.org", 80)
        with self.assertRaises(proxy.Refused):
            proxy.check_tunnel_request(req("CONNECT evil.example:443 HTTP/1.1\r\n\r\n"), "pypi.org", 80)

    def test_bytes_read_to_tell_are_read_again(self):
        async def run():
            r = asyncio.StreamReader()
            r.feed_data(b"\r\nHost: a\r\n\r\nbody")
            r.feed_eof()
            b = proxy.Buffered(r, b"GET / HTTP/1.1")
            return await b.readuntil(b"\r\n\r\n"), await b.readexactly(2), await b.read(10), await b.read(10)
        self.assertEqual(asyncio.run(run()), (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", b"bo", b"dy", b""))


class DnsBounds(unittest.TestCase):
    def test_oversized_queries_and_queries_past_the_pending_bound_are_dropped(self):
        async def run():
            p = proxy.Policy(["example.com:443"])
            d = proxy.Dns(p)
            sent = []

            class T:
                def sendto(self, data, addr):
                    sent.append(data)
            d.connection_made(T())
            q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + b"\x04evil\x07example\x00" + b"\x00\x01\x00\x01"
            d.datagram_received(q + b"\x00" * 600, ("10.0.0.3", 5353))
            p.dns_pending = proxy.DNS_PENDING_MAX
            d.datagram_received(q, ("10.0.0.3", 5353))
            p.dns_pending = 0
            d.datagram_received(q, ("10.0.0.3", 5353))
            await asyncio.sleep(0.05)
            return sent, p.dns_pending
        sent, pending = asyncio.run(run())
        self.assertEqual(len(sent), 1, "only the third query is answered")
        self.assertEqual(sent[0][3] & 0x0F, 3, "NXDOMAIN: not on the allow-list")
        self.assertEqual(pending, 0)

    def test_a_lookup_past_its_timeout_keeps_its_share_until_its_thread_is_done(self):
        async def run():
            p = proxy.Policy("public")
            p.lookups = asyncio.Semaphore(1)
            slow, timeout = proxy.socket.getaddrinfo, proxy.DNS_TIMEOUT

            def hanging(*_):
                import time
                time.sleep(0.4)
                return []
            proxy.socket.getaddrinfo, proxy.DNS_TIMEOUT = hanging, 0.05
            try:
                with self.assertRaises(proxy.Refused) as c:
                    await proxy.addresses(p, "slow.example", 443)
                self.assertIn("in time", str(c.exception))
                held = p.lookups.locked()
                await asyncio.sleep(0.6)
                return held, p.lookups.locked()
            finally:
                proxy.socket.getaddrinfo, proxy.DNS_TIMEOUT = slow, timeout
        self.assertEqual(asyncio.run(run()), (True, False))


if __name__ == "__main__":
    unittest.main(verbosity=2)
