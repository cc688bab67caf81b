#!/usr/bin/env python3
"""Samples each core's stolen, idle and I/O-wait time from /proc/stat every
20 ms for SECONDS, printing one line a sample: the time in µs since the Unix
epoch, then per core the cumulative ticks (1/100 s) stolen, idle and iowait.

    bench/scripts/steal-sampler.py SECONDS > steal.tsv

Stolen time is what the host took from this VM's vCPUs (another guest, or
the host itself, ran on the physical core); a stall of the whole VM shows
as steal on both cores at once. `steal-windows.py` lays it beside the
windows of a `loadgen v3` run."""
import sys
import time


def sample():
    cores = []
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                v = line.split()
                # user nice system idle iowait irq softirq steal
                cores.append((int(v[8]), int(v[4]), int(v[5])))
    return cores


def main():
    seconds = float(sys.argv[1])
    end = time.time() + seconds
    out = sys.stdout
    while True:
        now = time.time()
        if now > end:
            break
        cores = sample()
        out.write(
            "%d\t%s\n"
            % (int(now * 1e6), "\t".join("%d\t%d\t%d" % c for c in cores))
        )
        time.sleep(0.02)
    out.flush()


if __name__ == "__main__":
    main()
