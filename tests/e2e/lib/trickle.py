#!/usr/bin/env python3
"""Slow-client attacker for the e2e tests (bounded in count and time).

trickle.py PORT SOURCE COUNT INTERVAL DURATION OUT [HELD_SECONDS [REOPEN]]
Opens COUNT TCP connections to 127.0.0.1:PORT from address SOURCE (any
127.0.0.0/8 address works on Linux); every INTERVAL seconds sends each
connection still open one byte of a TLS ClientHello, and every REOPEN
seconds (default 5) opens new ones in place of those the server closed, as
slowloris does; for DURATION seconds at most or until SIGTERM. Writes OUT.ready once the first COUNT are open, and OUT (JSON) at
the end: connections made, how many the server closed and after how long
(those it held at least HELD_SECONDS counted apart).
"""
import json, resource, select, signal, socket, sys, time

port, source, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
interval, duration, out = float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = count + 64
if soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
# A TLS 1.2 ClientHello record header and the start of the message: the
# server waits for the 512 bytes the header announces.
hello = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]) + bytes(501)

stopping = []
signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
start = time.monotonic()
conns = {}  # fd -> [socket, opened, bytes sent]
made = failed = 0
poller = select.poll()

def top_up():
    global made, failed
    while len(conns) < count and not stopping:
        s = socket.socket()
        try:
            s.bind((source, 0))
            s.settimeout(5)
            s.connect(("127.0.0.1", port))
        except OSError:
            failed += 1
            s.close()
            return
        made += 1
        s.setblocking(False)
        conns[s.fileno()] = [s, time.monotonic(), 0]
        poller.register(s.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)

top_up()
open(out + ".ready", "w").write("%d\n" % len(conns))

lifetimes = []
reopen = float(sys.argv[8]) if len(sys.argv) > 8 else 5.0
next_tick = time.monotonic()
next_reopen = next_tick + reopen
while not stopping and time.monotonic() - start < duration:
    for fd, _ in poller.poll(100):
        s, opened, sent = conns.pop(fd)
        lifetimes.append((time.monotonic() - opened, sent))
        poller.unregister(fd)
        s.close()
    if time.monotonic() >= next_tick:
        next_tick += interval
        if time.monotonic() >= next_reopen:
            next_reopen += reopen
            top_up()
        for fd, c in list(conns.items()):
            try:
                c[0].send(hello[c[2] % len(hello):c[2] % len(hello) + 1])
                c[2] += 1
            except OSError:
                pass  # the close shows up in poll
held = len(conns)
for c in conns.values():
    c[0].close()
# Held: open at least HELD_SECONDS (the server let them trickle for a while).
held_ones = [(t, sent) for t, sent in lifetimes if t >= float(sys.argv[7])] if len(sys.argv) > 7 else []
json.dump({"connections_made": made, "connect_failed": failed,
           "closed_by_server": len(lifetimes), "closed_within_1s": sum(t < 1 for t, _ in lifetimes),
           "held": len(held_ones),
           "longest_lifetime": round(max([t for t, _ in lifetimes] or [0]), 2),
           "shortest_held_lifetime": round(min([t for t, _ in held_ones] or [0]), 2),
           "fewest_bytes_sent_by_a_held_one": min([sent for _, sent in held_ones] or [0]),
           "still_open_at_end": held}, open(out, "w"))
