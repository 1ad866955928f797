# Type=notify without systemd as PID 1: estd serve with NOTIFY_SOCKET set
# sends READY=1 only once its port accepts connections (the test connects
# the moment READY=1 arrives), and STOPPING=1 on SIGTERM.
. "$E2E_LIB/common.sh"
DIR=$T/estd
"$ESTD" init "$DIR" >/dev/null 2>&1 || fail "estd init"
PORT=$(free_port)
# The reader binds the socket, starts estd, and records each datagram with
# whether the port accepted a connection at the moment READY=1 came.
python3 - "$T/notify.sock" "$PORT" "$ESTD" "$DIR" "$T/estd.log" >"$T/notify.out" <<'PY' || fail "notify reader: $(cat "$T/notify.out")"
import os, signal, socket, subprocess, sys
path, port, estd, inst, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(60)
env = dict(os.environ, NOTIFY_SOCKET=path)
p = subprocess.Popen([estd, "serve", inst, "--listen", "127.0.0.1:%d" % port],
                     env=env, stderr=open(log, "a"))
try:
    while True:
        msg = s.recv(4096).decode()
        fields = dict(l.split("=", 1) for l in msg.split("\n") if "=" in l)
        if fields.get("READY") == "1":
            c = socket.create_connection(("127.0.0.1", port), timeout=5)
            c.close()
            print("READY accepted", fields.get("STATUS", ""))
            break
        print("early", msg.replace("\n", " "))
    p.send_signal(signal.SIGTERM)
    msg = s.recv(4096).decode()
    print("after-term", msg.replace("\n", " "))
    print("exit", p.wait(60))
except Exception as e:
    print("error", e)
    p.kill()
    sys.exit(1)
PY
grep -q '^READY accepted serving EST on 127.0.0.1:' "$T/notify.out" || fail "no READY=1: $(cat "$T/notify.out")"
pass "READY=1 after the listener accepts ($(head -1 "$T/notify.out"))"
grep -q '^after-term STOPPING=1' "$T/notify.out" || fail "no STOPPING=1 on SIGTERM: $(cat "$T/notify.out")"
grep -q '^exit 0$' "$T/notify.out" || fail "estd did not exit 0: $(cat "$T/notify.out")"
pass "STOPPING=1 on SIGTERM, exit 0"
