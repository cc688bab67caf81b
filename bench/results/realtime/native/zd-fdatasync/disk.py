import sys,json
for n in sys.argv[1:]:
    rows=[l.split() for l in open(f'disk{n}.txt')]
    t=[float(r[0]) for r in rows]; w=[int(r[5]) for r in rows]; f=[int(r[16]) for r in rows]
    # total over run
    d=json.load(open(f'run{n}.json'))['scenarios'][0]['figures']
    commits=sum(c['commits'] for c in d['curve'])
    # per-second peak rates
    rates=[((w[i+1]-w[i])/(t[i+1]-t[i]),(f[i+1]-f[i])/(t[i+1]-t[i])) for i in range(len(t)-1)]
    top=sorted(rates,key=lambda x:-x[1])[:6]
    print(n,'writes %d flushes %d over run; busiest half-seconds (writes/s, flushes/s):'%(w[-1]-w[0],f[-1]-f[0]),[(int(a),int(b)) for a,b in top])
