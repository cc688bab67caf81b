#!/bin/bash
# sc2.sh BIN : server syscalls by kind at the maximum and at half load
cd /work/main
bin=$1
ev=syscalls:sys_enter_writev,syscalls:sys_enter_write,syscalls:sys_enter_sendto,syscalls:sys_enter_read,syscalls:sys_enter_recvfrom,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_futex,syscalls:sys_enter_fsync,syscalls:sys_enter_pwrite64,syscalls:sys_enter_sched_yield,context-switches
target/native/release/loadgen --split-cores v3 --spawn --v3-seconds 6 --v3-curve 0.5x --server-bin $bin > /tmp/sc2-lg.txt 2>&1 &
lg=$!
sleep 3
pid=$(pgrep -x server|head -1)
perf stat -e $ev -p $pid -o /tmp/sc2-max.txt -- sleep 2
sleep 4.5
perf stat -e $ev -p $pid -o /tmp/sc2-half.txt -- sleep 2
wait $lg
grep -E '^ +[0-9,]+ +[0-9]+%|end to end' /tmp/sc2-lg.txt
paste <(grep -E "syscalls|context" /tmp/sc2-max.txt | awk '{print $2, $1}') <(grep -E "syscalls|context" /tmp/sc2-half.txt | awk '{print $1}')
