#!/bin/bash
# rx.sh DIR : in the half-load seconds (worker ahead of writer), the worker's samples: total, recvfrom, recvfrom sending an ACK, writev
here=$(cd "$(dirname "$0")" && pwd)
cd $1
secs=$("$here"/pwsum.sh . | awk '$1 ~ /^[0-9]+$/ && $5 > $3 && $5 > 300 {print $1}' | tr '\n' ' ')
perf script -i all.data -F comm,time,ip,sym 2>/dev/null | awk -v secs="$secs" '
BEGIN { n=split(secs, a, " "); for (i=1;i<=n;i++) ok[a[i]]=1 }
/^[a-z]/{ if (c!="") emit(); c=$1; t=int($2); nk=0; next}
/^$/ { next }
{ nk++; k[nk]=$2 }
function emit() { if (c!="server-worker" || !(t in ok)) return; tot++; rf=0; tx=0; wv=0; for (i=1;i<=nk;i++) { if (k[i]=="__sys_recvfrom") rf=1; if (k[i]=="__tcp_transmit_skb") tx=1; if (k[i]=="do_writev") wv=1 } if (rf) r++; if (rf && tx) rt++; if (wv) w++ }
END { emit(); printf "seconds %d: worker %d, recvfrom %d (sending an ACK %d), writev %d\n", n, tot, r, rt, w }'
