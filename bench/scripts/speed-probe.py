#!/usr/bin/env python3
"""How fast this VM is this minute, in two figures that move independently:
hashing on each core (pure computation), and round trips of one byte over
loopback TCP between a process on core 0 and one on core 1 (system calls,
wake-ups across cores: on a VM, exits to the host). A slow hour of the
host shows in the second more than in the first.

    bench/scripts/speed-probe.py [LABEL]"""
import hashlib
import os
import socket
import sys
import time

label = sys.argv[1] if len(sys.argv) > 1 else ""


def hashing(core):
    os.sched_setaffinity(0, {core})
    b = b"x" * 1048576
    h = hashlib.sha256()
    t = time.perf_counter()
    for _ in range(300):
        h.update(b)
    return 300 * 1.048576 / (time.perf_counter() - t)


def round_trips(n=20000):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    pid = os.fork()
    if pid == 0:
        os.sched_setaffinity(0, {1})
        c = socket.create_connection(("127.0.0.1", port))
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            b = c.recv(1)
            if not b:
                os._exit(0)
            c.sendall(b)
    os.sched_setaffinity(0, {0})
    s, _ = listener.accept()
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t = time.perf_counter()
    for _ in range(n):
        s.sendall(b"x")
        s.recv(1)
    took = time.perf_counter() - t
    s.close()
    os.waitpid(pid, 0)
    return took / n * 1e6


speeds = [hashing(0), hashing(1)]
rtt = round_trips()
print(
    "%ssha256 %.0f / %.0f MB/s (core 0 / 1); loopback TCP round trip across the cores %.1f µs"
    % (label + ": " if label else "", speeds[0], speeds[1], rtt)
)
