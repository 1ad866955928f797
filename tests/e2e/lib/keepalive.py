"""One kept-alive HTTPS connection, driven line by line on stdin:
  get PATH  ->  "STATUS LOCALPORT" (the local port shows the connection
                was not replaced), or "error MESSAGE"
Used by e2e tests that check established connections survive a reload.
argv: HOST PORT CAFILE [USER:PASSWORD] (HTTP Basic on every request)"""
import base64
import http.client
import ssl
import sys

host, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
headers = {}
if len(sys.argv) > 4:
    headers["Authorization"] = "Basic " + base64.b64encode(sys.argv[4].encode()).decode()
ctx = ssl.create_default_context(cafile=cafile)
conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=30)
conn.connect()
local_port = conn.sock.getsockname()[1]
for line in sys.stdin:
    cmd, _, path = line.strip().partition(" ")
    if cmd != "get":
        print("error unknown command", flush=True)
        continue
    try:
        if conn.sock is None:
            raise ConnectionError("connection was closed")
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        resp.read()
        print(resp.status, conn.sock.getsockname()[1] if conn.sock else "closed", flush=True)
    except Exception as e:  # reported to the test, which fails
        print("error", type(e).__name__, e, flush=True)
