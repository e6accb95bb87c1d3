#!/usr/bin/env python3
"""Summarise a perf profile of stgw: where the time goes, by syscall, by
user-space component and by stgw function.

    perf record -e cpu-clock -F 1999 --call-graph dwarf,16384 -p PID -o stgw.perf.data -- sleep 5
    perf script -i stgw.perf.data -F comm,tid,time,event,ip,sym,dso | python3 perf-summary.py -

Shares are of all samples unless said otherwise. Heuristic grouping: read
the numbers as approximate.
"""
import re, sys, collections
if len(sys.argv) != 2:
    sys.exit(__doc__)
path = '/dev/stdin' if sys.argv[1] == '-' else sys.argv[1]
samples = []
cur = None
def finish(frames):
    # inlined frames share the address of the real frame that follows them
    out = []
    for i, (ip, sym, dso) in enumerate(frames):
        if dso == 'inlined':
            dso = next((d for a, _, d in frames[i:] if a == ip and d != 'inlined'), '?')
        out.append((sym, dso))
    return out
for line in open(path, errors='replace'):
    if not line.strip():
        if cur is not None: samples.append(finish(cur)); cur = None
        continue
    if not line.startswith('\t') and not line.startswith(' '):
        cur = []
        continue
    m = re.match(r'\s*([0-9a-f]+) (.*) \((.*)\)\s*$', line)
    if m and cur is not None:
        cur.append((m.group(1), m.group(2), m.group(3)))
if cur: samples.append(finish(cur))
N = len(samples)
print(f"samples: {N}")
def pct(n): return f"{100.0*n/N:5.1f}%"

def short(sym):
    s = re.sub(r'::\{\{closure\}\}', '::{closure}', sym)
    s = re.sub(r'<([^<>]*?) as ([^<>]*?)>', r'<\1 as \2>', s)
    return s[:150]

# 1. Where the time goes: kernel / stgw / libc / other
cat = collections.Counter()
for st in samples:
    leaf = st[0] if st else ('?', '?')
    d = leaf[1]
    if 'kernel' in d: cat['kernel'] += 1
    elif d.endswith('/stgw'): cat['stgw binary (stgw + tokio + hyper + http + std)'] += 1
    elif 'libc' in d: cat['libc (malloc/free/memcpy)'] += 1
    else: cat[d] += 1
print("\n== leaf location")
for k, v in cat.most_common(): print(f"  {pct(v)}  {k}")

# 2. kernel time by syscall
sysc = collections.Counter()
for st in samples:
    if not st or 'kernel' not in st[0][1]: continue
    name = None
    for sym, d in st:
        if sym.startswith('__x64_sys_') or sym.startswith('__do_sys_') or sym in ('do_writev','do_readv','ksys_read','ksys_write','__sys_recvfrom','__sys_sendto','do_epoll_wait','__sys_accept4','__sys_connect'):
            name = sym
        if 'entry_SYSCALL' in sym: break
    if name is None:
        name = 'softirq/other: ' + next((s for s, d in reversed(st) if 'kernel' in d), '?')
    sysc[name] += 1
print("\n== kernel time by syscall (frame below entry_SYSCALL)")
for k, v in sysc.most_common(12): print(f"  {pct(v)}  {k}")

# 3. user-space leaf functions
leafc = collections.Counter(short(st[0][0]) for st in samples if st and 'kernel' not in st[0][1])
print("\n== user-space leaf functions (self time)")
for k, v in leafc.most_common(30): print(f"  {pct(v)}  {k}")

# 4. nearest stgw frame (all time, kernel included, attributed to the innermost stgw:: frame)
near = collections.Counter(); incl = collections.Counter()
for st in samples:
    f = next((short(s) for s, d in st if 'stgw::' in s), None)
    near[f or '(no stgw frame: hyper/tokio/kernel driving I/O)'] += 1
    seen = set()
    for s, d in st:
        if 'stgw::' in s:
            k = short(s)
            if k not in seen: seen.add(k); incl[k] += 1
print("\n== time under the innermost stgw frame (self + callees outside stgw)")
for k, v in near.most_common(25): print(f"  {pct(v)}  {k}")
print("\n== inclusive time of stgw functions (anywhere on the stack)")
for k, v in incl.most_common(25): print(f"  {pct(v)}  {k}")

# 5. allocator and memcpy callers
def callers(pred, label):
    c = collections.Counter()
    for st in samples:
        if not st or 'kernel' in st[0][1] or not pred(st[0][0]): continue
        skip = ('__GI', '__libc', '__memcpy', '__memmove', 'malloc', 'free', 'realloc', '_int_', 'tcache', 'unlink', '__rust',
                'std::alloc', '<std::alloc', 'alloc::', '<alloc::', 'core::alloc', 'core::ptr::write', 'core::ptr::read',
                'core::ptr::copy', 'core::intrinsics', '<core::ptr', 'core::option::Option<T>::map', '<F as core::future::into_future')
        f = next((short(s) for s, d in st[1:] if 'libc' not in d and not s.startswith(skip)), '?')
        c[f] += 1
    tot = sum(c.values())
    print(f"\n== {label}: {pct(tot)} of samples; nearest callers")
    for k, v in c.most_common(15): print(f"  {pct(v)}  {k}")
callers(lambda s: 'memmove' in s or 'memcpy' in s, 'memcpy/memmove')
callers(lambda s: any(x in s for x in ('malloc', '_int_free', 'free', 'unlink_chunk', 'cfree', 'realloc', 'consolidate', 'tcache')), 'malloc/free')

# 6. user-space only: innermost stgw frame, and components
user = [st for st in samples if st and 'kernel' not in st[0][1]]
U = len(user)
print(f"\n== user-space samples: {U} ({100.0*U/N:.1f}% of all)")
near = collections.Counter()
for st in user:
    f = next((short(s) for s, d in st if 'stgw::' in s), None)
    near[f or '(no stgw frame)'] += 1
print("== user-space time under the innermost stgw frame (share of user time | of all)")
for k, v in near.most_common(22): print(f"  {100.0*v/U:5.1f}% | {pct(v)}  {k}")
def comp(st):
    leaf = st[0][0]
    d = st[0][1]
    if 'libc' in d or leaf.startswith(('__GI', '__libc', '_int_', 'malloc', 'unlink_chunk', '__memcpy', '__memmove')):
        if 'mem' in leaf and ('cpy' in leaf or 'move' in leaf): return 'memcpy/memmove'
        if 'recv' in leaf or 'writev' in leaf or 'epoll' in leaf: return 'libc syscall stubs'
        return 'malloc/free'
    if 'vdso' in d: return 'clock_gettime (vdso)'
    for s, _ in st:
        if s.startswith(('alloc::alloc', '<std::alloc', 'std::alloc', '__rust_alloc', '__rust_dealloc')): return 'malloc/free'
    if leaf.startswith(('httparse', '<hyper::proto::h1::role::Server', 'hyper::proto::h1::role::Server')): return 'hyper h1 server parse/encode'
    if leaf.startswith(('<hyper::proto::h1::role::Client', 'hyper::proto::h1::role::Client')): return 'hyper h1 client parse/encode'
    for s, _ in st[:6]:
        if 'stgw::' in s: return 'stgw code (self, incl. inlined std/http)'
    if leaf.startswith(('http::', '<http::')): return 'http (HeaderMap, Uri, ...)'
    if leaf.startswith(('bytes::', '<bytes::')): return 'bytes (refcounts, BytesMut)'
    if 'parking_lot' in leaf or 'Mutex' in leaf: return 'locks (parking_lot, Mutex)'
    if leaf.startswith(('tokio::sync', '<tokio::sync', 'hyper::client::dispatch', '<hyper::client::dispatch', 'want::', '<want::')): return 'channels (tokio mpsc/oneshot, want)'
    if leaf.startswith(('tokio::runtime::time', 'tokio::time', '<tokio::time')): return 'tokio timers'
    if leaf.startswith(('tokio::', '<tokio::', 'mio::', '<mio::')): return 'tokio runtime / io driver'
    if leaf.startswith(('hyper::', '<hyper::', 'hyper_util', '<hyper_util')): return 'hyper (dispatch, other)'
    if leaf.startswith(('core::', '<core::', 'alloc::', '<alloc::', 'std::', '<std::')):
        for s, _ in st[1:]:
            if s.startswith(('tokio', '<tokio')): return 'tokio runtime / io driver'
            if s.startswith(('hyper', '<hyper')): return 'hyper (dispatch, other)'
            if s.startswith(('http::', '<http::')): return 'http (HeaderMap, Uri, ...)'
            if 'stgw::' in s: return 'stgw code (self, incl. inlined std/http)'
        return 'std/core other'
    return 'other: ' + leaf[:60]
cc = collections.Counter(comp(st) for st in user)
print("\n== user-space time by component (share of user time | of all)")
for k, v in cc.most_common(20): print(f"  {100.0*v/U:5.1f}% | {pct(v)}  {k}")
