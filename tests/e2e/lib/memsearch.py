#!/usr/bin/env python3
"""memsearch.py PID HEX: exit 0 when the bytes (or their reverse, the
little-endian limbs of an OpenSSL BIGNUM) occur in a readable mapping of
process PID, 1 when not, 2 when its memory cannot be read."""
import re
import sys

pid, needle = sys.argv[1], bytes.fromhex(sys.argv[2])
patterns = (needle, needle[::-1])
try:
    maps = open(f"/proc/{pid}/maps").read().splitlines()
    mem = open(f"/proc/{pid}/mem", "rb", 0)
except OSError as e:
    print(f"memsearch: {e}", file=sys.stderr)
    sys.exit(2)
readable = 0
for line in maps:
    m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
    start, end, perms = int(m.group(1), 16), int(m.group(2), 16), m.group(3)
    if perms[0] != "r" or "[vvar]" in line or "[vsyscall]" in line:
        continue
    # ASan's shadow and reserved ranges are huge and hold no program data.
    if end - start > (1 << 34):
        continue
    try:
        mem.seek(start)
        chunk = mem.read(end - start)
    except (OSError, OverflowError, ValueError):
        continue
    readable += 1
    if any(p in chunk for p in patterns):
        sys.exit(0)
sys.exit(1 if readable else 2)
