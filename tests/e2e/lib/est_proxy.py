#!/usr/bin/env python3
"""A small TLS reverse proxy for e2e tests: forwards every EST request to a
real estd, saves each request body it sees (to check what a client sends),
and can stand in for the server's /csrattrs answer the way other servers
write it (libest ends it with a NUL byte) or with garbage.

usage: est_proxy.py PORTFILE CERT KEY UPSTREAM_HOST:PORT UPSTREAM_CA OUTDIR CSRATTRS
  CSRATTRS: "pass" (forward), or a file whose bytes are the /csrattrs body.
Listens on 127.0.0.1 (a free port, written to PORTFILE); runs until killed.
Request bodies go to OUTDIR/NNN-<operation>.body."""
import http.client
import http.server
import os
import ssl
import sys

portfile, cert, key, upstream, upstream_ca, outdir, csrattrs = sys.argv[1:8]
up_host, up_port = upstream.rsplit(":", 1)
counter = [0]


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        counter[0] += 1
        op = self.path.rstrip("/").rsplit("/", 1)[-1]
        with open(os.path.join(outdir, "%03d-%s.body" % (counter[0], op)), "wb") as f:
            f.write(body)
        if op.lower() == "csrattrs" and csrattrs != "pass":
            with open(csrattrs, "rb") as f:
                answer = f.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/csrattrs")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
            return
        ctx = ssl.create_default_context(cafile=upstream_ca)
        conn = http.client.HTTPSConnection(up_host, int(up_port), context=ctx)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() in ("authorization", "content-type", "user-agent")}
        conn.request(self.command, self.path, body=body or None, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("content-length", "connection", "date", "server"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    do_GET = forward
    do_POST = forward


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
with open(portfile + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(portfile + ".tmp", portfile)
server.serve_forever()
