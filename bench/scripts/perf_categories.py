#!/usr/bin/env python3
"""Sorts the samples of a `perf record --call-graph` profile into a few
categories a person can act on, and prints inclusive shares of chosen
functions.

    perf script -i system.perf.data | bench/scripts/perf_categories.py [--comm REGEX]

With --comm, only samples of threads whose name matches REGEX count (for
example '^(server|store-writer)' for the server's threads in a
whole-machine profile).

Each sample goes to the first category whose pattern matches any frame of
its stack (kernel categories first, so that a syscall is charged to what it
does, not to the Rust code that made it); samples that match none are
charged by their leaf frame.
"""

import collections
import re
import sys

# (category, regex over any frame), first match wins.
STACK_RULES = [
    ("idle (no thread ran)", r"\b(do_idle|default_idle_call|cpuidle_idle_call)\b"),
    ("fsync/fdatasync (commit durability)", r"\b(__x64_sys_fdatasync|__x64_sys_fsync|vfs_fsync_range)\b"),
    ("SQLite in the store-writer thread (statements, WAL writes)", r"^WRITER:.*(sqlite3|rusqlite|pcache1|wal[A-Z])"),
    ("SQLite reads (pull: waiting_index, inline_contents)", r"(sqlite3|rusqlite|pcache1)"),
    ("file reads and writes (pread/pwrite, direct I/O)", r"\b(__x64_sys_pread64|__x64_sys_pwrite64|iomap_dio_rw|ext4_file_read_iter|ext4_file_write_iter)\b"),
    ("accept()", r"\b(__sys_accept4|do_accept|inet_accept|__x64_sys_accept4)\b"),
    ("close() and TCP teardown", r"\b(__x64_sys_close|tcp_close|__fput|sock_close)\b"),
    ("write/send (responses)", r"\b(tcp_sendmsg|__x64_sys_sendto|__x64_sys_write|__x64_sys_writev|sock_write_iter)\b"),
    ("read/recv (requests)", r"\b(tcp_recvmsg|__x64_sys_recvfrom|__x64_sys_read|sock_read_iter)\b"),
    ("shutdown() (the FIN after each answer, with its loopback delivery)", r"\b__x64_sys_shutdown\b"),
    ("epoll_ctl (register/deregister each connection)", r"\b__x64_sys_epoll_ctl\b"),
    ("epoll_wait", r"\b(__x64_sys_epoll_wait|do_epoll_wait)\b"),
    ("futex (thread park/unpark, blocking-pool hand-offs)", r"\b(__x64_sys_futex|futex_wake|futex_wait)\b"),
    ("thread creation/exit (blocking pool)", r"\b(__x64_sys_clone3|__x64_sys_clone|do_exit|__x64_sys_exit)\b"),
    ("other syscalls and syscall entry/exit (setsockopt, mprotect, madvise, ...)", r"\b(do_syscall_64)\b"),
    ("softirq/interrupt outside syscalls (loopback delivery, timers)", r"\b(handle_softirqs|asm_sysvec_apic_timer_interrupt|net_rx_action)\b"),
]

# (category, regex over the leaf frame) for the rest.
LEAF_RULES = [
    ("cryptography (ChaCha20-Poly1305, X25519, Ed25519, SHA-2)", r"(chacha20|poly1305|curve25519|ed25519|x25519|sha2::|blake2|aead::|_mm256_|_mm_)"),
    ("zeroizing secrets and buffers", r"(write_volatile|zeroize)"),
    ("memory allocation (malloc/free)", r"(malloc|_int_free|cfree|realloc|__libc_free|_int_realloc|tcache)"),
    ("memcpy/memmove", r"(memmove|memcpy|memset)"),
    ("tokio runtime (scheduler, timers, I/O driver)", r"(tokio::|mio::|parking_lot)"),
    ("protocol codec", r"(protocol::|bytes::|tokio_util::codec)"),
    ("tracing", r"tracing"),
    ("server code", r"server::"),
]

# Inclusive shares of these (any frame matches).
FUNCTIONS = [
    ("server::v2::serve (one v2 request)", r"server::v2::serve|server::v2::handle|server::v2::pull"),
    ("server::v2::pull", r"server::v2::pull|server::v2::write_pull"),
    ("Writer::commit_batch (group commit)", r"commit_batch"),
    ("Store::waiting_index (v2 pull)", r"waiting_index"),
    ("Store::inline_contents (v2 pull)", r"inline_contents"),
    ("listener accept loop", r"server::listener::run"),
    ("handler::send_and_close", r"send_and_close"),
    ("SQLite page-cache misses (pcache1Alloc/Fetch)", r"pcache1(Alloc|FetchStage2)"),
    ("server::v3 (version-3 session)", r"server::v3::"),
    ("server push hub", r"server::hub::"),
    ("client crypto (seal/open, file stream)", r"client::crypto::"),
    ("client file transfer", r"client::transfer::"),
]


def samples(lines):
    header, frames = None, []
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            if header is not None:
                yield header, frames
            header, frames = None, []
        elif not line.startswith((" ", "\t")):
            header, frames = line, []
        else:
            parts = line.strip().split(None, 1)
            frames.append(parts[1] if len(parts) > 1 else parts[0])
    if header is not None:
        yield header, frames


def main():
    only = None
    args = sys.argv[1:]
    if args[:1] == ["--comm"] and len(args) == 2:
        only = re.compile(args[1])
    elif args:
        sys.exit("usage: perf_categories.py [--comm REGEX] < perf-script-output")
    stack_rules = [(n, re.compile(p)) for n, p in STACK_RULES]
    leaf_rules = [(n, re.compile(p)) for n, p in LEAF_RULES]
    functions = [(n, re.compile(p)) for n, p in FUNCTIONS]
    cats = collections.Counter()
    incl = collections.Counter()
    comms = collections.Counter()
    total = 0
    for header, frames in samples(sys.stdin):
        comm = header.split()[0] if header else "?"
        if only is not None and not only.search(comm):
            continue
        total += 1
        comms[comm] += 1
        writer = "WRITER:" if comm == "store-writer" else ""
        stack = [writer + f for f in frames] if writer else frames
        for name, rx in functions:
            if any(rx.search(f) for f in frames):
                incl[name] += 1
        for name, rx in stack_rules:
            if any(rx.search(f) for f in stack):
                cats[name] += 1
                break
        else:
            leaf = frames[0] if frames else ""
            for name, rx in leaf_rules:
                if rx.search(leaf):
                    cats[name] += 1
                    break
            else:
                cats["other user space"] += 1
    if total == 0:
        print("no samples")
        return
    print(f"{total} samples")
    print("\nby thread:")
    for name, n in comms.most_common():
        print(f"  {100 * n / total:5.1f}%  {name}")
    print("\nby category (each sample once):")
    for name, n in cats.most_common():
        print(f"  {100 * n / total:5.1f}%  {name}")
    print("\ninclusive (a sample may count in several):")
    for name, _ in FUNCTIONS:
        print(f"  {100 * incl[name] / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
