import sys,subprocess,collections
out=subprocess.run(['perf','script','-i',sys.argv[1],'-F','comm,tid,time,event'],capture_output=True,text=True).stdout
open_={}
durs=collections.defaultdict(list)
for line in out.splitlines():
    p=line.split()
    if len(p)<4: continue
    comm,tid,t,ev=p[0],p[1],float(p[2].rstrip(':')),p[3].rstrip(':')
    kind=ev.split('_')[-1]
    if 'enter' in ev: open_[tid]=(t,kind)
    elif tid in open_:
        t0,k=open_.pop(tid); durs[(comm,tid,k)].append((t0,t-t0))
allw=[]
for k,v in durs.items():
    ds=sorted(d for _,d in v)
    n=len(ds)
    print(k,n,'p50 %.2f p99 %.2f max %.2f ms total %.0f ms'%(ds[n//2]*1e3,ds[int(n*.99)]*1e3,ds[-1]*1e3,sum(ds)*1e3))
# long writer syncs and whether a checkpoint sync overlapped
ck=[(t0,t0+d) for (c,tid,k),v in durs.items() if 'checkp' in c for t0,d in v]
for (c,tid,k),v in durs.items():
    if 'writer' not in c: continue
    t_first=v[0][0]
    longs=[(t0,d) for t0,d in v if d>0.004]
    ov=sum(1 for t0,d in longs if any(a<t0+d and b>t0 for a,b in ck))
    print('writer syncs >4ms:',len(longs),'overlapping a checkpoint sync:',ov)
    for t0,d in longs[:40]:
        o=[ (a-t0)*1e3 for a,b in ck if a<t0+d and b>t0]
        print('  at %.3f s dur %.2f ms ckpt-overlap %s'%(t0-t_first,d*1e3,['%.2f'%x for x in o]))
