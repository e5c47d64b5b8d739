#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/sh/test_mount_basic.sh - mount-level test of megafs driven by shell
# tools (echo, cat, printf, dd, od) plus small python3 snippets for errno,
# poll and concurrency checks. Covers every file of the tree, every opcode
# by text and by 64-byte binary image, every error class with its errno
# and the state left unchanged, ring/raw batches, call pipelining and
# blocking, poll, shutdown/restart, 1,000 blocked call readers, 8 writer
# processes x 10k commands, unmount, background mode, mount(8) with
# -t fuse.megafs, -t fuse and an fstab line (-T), kill -9 + remount, slots
# of a closed call reused, option errors, and a backend=auto mount with the
# priority scheduler, 3 tenants (masks, fairness) and 2 debug records.
# Run: MEGAFS_BIN=build/release/megafs bash tests/sh/test_mount_basic.sh
# (scripts/run-tests.sh does this). Exit 0 pass, 1 fail, 77 skipped.
TMP_PREFIX=/tmp/megafs-test.XXXXXX
MOUNT_OPTS="backend=${MK_BACKEND:-cpu},slots=2048"
. "$(dirname "$0")/lib.sh"

# ---- python helpers: errno names, binary images, poll, concurrency -----------
cat >"$TMP/h.py" <<'EOF'
import errno, os, select, struct, sys, threading, time
def en(e): return errno.errorcode.get(e.errno, str(e.errno))
def img(st, op, *a, tenant=0, prio=2):
    w = [st, op, tenant, prio] + list(a) + [0] * (12 - len(a))
    return struct.pack('<16I', *w)
def pw(path, data, off=0, flags=os.O_WRONLY):
    try:
        fd = os.open(path, flags)
    except OSError as e:
        return en(e)
    try:
        return 'OK %d' % os.pwrite(fd, data, off)
    except OSError as e:
        return en(e)
    finally:
        os.close(fd)
def rd(p): return open(p).read()
def mask(M, v): open(M + '/control/tenants/0/mask', 'w').write(str(v))
def cmd(argv):
    c = argv[0]
    if c == 'w':       # w PATH TEXT [OFF]
        print(pw(argv[1], argv[2].encode().decode('unicode_escape').encode('latin1'),
                 int(argv[3]) if len(argv) > 3 else 0))
    elif c == 'wimg':  # wimg PATH OFF ST OP ARGS...
        print(pw(argv[1], img(*[int(x, 0) for x in argv[3:]]), int(argv[2])))
    elif c == 'img':   # img ST OP ARGS... -> stdout
        sys.stdout.buffer.write(img(*[int(x, 0) for x in argv[1:]]))
    elif c == 'wro':   # open a read-only file for writing
        print(pw(argv[1], b'1'))
    elif c == 'chmod':
        try: os.chmod(argv[1], 0o600); print('OK')
        except OSError as e: print(en(e))
    elif c == 'trunc':
        try: os.truncate(argv[1], 0); print('OK')
        except OSError as e: print(en(e))
    else:
        globals()['t_' + c](*argv[1:])

def t_hammer(p, n):  # n rejected writes, as fast as they go
    for _ in range(int(n)):
        if pw(p, b'frobnicate') != 'EINVAL':
            print('not EINVAL'); return

def t_raw(M):      # batched publish, all-or-nothing
    p = M + '/ring/raw'
    ok = b''.join(img(1, 2, 1, 190) for _ in range(16))
    print(pw(p, ok, 64 * 100))
    time.sleep(0.2)
    print(rd(M + '/observables/30').strip())
    bad = b''.join(img(1, 2, 1, 190) for _ in range(15)) + img(1, 0xFFFD)
    print(pw(p, bad, 64 * 200), pw(p, ok, 64 * 100 + 1), pw(p, ok[:100], 0),
          pw(p, ok, 64 * 2040), pw(p, img(2, 0), 0), rd(M + '/ring/200').split()[0])
    fd = os.open(p, os.O_RDONLY)
    print(struct.unpack('<16I', os.pread(fd, 64, 64 * 101))[:6],
          len(os.pread(fd, 1 << 20, 0)), len(os.pread(fd, 64, 64 * 2048)))
    os.close(fd)

def t_busy_raw(M): # one busy target fails the whole batch
    mask(M, 0)
    open(M + '/ring/301', 'w').write('nop')
    b = b''.join(img(1, 0) for _ in range(4))
    print(pw(M + '/ring/raw', b, 64 * 300))
    print(*[rd(M + '/ring/%d' % s).split()[0] for s in (300, 301, 302)])
    mask(M, 1)

def line_of(fd):
    return os.read(fd, 4096).decode().split()

def t_pipeline(M):
    fd = os.open(M + '/call', os.O_RDWR)
    os.write(fd, b'store_u32 11 200\n')
    os.write(fd, img(1, 2, 4, 200))
    os.write(fd, b'load_u32 200 41')
    a, b, c = line_of(fd), line_of(fd), line_of(fd)
    print(a[:6], b[:6], c[:6], os.read(fd, 4096))
    os.write(fd, b'nop')           # short reads of one line
    s = b''
    while True:
        d = os.read(fd, 5)
        if not d: break
        s += d
    print(s.decode().split()[:2])
    os.close(fd)
    print(rd(M + '/observables/41').strip())

def reader(fd, out):
    try: out.append(os.read(fd, 4096).decode().split())
    except OSError as e: out.append(en(e))

def t_block(M):    # a blocked read does not hang the fs; it completes
    mask(M, 0)
    fd = os.open(M + '/call', os.O_RDWR)
    os.write(fd, b'atomic_add 1 202')
    out = []
    t = threading.Thread(target=reader, args=(fd, out)); t.start()
    time.sleep(0.3)
    alive = t.is_alive()
    st = rd(M + '/control/status')  # the fs still answers meanwhile
    mask(M, 1); t.join(5)
    print(alive, 'state=running' in st, out[0][:2] if out else None)
    os.close(fd)

def t_stopped(M):  # stopped kernel: error, not a hang; nothing lost
    mask(M, 0)
    fd = os.open(M + '/call', os.O_RDWR)
    os.write(fd, b'atomic_add 1 203')
    out = []
    t = threading.Thread(target=reader, args=(fd, out)); t.start()
    time.sleep(0.2)
    open(M + '/control/shutdown', 'w').write('1')
    t.join(5)
    r2 = []; reader(fd, r2)
    nb = os.open(M + '/call', os.O_RDWR | os.O_NONBLOCK)
    os.write(nb, b'nop')
    r3 = []; reader(nb, r3)
    open(M + '/control/shutdown', 'w').write('0'); mask(M, 1)
    r4 = []; reader(fd, r4)
    time.sleep(0.1)
    r5 = []; reader(nb, r5)
    print(out, r2, r3, r4[0][:2], r5[0][:2], rd(M + '/observables/43').strip())
    os.close(fd); os.close(nb)

def t_orphans(M):  # close with commands in flight: they still run
    mask(M, 0)
    fd = os.open(M + '/call', os.O_RDWR)
    for _ in range(5): os.write(fd, b'atomic_add 1 204')
    os.close(fd)
    time.sleep(0.1)
    before = rd(M + '/observables/44').strip()
    mask(M, 1); time.sleep(0.3)
    print(before, rd(M + '/observables/44').strip())

def t_reuse(M, n):  # close a call holding every slot: once DONE they serve again
    n = int(n); mask(M, 0)
    fd = os.open(M + '/call', os.O_RDWR)
    for _ in range(n): os.write(fd, b'atomic_add 1 190')
    os.close(fd)
    full = pw(M + '/call', b'nop')  # the orphans still hold every slot
    mask(M, 1)
    fd = os.open(M + '/call', os.O_RDWR)
    sent, end = 0, time.time() + 5  # bounded: the reaper frees them when DONE
    while sent < n:
        try:
            os.write(fd, b'atomic_add 1 190'); sent += 1
        except OSError as e:
            if e.errno != errno.EAGAIN or time.time() > end:
                print(en(e)); break
            time.sleep(0.02)
    res = [line_of(fd)[:2] for _ in range(sent)]
    os.close(fd)
    print(full, sent, res.count(['3', '2']), rd(M + '/observables/30').strip())

def t_kill(M, sig):  # a killed blocked reader exits; its command still runs
    import signal, subprocess
    mask(M, 0)
    code = ("import os; fd = os.open(%r, os.O_RDWR); os.write(fd, b'atomic_add 1 207');"
            "print('ready', flush=True); os.read(fd, 100)" % (M + '/call'))
    p = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE)
    p.stdout.readline(); time.sleep(0.2)
    p.send_signal(getattr(signal, sig))
    try: rc = p.wait(5)
    except subprocess.TimeoutExpired: rc = 'hang'; p.kill(); p.wait()
    before = rd(M + '/observables/47').strip()
    mask(M, 1); time.sleep(0.3)
    print(rc, before, rd(M + '/observables/47').strip())

def t_full(M, n):   # every slot reserved: a call write gets EAGAIN
    mask(M, 0)
    fd = os.open(M + '/call', os.O_RDWR)
    r = [pw(M + '/call', b'nop') for _ in range(int(n))]
    try: os.write(fd, b'nop'); r.append('OK')
    except OSError as e: r.append(en(e))
    mask(M, 1); time.sleep(0.2)
    print(r[-1], pw(M + '/call', b'nop'))
    os.close(fd)

def t_poll(M):
    mask(M, 0)
    open(M + '/ring/50', 'w').write('nop')
    fd = os.open(M + '/ring/50', os.O_RDONLY)
    p = select.poll(); p.register(fd, select.POLLIN)
    first = p.poll(200)
    threading.Timer(0.3, mask, (M, 1)).start()
    t0 = time.time(); second = p.poll(5000); dt = time.time() - t0
    print(first, [(e & select.POLLIN) != 0 for _, e in second], 0.2 < dt < 4)
    os.close(fd)

def t_readers(M, n):  # n concurrent blocked call readers
    import resource
    n = int(n); mask(M, 0)
    resource.setrlimit(resource.RLIMIT_NOFILE, (n + 256, n + 256))
    fds = [os.open(M + '/call', os.O_RDWR) for _ in range(n)]
    for fd in fds: os.write(fd, b'atomic_add 1 205')
    out = []
    ts = [threading.Thread(target=reader, args=(fd, out)) for fd in fds]
    for t in ts: t.start()
    time.sleep(1.0)
    blocked = sum(t.is_alive() for t in ts)
    mask(M, 1)
    for t in ts: t.join(20)
    print(blocked, len(out), sum(1 for o in out if isinstance(o, list) and o[0] == '3'),
          rd(M + '/observables/45').strip())
    for fd in fds: os.close(fd)

def writer(M, k, n):
    fd = os.open(M + '/call', os.O_RDWR)
    for i in range(n):
        os.write(fd, b'atomic_add 1 %d' % (210 + k))
        if i % 16 == 15:
            for _ in range(16): os.read(fd, 4096)
    while os.read(fd, 4096): pass
    os.close(fd)

def t_writers(M, procs, n):
    procs, n = int(procs), int(n)
    pids = []
    for k in range(procs):
        pid = os.fork()
        if pid == 0:
            try: writer(M, k, n); os._exit(0)
            except Exception as e: print(e); os._exit(1)
        pids.append(pid)
    rcs = [os.waitpid(p, 0)[1] for p in pids]
    print(rcs == [0] * procs, [int(rd(M + '/observables/%d' % (50 + k))) for k in range(procs)])

def t_prom(path):  # Prometheus text exposition: HELP/TYPE, samples, final \n
    import re
    s = open(path).read()
    ok = s.endswith('\n')
    typed = set()
    for l in s.splitlines():
        if l.startswith('# TYPE '):
            typed.add(l.split()[2])
        elif l.startswith('# HELP '):
            pass
        elif not re.match(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-z_]+="[^"]*"\})? [0-9]+$', l):
            ok = False; print('bad line', l)
        elif l.split('{')[0].split()[0] not in typed:
            ok = False; print('untyped', l)
    print(ok)

if __name__ == '__main__':
    cmd(sys.argv[1:])
EOF
py() { timeout -k 5 120 python3 "$TMP/h.py" "$@"; }

# ---- option errors: fail before mounting, with Fix: ---------------------------
bad_opt() { # name args...
	local name=$1 out rc
	shift
	out=$("$BIN" -f "$@" "$MNT" 2>&1)
	rc=$?
	eq "option error $name: exit" "$rc" 2
	has "option error $name: Fix" "$out" "Fix:"
	mounted "$MNT" && { fail "option error $name mounted"; umount_quiet "$MNT"; }
}
bad_opt backend -o backend=tpu
bad_opt slots0 -o slots=0
bad_opt slotsbig -o slots=1048577
bad_opt slotsword -o slots=many
bad_opt observables -o observables=-1
bad_opt tenants -o tenants=30
bad_opt debug_records -o debug_records=x
bad_opt scheduler -o scheduler=fifo
bad_opt unknown -o backend=cpu,frobnicate
out=$("$BIN" 2>&1); eq "no mountpoint exit" "$?" 2; has "no mountpoint" "$out" "Fix:"
out=$("$BIN" a b c 2>&1); eq "three args exit" "$?" 2
out=$("$BIN" --help 2>&1); eq "--help exit" "$?" 0; has "--help" "$out" "backend=auto|cpu|cuda"
out=$("$BIN" -h 2>&1); eq "-h exit" "$?" 0
out=$("$BIN" --version 2>&1); eq "--version exit" "$?" 0; has "--version" "$out" "megafs"
out=$("$BIN" -V 2>&1); eq "-V exit" "$?" 0

# ---- mount, tree, modes ------------------------------------------------------
do_mount ""
has "backend printed" "$(cat "$TMP/log")" "backend ${MK_BACKEND:-cpu}"
has "mount type" "$(grep " $MNT " /proc/mounts)" "fuse.megafs"
has "private mount" "$(grep " $MNT " /proc/mounts)" "default_permissions"
eq "root listing" "$(LC_ALL=C ls "$MNT" | tr '\n' ' ')" "README call control debug errors observables patterns ring streams "
eq "control listing" "$(ls "$MNT/control" | tr '\n' ' ')" \
	"done_count epoch metrics metrics.prom priority raw shutdown status tenants words "
eq "ring entries" "$(ls "$MNT/ring" | wc -l)" 2049
eq "observable entries" "$(ls "$MNT/observables" | wc -l)" 256
eq "tenant dirs" "$(ls "$MNT/control/tenants" | wc -l)" 29
eq "tenant files" "$(ls "$MNT/control/tenants/28" | tr '\n' ' ')" "fairness mask quota "
eq "priority files" "$(ls "$MNT/control/priority" | tr '\n' ' ')" "fairness offsets starvation "
for f in README control/metrics control/metrics.prom control/done_count \
	control/epoch control/status control/words control/tenants/0/fairness \
	control/priority/starvation control/priority/fairness debug/log errors; do
	eq "mode $f" "$(stat -c %a "$MNT/$f")" 444
done
for f in ring/0 ring/2047 ring/raw call control/shutdown control/raw \
	control/tenants/0/mask control/tenants/0/quota \
	control/priority/offsets observables/0 observables/255; do
	eq "mode $f" "$(stat -c %a "$MNT/$f")" 644
done
eq "dir mode" "$(stat -c %a "$MNT/ring")" 555
eq "ring/raw size" "$(stat -c %s "$MNT/ring/raw")" $((2048 * 64))
eq "control/raw size" "$(stat -c %s "$MNT/control/raw")" $(((160 + 256) * 4))
[ -e "$MNT/ring/2048" ] && fail "ring/2048 exists"
[ -e "$MNT/ring/01" ] && fail "ring/01 exists"
[ -e "$MNT/observables/256" ] && fail "observables/256 exists"
[ -e "$MNT/control/tenants/29" ] && fail "tenants/29 exists"
has "README tree" "$(cat "$MNT/README")" "ring/raw"
has "README grammar" "$(cat "$MNT/README")" "OPCODE [ARG ...] [tenant=T] [priority=P]"
eq "fresh slot" "$(cat "$MNT/ring/0")" "0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0"
eq "fresh errors" "$(cat "$MNT/errors")" ""
eq "shutdown reads 0" "$(cat "$MNT/control/shutdown")" 0
eq "mask default" "$(cat "$MNT/control/tenants/0/mask")" 4294967295
eq "mask tenant 1" "$(cat "$MNT/control/tenants/1/mask")" 0
eq "quota default" "$(cat "$MNT/control/tenants/0/quota")" 1000000
eq "offsets default" "$(cat "$MNT/control/priority/offsets")" "0 409 818 1230 1639 2048"
eq "priority fairness" "$(cat "$MNT/control/priority/fairness")" "0 0 0 0 0"
eq "starvation" "$(cat "$MNT/control/priority/starvation")" 0
eq "words lines" "$(wc -l <"$MNT/control/words")" 416
eq "word 2" "$(sed -n 3p "$MNT/control/words")" "2 3"

# ---- every opcode as text -----------------------------------------------------
# Each write waits for DONE: poll the slot's status word (bounded).
wait_done() { # slot
	local i
	for i in $(seq 200); do
		[ "$(cut -d' ' -f1 <"$MNT/ring/$1")" = 3 ] && return 0
		sleep 0.01
	done
	fail "slot $1 never DONE: $(cat "$MNT/ring/$1")"
}
t() { # slot command...
	local s=$1
	shift
	echo "$*" >"$MNT/ring/$s" || fail "write '$*' to ring/$s"
	wait_done "$s"
}
obs() { cat "$MNT/observables/$1"; }

t 1 nop
t 2 store_u32 7 160
t 3 ATOMIC_ADD 5 161
t 3 atomic_add 0x5 161
t 4 load_u32 160 2
t 5 compare_swap 165 0 9
t 6 compare_swap 165 9 11
t 7 memcpy 160 170 3
t 8 dfa_step 1 2
t 9 batch_fence 0 99
t 10 printf 5 6 7
t 11 20 1 2 tenant=0 priority=1
t 12 200 1 2
t 13 packed store_u32 8 180 ";" atomic_add 2 181 ";" nop
eq "store_u32 obs0 (then batch_fence)" "$(obs 0)" 99
eq "atomic_add x2" "$(obs 1)" 10
eq "load_u32" "$(obs 2)" 7
eq "compare_swap target" "$(obs 5)" 11
eq "compare_swap old" "$(obs 165)" 9
eq "memcpy" "$(obs 10) $(obs 11) $(obs 12)" "7 10 7"
eq "epoch" "$(cat "$MNT/control/epoch")" 1
eq "packed store" "$(obs 20)" 8
eq "packed add" "$(obs 21)" 2
eq "slot line" "$(cat "$MNT/ring/2")" "3 1 0 2 7 160 0 0 0 0 0 0 0 0 0 0"
eq "priority word" "$(cut -d' ' -f4 <"$MNT/ring/11")" 1
eq "debug/log" "$(cat "$MNT/debug/log")" "$(printf '5 6 7 160\ndropped 0')"
# control/metrics, whole lines in the documented order: opcodes 0..7
# always, op<N> for user opcodes only when non-zero, then the four totals.
has_line() { # name text line
	checks=$((checks + 1))
	printf '%s\n' "$2" | grep -qxF -- "$3" || fail "$1: no line '$3' in: $2"
}
metrics_is() { # name line...
	local name=$1 m l
	shift
	m=$(cat "$MNT/control/metrics")
	for l in "$@"; do has_line "$name '$l'" "$m" "$l"; done
	eq "$name: lines and order" "$m" "$(printf '%s\n' "$@")"
}
metrics_is "metrics" "nop 2" "store_u32 2" "atomic_add 3" "load_u32 1" \
	"compare_swap 2" "memcpy 1" "dfa_step 1" "batch_fence 1" "op20 1" \
	"done_count 14" "epoch 1" "published 14" "pending 0"
eq "metrics user op hidden when 0" "$(grep -c '^op21 ' "$MNT/control/metrics")" 0
eq "done_count" "$(cat "$MNT/control/done_count")" 14
eq "control/raw word 1" "$(od -An -tu4 -j4 -N4 "$MNT/control/raw" | tr -d ' ')" 14
eq "control/raw word 160" "$(od -An -tu4 -j640 -N4 "$MNT/control/raw" | tr -d ' ')" 99
eq "words 128" "$(grep '^128 ' "$MNT/control/words")" "128 1"
eq "prom valid" "$(py prom "$MNT/control/metrics.prom")" True
has "prom sample" "$(cat "$MNT/control/metrics.prom")" 'megafs_opcode_executions_total{opcode="atomic_add"} 3'
st=$(cat "$MNT/control/status")
for k in backend=${MK_BACKEND:-cpu} "device=" state=running slots=2048 observables=256 \
	tenants=1 scheduler=sharded published=14 done=14 pending=0 uptime_s=; do
	has "status $k" "$st" "$k"
done

# ---- every opcode as a 64-byte binary image (printf | dd) -----------------------
bimg() { # slot st op args...
	local s=$1
	shift
	py img "$@" | dd of="$MNT/ring/$s" bs=64 count=1 iflag=fullblock 2>/dev/null ||
		fail "binary write to ring/$s"
	wait_done "$s"
}
bimg 20 1 0
bimg 21 1 1 31 220
bimg 22 0 2 4 221
bimg 23 1 3 220 62
bimg 24 1 4 223 0 5
bimg 25 1 5 220 224 2
bimg 26 1 6
bimg 27 1 7 0 77
bimg 28 1 0xFFFE 8 9 10
bimg 29 1 0x80000001 0x00010201 31 226 # packed: n=1, 2 args; STORE_U32
bimg 30 1 25
bimg 31 1 0xF102 1
eq "bin store" "$(obs 60)" 31
eq "bin add (status 0 image)" "$(obs 61)" 4
eq "bin load" "$(obs 62)" 31
eq "bin cas" "$(obs 63)" 5
eq "bin memcpy" "$(obs 64) $(obs 65)" "31 4"
eq "bin fence" "$(obs 0) $(cat "$MNT/control/epoch")" "77 2"
eq "bin packed" "$(obs 66)" 31
has "bin printf" "$(cat "$MNT/debug/log")" "8 9 10 448"
metrics_is "bin metrics" "nop 3" "store_u32 4" "atomic_add 4" "load_u32 2" \
	"compare_swap 3" "memcpy 2" "dfa_step 2" "batch_fence 2" "op20 1" "op25 1" \
	"done_count 26" "epoch 2" "published 26" "pending 0"
eq "bin slot line" "$(cat "$MNT/ring/21")" "3 1 0 2 31 220 0 0 0 0 0 0 0 0 0 0"

# ---- errors: errno, Fix: in errors, nothing changed ------------------------------
snap() { { md5sum <"$MNT/ring/raw"; cat "$MNT/control/words"; grep published "$MNT/control/status"; } | md5sum; }
nerr() { wc -l <"$MNT/errors"; }
bad() { # name want-errno py-args...
	local name=$1 want=$2 before after n0
	shift 2
	before=$(snap)
	n0=$(nerr)
	eq "$name errno" "$(py "$@")" "$want"
	after=$(snap)
	eq "$name state unchanged" "$after" "$before"
	[ "$want" = EACCES ] || eq "$name logged" "$(nerr)" $(((n0 + 1) > 64 ? 64 : n0 + 1))
}
R=$MNT/ring/40
bad "unknown mnemonic" EINVAL w "$R" "frobnicate 1 2"
bad "bad number" EINVAL w "$R" "store_u32 12x 160"
bad "out of u32 range" EINVAL w "$R" "store_u32 4294967296 160"
bad "reserved load_miss" EINVAL w "$R" "load_miss 1 0"
bad "reserved 0xFFF0" EINVAL w "$R" "0xFFF0"
bad "reserved 0x80000000" EINVAL w "$R" "0x80000000"
bad "malformed packed" EINVAL w "$R" "packed nop ; ; nop"
bad "packed 5 ops" EINVAL w "$R" "packed nop;nop;nop;nop;nop"
bad "bad option" EINVAL w "$R" "nop priority=9"
bad "two lines" EINVAL w "$R" "nop\nnop\n"
bad "empty" EINVAL w "$R" "\n"
bad "13 args" E2BIG w "$R" "nop 1 2 3 4 5 6 7 8 9 10 11 12 13"
bad "binary 63 bytes" EINVAL w "$R" "\x01\x00\x00\x00$(printf '%059d' 0)"
bad "binary 65 bytes" EINVAL w "$R" "\x01\x00\x00\x00$(printf '%061d' 0)"
bad "status word 2" EINVAL wimg "$R" 0 2 0
bad "status word 3" EINVAL wimg "$R" 0 3 1 1 160
bad "binary reserved op" EINVAL wimg "$R" 0 1 0xFFFD
bad "offset 1" EINVAL w "$R" "nop" 1
bad "offset 64 binary" EINVAL wimg "$R" 64 1 0
bad "observable garbage" EINVAL w "$MNT/observables/3" "abc"
bad "observable two" EINVAL w "$MNT/observables/3" "1 2"
bad "observable offset" EINVAL w "$MNT/observables/3" "1" 2
bad "shutdown 2" EINVAL w "$MNT/control/shutdown" "2"
bad "offsets count" EINVAL w "$MNT/control/priority/offsets" "0 1 2"
bad "offsets order" EINVAL w "$MNT/control/priority/offsets" "0 5 4 6 7 2048"
bad "offsets past end" EINVAL w "$MNT/control/priority/offsets" "0 1 2 3 4 4096"
bad "ctl raw kernel word" EPERM w "$MNT/control/raw" "\x05\x00\x00\x00" 4
bad "ctl raw word 0" EPERM w "$MNT/control/raw" "\x01\x00\x00\x00" 0
bad "ctl raw mixed" EPERM w "$MNT/control/raw" "\x05\x00\x00\x00\x05\x00\x00\x00" $((4 * 135))
bad "ctl raw misaligned" EINVAL w "$MNT/control/raw" "\x05\x00\x00\x00" 2
bad "ctl raw short" EINVAL w "$MNT/control/raw" "\x05\x00" 640
bad "ctl raw past end" EINVAL w "$MNT/control/raw" "\x05\x00\x00\x00" $((416 * 4))
bad "read-only metrics" EACCES wro "$MNT/control/metrics"
bad "read-only epoch" EACCES wro "$MNT/control/epoch"
bad "chmod" EPERM chmod "$MNT/ring/0"
if [ "$(id -u)" -eq 0 ]; then # root passes the kernel's mode check
	bad "truncate read-only" EACCES trunc "$MNT/control/metrics"
fi
eq "truncate slot file" "$(py trunc "$MNT/ring/0")" OK
echo 0 >"$MNT/control/tenants/0/mask"
echo nop >"$MNT/ring/41"
eq "disabled tenant stays published" "$(cut -d' ' -f1 <"$MNT/ring/41")" 1
bad "busy slot text" EBUSY w "$MNT/ring/41" "store_u32 1 160"
bad "busy slot binary" EBUSY wimg "$MNT/ring/41" 0 1 1 1 160
echo 1 >"$MNT/control/tenants/0/mask"
wait_done 41
has "errors line" "$(cat "$MNT/errors")" "ring/41 EBUSY"
has "errors Fix" "$(grep 'ring/40 E2BIG' "$MNT/errors")" "Fix:"
eq "errors all have Fix" "$(grep -vc 'Fix:' "$MNT/errors")" 0
has "errors time" "$(head -n1 "$MNT/errors")" "Z ring/40 EINVAL"
has "errors to log" "$(cat "$TMP/log")" "ring/40: EINVAL: unknown mnemonic 'frobnicate'"
# A script hammering a bad write: the errors file keeps the last 64, the log
# gets at most 10 lines a second (then one "not logged" count line).
t0=$(date +%s)
eq "hammer" "$(py hammer "$MNT/ring/42" 300)" ""
t1=$(date +%s)
eq "errors keeps 64" "$(grep -c 'ring/42 EINVAL' "$MNT/errors")" 64
nlog=$(grep -c 'ring/42: EINVAL' "$TMP/log")
[ "$nlog" -ge 1 ] && [ "$nlog" -le $((10 * (t1 - t0 + 1))) ] ||
	fail "log rate limit: $nlog lines in $((t1 - t0 + 1)) s"
sleep 1.1 # the next rejection falls in a new second: logged, with the count
echo frobnicate >"$MNT/ring/43" 2>/dev/null
has "log held-back count" "$(cat "$TMP/log")" "more rejections not logged"

# ---- host writes -------------------------------------------------------------
echo 1234 >"$MNT/observables/7"; eq "observable write" "$(obs 7)" 1234
echo 0x10 >"$MNT/observables/7"; eq "observable hex" "$(obs 7)" 16
printf '\x2a\x00\x00\x00' | dd of="$MNT/control/raw" bs=4 seek=$((160 + 8)) conv=notrunc 2>/dev/null
eq "control/raw write" "$(obs 8)" 42
echo 77 >"$MNT/control/tenants/3/quota"; eq "quota write" "$(cat "$MNT/control/tenants/3/quota")" 77
echo 5 >"$MNT/control/tenants/2/mask"; eq "mask write" "$(cat "$MNT/control/tenants/2/mask")" 5
echo 0 1 2 3 4 2048 >"$MNT/control/priority/offsets"
eq "offsets write" "$(cat "$MNT/control/priority/offsets")" "0 1 2 3 4 2048"
echo 0 409 818 1230 1639 2048 >"$MNT/control/priority/offsets"
eq "tenant fairness" "$(cat "$MNT/control/tenants/0/fairness")" 0

# ---- ring/raw batches, call, poll, concurrency -----------------------------------
eq "ring/raw batch" "$(py raw "$MNT")" "$(printf 'OK 1024\n16\nEINVAL EINVAL EINVAL EINVAL EINVAL 0\n(3, 2, 0, 2, 1, 190) 131072 0')"
eq "ring/raw busy batch" "$(py busy_raw "$MNT")" "$(printf 'EBUSY\n0 1 0')"
eq "raw od" "$(od -An -tu4 -j$((64 * 2)) -N8 "$MNT/ring/raw" | tr -s ' ')" " 3 1"
eq "call pipeline" "$(py pipeline "$MNT")" \
	"$(printf "%s\n%s\n%s" "['3', '1', '0', '2', '11', '200'] ['3', '2', '0', '2', '4', '200'] ['3', '3', '0', '2', '200', '41'] b''" "['3', '0']" 15)"
eq "call blocked read" "$(py block "$MNT")" "True True ['3', '2']"
eq "call stopped kernel" "$(py stopped "$MNT")" "['ESHUTDOWN'] ['ESHUTDOWN'] ['EAGAIN'] ['3', '2'] ['3', '0'] 1"
eq "call orphans" "$(py orphans "$MNT")" "0 5"
exec 3<>"$MNT/call"
echo "atomic_add 3 206" >&3
eq "call from bash" "$(head -n1 <&3 | cut -d' ' -f1-6)" "3 2 0 2 3 206"
exec 3>&-
eq "SIGKILL of a blocked reader" "$(py kill "$MNT" SIGKILL)" "-9 0 1"
eq "SIGTERM of a blocked reader" "$(py kill "$MNT" SIGTERM)" "-15 1 2"
eq "poll ring slot" "$(py poll "$MNT")" "[] [True] True"
eq "1000 blocked call readers" "$(py readers "$MNT" 1000)" "1000 1000 1000 1000"
eq "8 writers x 10k" "$(py writers "$MNT" 8 10000)" \
	"True [10000, 10000, 10000, 10000, 10000, 10000, 10000, 10000]"

# ---- shutdown / restart -----------------------------------------------------------
echo 1 >"$MNT/control/shutdown"
eq "stopped" "$(cat "$MNT/control/shutdown")" 1
has "status stopped" "$(cat "$MNT/control/status")" "state=stopped"
echo nop >"$MNT/ring/60"
sleep 0.2
eq "published while stopped" "$(cut -d' ' -f1 <"$MNT/ring/60")" 1
echo 0 >"$MNT/control/shutdown"
wait_done 60
eq "restarted" "$(cat "$MNT/control/shutdown")" 0
t 61 shutdown
for i in $(seq 100); do [ "$(cat "$MNT/control/shutdown")" = 1 ] && break; sleep 0.02; done
eq "SHUTDOWN opcode stops" "$(cat "$MNT/control/shutdown")" 1
echo 0 >"$MNT/control/shutdown"
t 62 nop
eq "running again" "$(cat "$MNT/control/shutdown")" 0
bimg 63 1 0xFFFFFFFF
for i in $(seq 100); do [ "$(cat "$MNT/control/shutdown")" = 1 ] && break; sleep 0.02; done
eq "binary SHUTDOWN stops" "$(cat "$MNT/control/shutdown")" 1
echo 0 >"$MNT/control/shutdown"
t 64 nop

# ---- unmount, background mode, mount(8), kill -9 ----------------------------------
do_umount
"$BIN" -o backend=cpu "$MNT" 2>"$TMP/bg.log"
eq "background mount exit" "$?" 0
[ -f "$MNT/README" ] || fail "background mount not ready on return"
echo "store_u32 5 160" >"$MNT/ring/0"
sleep 0.1
eq "background works" "$(obs 0)" 5
bgpid=$(pgrep -x -f "$BIN -o backend=cpu $MNT")
[ -n "$bgpid" ] || fail "background daemon not found by pgrep"
fusermount3 -u "$MNT"
for i in $(seq 200); do # bounded: 10 s
	[ -n "$bgpid" ] && kill -0 $bgpid 2>/dev/null || break
	sleep 0.05
done
mounted "$MNT" && fail "background unmount"
if [ -n "$bgpid" ] && kill -0 $bgpid 2>/dev/null; then
	fail "background daemon $bgpid still alive 10 s after unmount"
	kill $bgpid
fi

# mount(8) runs helpers with the standard PATH, so fuse.megafs needs
# "megafs" there: link it for the test when it is not installed.
LINKED=
if ! PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin command -v megafs >/dev/null &&
	[ "$(id -u)" -eq 0 ] && [ -w /usr/local/sbin ]; then
	ln -s "$BIN" /usr/local/sbin/megafs && LINKED=/usr/local/sbin/megafs
fi
mount_helper() { # name slots mount-args...
	local name=$1 slots=$2
	shift 2
	if mount "$@" 2>"$TMP/mount.log"; then
		eq "$name slots" "$(ls "$MNT/ring" | wc -l)" $((slots + 1))
		umount "$MNT" || fusermount3 -u "$MNT"
		for i in $(seq 100); do mounted "$MNT" || break; sleep 0.05; done
		mounted "$MNT" && fail "$name unmount"
	else
		fail "$name: $(cat "$TMP/mount.log")"
	fi
}
SYSPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
if [ "$(id -u)" -ne 0 ]; then
	not_run "not root, mount(8) checks skipped"
elif ! PATH=$PATH:$SYSPATH command -v mount.fuse3 >/dev/null &&
	! PATH=$PATH:$SYSPATH command -v mount.fuse >/dev/null; then
	not_run "no mount.fuse3 helper for mount(8) (Fix: install fuse3, scripts/deps.sh), mount(8) checks skipped"
else
	m=$(PATH=$SYSPATH command -v megafs)
	[ -z "$m" ] || [ "$(realpath "$m")" = "$BIN" ] ||
		echo "info: mount(8) runs the installed $m, not $BIN"
	mount_helper "mount -t fuse.megafs none" 16 \
		-t fuse.megafs none "$MNT" -o backend=cpu,slots=16
	mount_helper "mount -t fuse prog#none" 16 \
		-t fuse "$BIN#none" "$MNT" -o backend=cpu,slots=16
	echo "megafs $MNT fuse.megafs backend=cpu,slots=64 0 0" >"$TMP/fstab"
	mount_helper "mount -T fstab" 64 -T "$TMP/fstab" "$MNT"
fi
[ -n "$LINKED" ] && rm -f "$LINKED"
LINKED=

"$BIN" -f -o backend=cpu,auto_unmount "$MNT" >"$TMP/log" 2>&1 &
PID=$!
wait_ready
{ kill -9 "$PID" && wait "$PID"; } 2>/dev/null
PID=
for i in $(seq 100); do mounted "$MNT" || break; sleep 0.05; done
mounted "$MNT" && { fail "auto_unmount after kill -9"; umount -l "$MNT"; }
do_mount ",slots=4"
eq "remount after kill -9" "$(cat "$MNT/ring/0")" "0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0"
eq "call closed with every slot in flight, then reused" "$(py reuse "$MNT" 4)" "EAGAIN 4 4 8"
eq "call with every slot reserved" "$(py full "$MNT" 4)" "EAGAIN OK 3"
do_umount

# ---- SIGTERM with files held open ---------------------------------------------------
# Their RELEASE never comes: the daemon frees those handles itself (a call
# channel with a command in flight, an object file among them) and exits 0;
# under check-asan a leaked handle is a LeakSanitizer report, a failure.
do_mount ",slots=4"
mkdir "$MNT/patterns/held"
exec 7<"$MNT/control/status" 8<>"$MNT/call" 9<"$MNT/patterns/held/info"
echo "store_u32 9 160" >&8
kill -TERM "$PID"
wait "$PID"
eq "SIGTERM with files open: exit status" "$?" 0
PID=
exec 7<&- 8<&- 9<&-
for i in $(seq 100); do mounted "$MNT" || break; sleep 0.05; done
mounted "$MNT" && { fail "SIGTERM with files open: mount left"; umount -l "$MNT"; }

# ---- backend=auto, priority scheduler, 3 tenants, 2 debug records ------------------
# Commands run one at a time (each waits for DONE), so the priority counters
# are exact: slot S runs from the partition that the offsets put it in.
MOUNT_OPTS="backend=auto,scheduler=priority,tenants=3,debug_records=2,slots=64"
do_mount ""
st=$(cat "$MNT/control/status")
if printf '%s\n' "$st" | grep -qx backend=cuda; then # a GPU machine: auto took it
	eq "auto chose cuda: no note" "$(grep -c '^note=' <<<"$st")" 0
else
	has_line "auto status backend" "$st" backend=cpu
	has "auto status note" "$st" "note=backend=auto chose cpu: "
	has "auto choice logged" "$(cat "$TMP/log")" "backend=auto chose cpu: "
fi
for l in slots=64 tenants=3 debug_records=2 scheduler=priority; do
	has_line "auto status $l" "$st" "$l"
done
for t in 0 1 2; do
	[ -d "$MNT/control/tenants/$t" ] || fail "control/tenants/$t missing"
	eq "tenant $t mask default" "$(cat "$MNT/control/tenants/$t/mask")" 4294967295
done
eq "prio offsets default" "$(cat "$MNT/control/priority/offsets")" "0 12 24 40 52 64"
echo 0 4 8 16 32 64 >"$MNT/control/priority/offsets"
eq "prio offsets set" "$(cat "$MNT/control/priority/offsets")" "0 4 8 16 32 64"
t 0 nop
t 1 nop tenant=1
t 2 nop tenant=2
eq "prio starvation: 3 CRITICAL in a row" "$(cat "$MNT/control/priority/starvation")" 3
eq "prio fairness" "$(cat "$MNT/control/priority/fairness")" "3 0 0 0 0"
t 20 nop # partition 3 (16..31): a lower level resets starvation
eq "prio starvation reset" "$(cat "$MNT/control/priority/starvation")" 0
t 5 nop # partition 1, HIGH
eq "prio starvation HIGH" "$(cat "$MNT/control/priority/starvation")" 1
eq "prio fairness by partition" "$(cat "$MNT/control/priority/fairness")" "3 1 0 1 0"
# Tenant masks: 0 parks tenant 1's slot (tenant 2 still runs), non-zero runs it.
echo 0 >"$MNT/control/tenants/1/mask"
echo "atomic_add 1 161 tenant=1" >"$MNT/ring/40"
echo "atomic_add 1 162 tenant=2" >"$MNT/ring/41"
wait_done 41
sleep 0.2
eq "mask 0 parks tenant 1" "$(cut -d' ' -f1 <"$MNT/ring/40") $(obs 1) $(obs 2)" "1 0 1"
echo 2 >"$MNT/control/tenants/1/mask"
wait_done 40
eq "mask 2 runs tenant 1" "$(obs 1)" 1
eq "prio fairness after masks" "$(cat "$MNT/control/priority/fairness")" "3 1 0 1 2"
eq "tenant fairness 0..2" "$(cat "$MNT/control/tenants/"{0,1,2}"/fairness" | tr '\n' ' ')" "3 2 2 "
# The last tenant of the table (28, disabled at tenants=3) waits for its mask.
echo "atomic_add 1 163 tenant=28" >"$MNT/ring/45"
sleep 0.2
eq "tenant 28 parked" "$(cut -d' ' -f1 <"$MNT/ring/45") $(obs 3)" "1 0"
echo 1 >"$MNT/control/tenants/28/mask"
wait_done 45
eq "tenant 28 runs once enabled" "$(obs 3)" 1
# Offsets are read at claim time: outside every partition a slot waits.
echo 0 4 8 16 32 40 >"$MNT/control/priority/offsets"
echo "atomic_add 1 164" >"$MNT/ring/46"
sleep 0.2
eq "slot outside every partition waits" "$(cut -d' ' -f1 <"$MNT/ring/46") $(obs 4)" "1 0"
echo 0 4 8 16 32 64 >"$MNT/control/priority/offsets"
wait_done 46
eq "it runs once a partition covers it" "$(obs 4)" 1
eq "prio fairness after offsets" "$(cat "$MNT/control/priority/fairness")" "3 1 0 1 4"
t 42 printf 1 2
t 43 printf 3 4
t 44 printf 5 6
eq "debug/log keeps 2 records, counts the rest" "$(cat "$MNT/debug/log")" \
	"$(printf '1 2 0 672\n3 4 0 688\ndropped 1')"
# ---- ">>" (O_APPEND) is a write like ">" -----------------------------------------
# The kernel's offset for an append is the size it cached after the last
# write; megafs counts the handle's own bytes instead, every time.
ok=0
for i in 1 2 3 4; do
	echo "atomic_add 1 200" >>"$MNT/ring/30" && ok=$((ok + 1))
	wait_done 30
done
eq ">> ring/N four times: each taken" "$ok" 4
eq ">> ring/N four times: each ran" "$(obs 40)" 4
echo 7 >>"$MNT/observables/41" && echo 8 >>"$MNT/observables/41"
eq ">> observables/K twice: the last" "$(obs 41)" 8
printf 'atomic_add 1 200\n\n' >>"$MNT/ring/30" || fail "printf with a blank line >> ring/30"
wait_done 30
eq ">> with a trailing blank line: taken once" "$(obs 40)" 5
do_umount

if [ "$fails" -gt 0 ]; then
	echo "--- last daemon log ($TMP/log)"
	tail -n 40 "$TMP/log"
fi
echo "test_mount_basic: $checks checks, $fails failed"
[ "$fails" -eq 0 ]
