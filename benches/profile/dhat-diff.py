#!/usr/bin/env python3
"""Allocations per request from two DHAT profiles of the same load with
different request counts: (B - A) / N, per allocation site.

    python3 dhat-diff.py dhat.2000.out dhat.12000.out 10000
"""
import json, sys, collections, re
def load(p):
    d = json.load(open(p))
    ftbl = d['ftbl']
    pts = {}
    for pp in d['pps']:
        frames = [ftbl[i] for i in pp['fs']]
        key = ' <- '.join(frames[:40])
        a = pts.setdefault(key, [0, 0, frames])
        a[0] += pp['tbk']; a[1] += pp['tb']
    return pts
if len(sys.argv) != 4:
    sys.exit(__doc__)
a = load(sys.argv[1]); b = load(sys.argv[2]); n = int(sys.argv[3])
tot_blocks = sum(v[0] for v in b.values()) - sum(v[0] for v in a.values())
tot_bytes = sum(v[1] for v in b.values()) - sum(v[1] for v in a.values())
print(f"per request: {tot_blocks/n:.2f} allocations, {tot_bytes/n:.0f} bytes allocated")
def site(frames, depth=3):
    out = []
    for f in frames[1:]:
        m = re.match(r'0x[0-9A-F]+: (.*) \((.*)\)$', f)
        if not m: continue
        name, loc = m.group(1), m.group(2)
        if loc.startswith(('library/', 'in /')) or name.startswith(('UnknownInlinedFun',)): continue
        name = re.sub(r'<.*>', '<..>', name)
        out.append(f"{name} ({loc})")
        if len(out) == depth: break
    return ' <- '.join(out)
per = collections.Counter(); perb = collections.Counter()
for k, v in b.items():
    blocks = v[0] - a.get(k, [0, 0])[0]
    bytes_ = v[1] - a.get(k, [0, 0])[1]
    if blocks <= 0: continue
    s = site(v[2]); per[s] += blocks; perb[s] += bytes_
for s, c in per.most_common(30):
    print(f"  {c/n:5.2f} allocs {perb[s]/n:7.0f} B  {s[:230]}")
