#!/usr/bin/env python3
# z-score fusion of TREC runs (the CLI's FusionMethod.ZScore rule): fuse.py OUT w1:run1 w2:run2 ...
import sys, collections, statistics
def read(f):
    r = collections.defaultdict(dict)
    for l in open(f):
        q, _, d, rank, s, _ = l.split(); r[q][d] = float(s)
    return r
out = sys.argv[1]; lists = [(float(a.split(':', 1)[0]), read(a.split(':', 1)[1])) for a in sys.argv[2:]]
qs = sorted(set(q for _, r in lists for q in r))
with open(out, 'w') as w:
    for q in qs:
        tot = collections.defaultdict(float); zs = []
        for wt, r in lists:
            top = sorted(r.get(q, {}).items(), key=lambda x: -x[1])[:100]
            if not top: zs.append((wt, {}, 0.0)); continue
            v = [s for _, s in top]; m = sum(v) / len(v); sd = statistics.pstdev(v)
            z = {d: ((s - m) / sd if sd > 0 else 0.0) for d, s in top}
            zs.append((wt, z, min(z.values()) if sd > 0 else -1.0))
        docs = set(d for _, z, _ in zs for d in z)
        for d in docs: tot[d] = sum(wt * z.get(d, lo) for wt, z, lo in zs)
        for i, (d, s) in enumerate(sorted(tot.items(), key=lambda x: -x[1])[:100]):
            w.write(f'{q} Q0 {d} {i + 1} {s:.6f} fused\n')
