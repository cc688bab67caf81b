#!/usr/bin/env python3
"""Prints, for each `loadgen all`/`v3` JSON given, the v3 end-to-end rate,
its ratio to SQLite's 1024-rows-per-commit insert rate of the same run, and
every latency phase of the curve with its breakdown (p50/p99 ms).
Usage: bench/scripts/v3-curve-table.py bench/results/realtime/*.json"""
import json,sys,glob
def load(f):
    d=json.load(open(f)); s={o['name']:o for o in d['scenarios']}
    return d,s
for f in sys.argv[1:]:
    d,s=load(f)
    v3=s['v3']['figures']; lim=s['limits']['figures']
    sq=[c for c in s['v3']['comparisons']]
    ratio=sq[0]['ratio'] if sq else None
    lm=d['machine']
    print(f, 'load', lm.get('load_before'), lm.get('load_after'), 'e2e %.0f'%v3['e2e_msgs_per_s'], 'sqlite1024 %.0f'%sq[0]['limit_value'], 'ratio %.2f'%sq[0]['ratio'])
    for p in v3['curve']:
        st=' '.join('%s %.2f/%.2f'%(x['stage'],x['p50_us']/1000,x['p99_us']/1000) for x in p['stages'])
        print('   %6.0f (%3.0f%%) p50 %.2f p99 %.2f p99.9 %.2f opc %s | %s'%(p['offered_per_s'],100*p['share_of_max'],p['push_latency']['p50_us']/1000,p['push_latency']['p99_us']/1000,p['push_latency']['p999_us']/1000, p['ops_per_commit'] and round(p['ops_per_commit'],1), st))
