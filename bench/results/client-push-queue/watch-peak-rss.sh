#!/usr/bin/env bash
# Peak memory (VmHWM, read every 0.1 s) of `client watch` coming online
# to N texts of 250,000 bytes sent while it was away (loopback only; the
# release server of this repository, started and stopped here):
#   watch-peak-rss.sh CLIENT_BIN N OUT_DIR
set -euo pipefail
C=$1; N=$2; out=$3
rm -rf $out; mkdir -p $out/{s,a,b}
export SEALPOST_PASSPHRASE=pw
port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
/work/main/target/release/server --port $port --bind 127.0.0.1 --data-dir $out/s --log-level warn 2>$out/server.log &
srv=$!
trap 'kill $srv 2>/dev/null || true' EXIT
for i in $(seq 1 50); do ss -ltn | grep -q ":$port " && break; sleep 0.1; done
for u in a b; do echo 127.0.0.1:$port > $out/$u/server.info; done
(cd $out/a && $C register alice >/dev/null)
(cd $out/b && $C register bob >/dev/null)
(cd $out/a && $C send bob hi >/dev/null)
(cd $out/b && $C inbox >/dev/null)
pad=$(head -c 249990 /dev/zero | tr '\0' 'x')
for i in $(seq -w 1 $N); do
    printf '%s %s' "$i" "$pad" | (cd $out/a && $C send bob - >/dev/null)
done
cd $out/b
$C watch > $out/watch.out 2>$out/watch.err &
w=$!
peak=0
for i in $(seq 1 600); do
    hwm=$(awk '/VmHWM/{print $2}' /proc/$w/status 2>/dev/null || echo 0)
    [ -n "$hwm" ] && [ "$hwm" -gt "$peak" ] && peak=$hwm
    shown=$(grep -c "^    [0-9]* x" $out/watch.out || true)
    [ "$shown" -ge "$N" ] && break
    sleep 0.1
done
hwm=$(awk '/VmHWM/{print $2}' /proc/$w/status 2>/dev/null || echo 0)
[ "$hwm" -gt "$peak" ] && peak=$hwm
kill -INT $w; wait $w || true
echo "texts shown: $shown of $N; peak RSS: $((peak / 1024)) MiB; distinct: $(grep -o '^    [0-9]* ' $out/watch.out | sort -u | wc -l)"
