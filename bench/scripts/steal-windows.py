#!/usr/bin/env python3
"""Lays a `steal-sampler.py` record beside the 100 ms windows of each latency
phase of a `loadgen v3` JSON report: how much of the slow messages (over
5 ms) fell in windows where the host stole time from this VM.

    bench/scripts/steal-windows.py RUN.json STEAL.tsv"""
import json
import sys

TICK_MS = 10  # /proc/stat counts in 1/100 s


def load_samples(path):
    rows = []
    for line in open(path):
        v = [int(x) for x in line.split()]
        t, rest = v[0], v[1:]
        steal = [rest[i] for i in range(0, len(rest), 3)]
        rows.append((t, steal))
    return rows


def steal_between(rows, a_us, b_us):
    """Stolen ms per core between the samples nearest a and b."""
    before = [r for r in rows if r[0] <= a_us]
    after = [r for r in rows if r[0] >= b_us]
    if not before or not after:
        return None
    s0, s1 = before[-1][1], after[0][1]
    return [(y - x) * TICK_MS for x, y in zip(s0, s1)]


def main():
    report = json.load(open(sys.argv[1]))
    rows = load_samples(sys.argv[2])
    for sc in report["scenarios"]:
        if sc.get("name") != "v3":
            continue
        for point in sc["figures"]["curve"]:
            w = point["windows"]
            start = w.get("started_unix_us")
            if not start:
                print("no started_unix_us: a loadgen older than the field")
                continue
            slow_total = sum(w["slow"])
            slow_stolen = 0
            windows_stolen = 0
            lines = []
            for i, (m, s) in enumerate(zip(w["messages"], w["slow"])):
                st = steal_between(rows, start + i * 100_000, start + (i + 1) * 100_000)
                if st is None:
                    continue
                stolen = max(st) > 0
                windows_stolen += stolen
                if stolen:
                    slow_stolen += s
                if s or stolen:
                    lines.append(
                        "  window %3d: %6d messages, %5d slow, slowest %6.2f ms, stolen ms per core %s"
                        % (i, m, s, w["slowest_us"][i] / 1000, st)
                    )
            used = sum(1 for m in w["messages"] if m)
            print(
                "offered %.0f msg/s: %d slow; %d of them (%.0f%%) in the %d of %d windows with stolen time"
                % (
                    point["offered_per_s"],
                    slow_total,
                    slow_stolen,
                    100.0 * slow_stolen / max(slow_total, 1),
                    windows_stolen,
                    used,
                )
            )
            print("\n".join(lines))


if __name__ == "__main__":
    main()
