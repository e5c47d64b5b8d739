#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/sh/test_mount_stream.sh - mount-level test of megafs's streaming
# files (patterns/P, streams/S), driven the way a user would: mkdir, echo,
# cat, and `while ! grep -q state=done progress; do sleep 0.1; done`
# (bounded). Every count is compared with an oracle computed here by
# python3 (every overlapping occurrence of every pattern; hits sorted by
# end offset, then pattern index; end offset = one past the last byte):
# bytes 0x00/0xFF via \xHH escapes, patterns that are prefixes/suffixes of
# others, a file of more than 4 chunks with chunk_bytes=4096, empty and
# 1-byte files, 1,000 patterns written by cat in several writes, max_hits
# and the dropped line, a binary dfa exported from one set and written into
# another. Errors (errno + Fix: in `errors`, nothing changed), cancel,
# rmdir of a running stream, two streams beside ring commands, a stream
# started while the kernel is stopped (done only after a restart), poll(2),
# 16 streams at once, unmount with a scan in flight, and (as root) a user
# who may not read a root-only file cannot scan it through an allow_other
# mount.
# Run: MEGAFS_BIN=build/release/megafs bash tests/sh/test_mount_stream.sh
# (MK_BACKEND=cuda: the same on the GPU backend.)
# Exit 0 pass, 1 fail, 77 skipped (no /dev/fuse).
TMP_PREFIX=/tmp/megafs-stream.XXXXXX
MOUNT_OPTS=backend=${MK_BACKEND:-cpu}
. "$(dirname "$0")/lib.sh"

# ---- python helpers: oracle, data, errno of write+close, poll ---------------------
cat >"$TMP/h.py" <<'EOF'
import errno, os, random, select, sys, threading, time
def en(e): return errno.errorcode.get(e.errno, str(e.errno))
ESC = {ord('n'): 10, ord('t'): 9, ord('r'): 13, ord('0'): 0, 0x5c: 0x5c}
def unescape(l):
    out, i = bytearray(), 0
    while i < len(l):
        if l[i] == 0x5c:
            if l[i + 1] == ord('x'):
                out.append(int(l[i + 2:i + 4], 16)); i += 4
            else:
                out.append(ESC[l[i + 1]]); i += 2
        else:
            out.append(l[i]); i += 1
    return bytes(out)
def patterns(path):
    res = []
    for l in open(path, 'rb').read().split(b'\n'):
        if l.endswith(b'\r'): l = l[:-1]
        if l: res.append(unescape(l))
    return res
def t_oracle(data, pats, max_hits, zero=''):
    # matches, then the first max_hits "pattern end" lines, then dropped
    d = open(data, 'rb').read()
    hits = []
    for k, p in enumerate(patterns(pats)):
        i = d.find(p)
        while i >= 0:
            hits.append((i + len(p), 0 if zero else k))
            i = d.find(p, i + 1)
    hits.sort()
    keep = hits[:int(max_hits)]
    print(len(hits))
    for end, k in keep: print(k, end)
    if len(hits) > len(keep): print('dropped', len(hits) - len(keep))
def t_gen(path, size, seed, *alphabet):
    r = random.Random(int(seed))
    a = bytes.fromhex(''.join(alphabet))
    open(path, 'wb').write(bytes(r.choice(a) for _ in range(int(size))))
def t_pats1000(data, out):
    # 200 short patterns from a small alphabet, 800 substrings of @data
    # (40..60 bytes, so the list is > 128 KiB and cat writes it in parts)
    r = random.Random(7)
    d = open(data, 'rb').read()
    ps = [bytes(r.choice(b'ab\x00\xff') for _ in range(r.randint(2, 4))) for _ in range(200)]
    for _ in range(800):
        n = r.randint(40, 60); i = r.randrange(len(d) - n)
        ps.append(d[i:i + n])
    with open(out, 'w') as f:
        for p in ps: f.write(''.join('\\x%02x' % b for b in p) + '\n')
def t_w(path, *parts):
    # write each part (escapes as in Python) through one open, then close;
    # prints OK or the errno of the first failing write or of the close
    try: fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    except OSError as e: print(en(e)); return
    res = 'OK'
    try:
        for p in parts:
            os.write(fd, p.encode().decode('unicode_escape').encode('latin1'))
    except OSError as e: res = en(e)
    try: os.close(fd)
    except OSError as e: res = en(e) if res == 'OK' else res
    print(res)
def mask(M, v): open(M + '/control/tenants/0/mask', 'w').write(str(v))
def t_poll(M, S):
    # parked scan: progress is not readable; unparked: POLLIN, state=done
    mask(M, 0)
    open(S + '/ctl', 'w').write('start')
    fd = os.open(S + '/progress', os.O_RDONLY)
    p = select.poll(); p.register(fd, select.POLLIN)
    first = p.poll(300)
    threading.Timer(0.3, mask, (M, 1)).start()
    t0 = time.time(); second = p.poll(5000); dt = time.time() - t0
    st = os.pread(fd, 4096, 0).decode().split()[0]
    print(first, [(e & select.POLLIN) != 0 for _, e in second], 0.2 < dt < 4, st)
    os.close(fd)
def t_calls(M, n):
    # n synchronous calls through `call` while scans run
    fd = os.open(M + '/call', os.O_RDWR)
    for i in range(int(n)):
        os.write(fd, b'atomic_add 1 170')
        os.read(fd, 4096)
    os.close(fd)
    print(open(M + '/observables/10').read().strip())
if __name__ == '__main__':
    globals()['t_' + sys.argv[1]](*sys.argv[2:])
EOF
py() { timeout -k 5 120 python3 "$TMP/h.py" "$@"; }

P=$MNT/patterns
S=$MNT/streams
wait_state() { # stream state: wait while running (bounded, 30 s)
	local i p
	for i in $(seq 300); do
		p=$(cat "$S/$1/progress")
		case $p in
		*"state=$2 "*) return 0 ;;
		*state=running*) sleep 0.1 ;;
		*) break ;;
		esac
	done
	fail "streams/$1 not $2: $p $(cat "$S/$1/error")"
	return 1
}
setup_stream() { # name source set chunk_bytes max_hits
	[ -d "$S/$1" ] || mkdir "$S/$1" || fail "mkdir streams/$1"
	echo "$2" >"$S/$1/source"
	echo "$3" >"$S/$1/patterns"
	echo "$4" >"$S/$1/chunk_bytes"
	echo "$5" >"$S/$1/max_hits"
}
run_stream() { # name source set chunk_bytes max_hits
	setup_stream "$@"
	echo start >"$S/$1/ctl" || fail "start streams/$1"
	wait_state "$1" done
}
results() { cat "$S/$1/matches" "$S/$1/hits"; }
check_scan() { # label name source set chunk max_hits patterns-file
	run_stream "$2" "$3" "$4" "$5" "$6"
	eq "$1" "$(results "$2")" "$(py oracle "$3" "$7" "$6")"
}
nerr() { wc -l <"$MNT/errors"; }
last_err() { tail -n1 "$MNT/errors"; }
bad() { # label want-errno errors-path py-w-args...: errno, Fix: logged
	local label=$1 want=$2 path=$3 n0
	shift 3
	n0=$(nerr)
	eq "$label errno" "$(py w "$@")" "$want"
	eq "$label logged" "$(nerr)" $(((n0 + 1) > 64 ? 64 : n0 + 1))
	has "$label errors line" "$(last_err)" "$path $want "
	has "$label Fix" "$(last_err)" "Fix:"
}
mask() { echo "$1" >"$MNT/control/tenants/0/mask"; }

# ---- data: > 4 chunks of 4096 over a, b, 0x00, 0xFF; empty; 1 byte; 3 MiB ----
D=$TMP/data
mkdir -p "$D"
py gen "$D/main" $((5 * 4096 + 123)) 1 6162 00ff
: >"$D/empty"
printf 'b' >"$D/one"
py gen "$D/mid" $((3 << 20)) 2 61626364656667 00ff
truncate -s 64M "$D/zeros"
# Set A: prefixes/suffixes of each other, 0x00/0xFF, a backslash escape.
printf '%s\n' 'ab' 'abab' 'b' '\x00\xff' '\xff\xff\x00' 'ba' 'bab' '\\' >"$D/a.txt"
printf '%s\n' '\x00\x00' >"$D/z.txt"
printf '%s\n' 'bag' 'ga' '\xff' >"$D/b.txt"
py pats1000 "$D/main" "$D/k.txt"

# ---- mount, tree ---------------------------------------------------------------
do_mount ""
eq "root listing" "$(ls "$MNT" | tr '\n' ' ')" \
	"README call control debug errors observables patterns ring streams "
eq "patterns mode" "$(stat -c %a "$P")" 1777
eq "streams mode" "$(stat -c %a "$S")" 1777
eq "empty patterns" "$(ls "$P" | wc -l)" 0
mkdir "$P/A" || fail "mkdir patterns/A"
eq "set files" "$(ls "$P/A" | tr '\n' ' ')" "dfa info literals "
eq "set dir mode" "$(stat -c %a "$P/A")" 555
eq "literals mode" "$(stat -c %a "$P/A/literals") $(stat -c %a "$P/A/dfa") $(stat -c %a "$P/A/info")" \
	"644 644 444"
eq "empty set info" "$(cat "$P/A/info")" "states=1 patterns=0 table_bytes=1028 max_len=0 set=0"
mkdir "$S/s1" || fail "mkdir streams/s1"
eq "stream files" "$(ls "$S/s1" | tr '\n' ' ')" \
	"chunk_bytes ctl error hits matches max_hits patterns progress source "
eq "stream modes (owner only)" "$(stat -c %a "$S/s1" "$S/s1/source" "$S/s1/ctl" "$S/s1/hits" | tr '\n' ' ')" \
	"500 600 200 400 "
eq "stream defaults" "$(cat "$S/s1/chunk_bytes") $(cat "$S/s1/max_hits")" "4194304 1000"
eq "idle progress" "$(cat "$S/s1/progress")" \
	"state=idle bytes=0 total=0 percent=0.0 gbps=0.000 elapsed_s=0.000"
eq "idle matches" "$(cat "$S/s1/matches")" 0
eq "idle hits/error/source" "$(cat "$S/s1/hits" "$S/s1/error" "$S/s1/source")" ""
has "README mentions streams" "$(cat "$MNT/README")" "streams/S/"

# ---- patterns: literals like a user writes them -------------------------------
printf '%s\n' 'ab' 'abab' 'b' '\x00\xff' '\xff\xff\x00' 'ba' 'bab' '\\' >"$P/A/literals"
eq "A info" "$(cat "$P/A/info")" "$(printf 'states=14 patterns=8 table_bytes=14392 max_len=4 set=0')"
eq "A literals read back" "$(cat "$P/A/literals")" "$(cat "$D/a.txt")"
mkdir "$P/K" "$P/Z" "$P/B" "$P/D" || fail "mkdir sets"
cat "$D/k.txt" >"$P/K/literals" || fail "cat 1000 patterns > literals"
has "K info" "$(cat "$P/K/info")" "patterns=1000 "
[ "$(stat -c %s "$D/k.txt")" -gt 131072 ] || fail "k.txt is not larger than one write"
cat "$D/z.txt" >"$P/Z/literals"
cat "$D/b.txt" >"$P/B/literals"
# ">>" adds patterns to a set; a dfa table cannot be appended to.
mkdir "$P/app"
echo ab >"$P/app/literals"
printf 'cd' >>"$P/app/literals" || fail "printf >> literals"
echo ef >>"$P/app/literals" || fail "echo >> literals"
eq ">> literals: the set grew" "$(cat "$P/app/literals" | tr '\n' ' ')" "ab cdef "
has ">> literals: compiled" "$(cat "$P/app/info")" "patterns=2 "
out=$( (echo 'x\q' >>"$P/app/literals") 2>&1)
has ">> literals, a bad escape: echo sees the error" "$out" "Invalid argument"
eq ">> literals, a bad escape: the set unchanged" "$(cat "$P/app/literals" | tr '\n' ' ')" "ab cdef "
out=$( (echo x >>"$P/app/dfa") 2>&1)
has ">> dfa refused" "$out" "Invalid argument"
has ">> dfa: errors says why" "$(tail -n1 "$MNT/errors")" "cannot be appended to. Fix:"
rmdir "$P/app"

# ---- scans compared with the oracle --------------------------------------------
# Exactly as a user would.
mkdir "$S/user"
cd "$S/user" || fail "cd streams/user"
echo "$D/main" >source
echo A >patterns
echo 4096 >chunk_bytes
echo start >ctl
i=0
while ! grep -q state=done progress; do
	i=$((i + 1)); [ $i -lt 300 ] || break
	sleep 0.1
done
eq "user loop" "$(cat matches hits)" "$(py oracle "$D/main" "$D/a.txt" 1000)"
cd "$TMP" || exit 1
rmdir "$S/user" || fail "rmdir streams/user"
check_scan "main, 4096-byte chunks, 50 hits" s1 "$D/main" A 4096 50 "$D/a.txt"
has "dropped line" "$(tail -n1 "$S/s1/hits")" "dropped "
eq "progress done" "$(cut -d' ' -f1-4 <"$S/s1/progress")" \
	"state=done bytes=$((5 * 4096 + 123)) total=$((5 * 4096 + 123)) percent=100.0"
has "progress gbps" "$(cat "$S/s1/progress")" " gbps="
check_scan "main, default chunk, all hits" s1 "$D/main" A 4194304 65536 "$D/a.txt"
[ "$(grep -c dropped "$S/s1/hits")" = 0 ] || fail "dropped line with every hit kept"
check_scan "main, max_hits 0" s1 "$D/main" A 4096 0 "$D/a.txt"
# Regression: matches ending at one offset arrive longest pattern first;
# when max_hits cuts inside such a group the kept hits must still be the
# lowest pattern indices (runtime/stream.c replace_in_tie).
run_stream s1 "$D/main" A 4096 28
eq "max_hits cut inside a same-end group" "$(results s1)" \
	"$(py oracle "$D/main" "$D/a.txt" 28)"
check_scan "empty file" s1 "$D/empty" A 4096 10 "$D/a.txt"
eq "empty file progress" "$(cut -d' ' -f1-4 <"$S/s1/progress")" \
	"state=done bytes=0 total=0 percent=100.0"
check_scan "1-byte file" s1 "$D/one" A 4096 10 "$D/a.txt"
check_scan "1000 patterns" s1 "$D/main" K 4096 300 "$D/k.txt"
check_scan "3 MiB file" s1 "$D/mid" B 65536 100 "$D/b.txt"

# A binary DFA: export A's table, write it into D, same counts (index 0).
cat "$P/A/dfa" >"$P/D/dfa" || fail "cat dfa > dfa"
eq "dfa size" "$(wc -c <"$P/D/dfa")" 14392
eq "dfa round trip" "$(cmp "$P/A/dfa" "$P/D/dfa" && echo same)" same
has "D info" "$(cat "$P/D/info")" "states=14 patterns=1 table_bytes=14392 max_len=unknown"
run_stream s1 "$D/main" D 4096 50
eq "binary dfa counts" "$(results s1)" "$(py oracle "$D/main" "$D/a.txt" 50 zero)"

# ---- errors: errno + Fix: in errors, nothing changed ------------------------------
E=$S/e
mkdir "$E"
echo "$D/main" >"$E/source"; echo A >"$E/patterns"
bad "relative source" EINVAL streams/e/source "$E/source" "rel/file\n"
eq "source unchanged" "$(cat "$E/source")" "$D/main"
bad "chunk_bytes 4095" EINVAL streams/e/chunk_bytes "$E/chunk_bytes" "4095\n"
bad "chunk_bytes 16 MiB + 1" EINVAL streams/e/chunk_bytes "$E/chunk_bytes" "16777217\n"
bad "chunk_bytes word" EINVAL streams/e/chunk_bytes "$E/chunk_bytes" "big\n"
bad "max_hits 65537" EINVAL streams/e/max_hits "$E/max_hits" "65537\n"
eq "chunk/max unchanged" "$(cat "$E/chunk_bytes") $(cat "$E/max_hits")" "4194304 1000"
bad "unknown pattern set" ENOENT streams/e/patterns "$E/patterns" "nope\n"
eq "patterns unchanged" "$(cat "$E/patterns")" A
bad "bad ctl" EINVAL streams/e/ctl "$E/ctl" "go\n"
eq "still idle" "$(cut -d' ' -f1 <"$E/progress")" state=idle
bad "bad escape" EINVAL patterns/B/literals "$P/B/literals" 'ok\n\\q\n'
bad "bad escape after a write" EINVAL patterns/B/literals "$P/B/literals" 'ok\n' '\\q\n'
bad "bad hex escape" EINVAL patterns/B/literals "$P/B/literals" '\\x4g\n'
bad "dfa of 5 bytes" EINVAL patterns/B/dfa "$P/B/dfa" 'abcde'
eq "B unchanged" "$(cat "$P/B/literals")" "$(cat "$D/b.txt")"
has "B info unchanged" "$(cat "$P/B/info")" "patterns=3 "
mkfifo "$TMP/fifo"
for c in "directory:$TMP:EISDIR" "missing file:$TMP/nope:ENOENT" "FIFO:$TMP/fifo:EINVAL"; do
	IFS=: read -r label src want <<<"$c"
	echo "$src" >"$E/source"
	bad "$label" "$want" streams/e/ctl "$E/ctl" "start\n"
	eq "$label state" "$(cut -d' ' -f1 <"$E/progress")" state=failed
	has "$label error" "$(cat "$E/error")" "Fix:"
done
rmdir "$P/Z2" 2>/dev/null && fail "rmdir of a missing set"
out=$(mkdir "$S/.hidden" 2>&1) && fail "mkdir .hidden"
has "bad name logged" "$(last_err)" "streams EINVAL invalid object name '.hidden'"
out=$(mkdir "$MNT/ring/x" 2>&1) && fail "mkdir in ring/"
has "mkdir elsewhere logged" "$(last_err)" "ring EPERM"
out=$(rm -f "$S/e/source" 2>&1) && fail "rm of a stream file"
has "unlink logged" "$(last_err)" "streams/e EPERM"
out=$(touch "$S/newfile" 2>&1) && fail "touch creates a file"
eq "errors all have Fix" "$(grep -vc 'Fix:' "$MNT/errors")" 0

# A parked scan (tenant 0 masked) runs until unmasked: busy errors.
mask 0
echo "$D/main" >"$E/source"
echo start >"$E/ctl" || fail "start parked"
eq "parked running" "$(cut -d' ' -f1 <"$E/progress")" state=running
bad "start twice" EBUSY streams/e/ctl "$E/ctl" "start\n"
bad "replace a set in use" EBUSY patterns/A/literals "$P/A/literals" "x\n"
bad "replace a set in use (dfa)" EBUSY patterns/A/dfa "$P/A/dfa" "$(printf '\\x00%.0s' $(seq 1028))"
out=$(rmdir "$P/A" 2>&1) && fail "rmdir of a set in use"
has "rmdir set in use logged" "$(last_err)" "patterns EBUSY"
has "A unchanged" "$(cat "$P/A/info")" "patterns=8 "
echo cancel >"$E/ctl" || fail "cancel"
mask 1
wait_state e cancelled
echo cancel >"$E/ctl" || fail "cancel when not running"
eq "cancelled stays" "$(cut -d' ' -f1 <"$E/progress")" state=cancelled

# ---- cancel mid-stream (64 MiB, 4096-byte chunks) -----------------------------------
setup_stream c "$D/zeros" Z 4096 10
echo start >"$S/c/ctl"
sleep 0.05
echo cancel >"$S/c/ctl"
wait_state c cancelled
b=$(sed 's/.* bytes=\([0-9]*\) .*/\1/' "$S/c/progress")
[ "$b" -lt $((64 << 20)) ] || fail "cancel mid-stream scanned everything ($b)"
eq "cancelled: error empty" "$(cat "$S/c/error")" ""
run_stream c "$D/zeros" Z 4194304 3
eq "zeros counted" "$(head -n1 "$S/c/matches")" $(((64 << 20) - 1))
eq "zeros hits" "$(cat "$S/c/hits" | tr '\n' ' ')" "0 2 0 3 0 4 dropped $(((64 << 20) - 4)) "

# ---- rmdir of a running stream; then 8 streams at once (buffers came back) --------
mask 0
setup_stream r "$D/main" A 4096 10
echo start >"$S/r/ctl"
eq "r running" "$(cut -d' ' -f1 <"$S/r/progress")" state=running
rmdir "$S/r" || fail "rmdir running stream"
[ -e "$S/r" ] && fail "streams/r still there"
mask 1
# Its chunks finish in the kernel, then the reaper frees its buffers.
for i in $(seq 100); do grep -q '^pending=0$' "$MNT/control/status" && break; sleep 0.05; done
sleep 0.2
want=$(py oracle "$D/main" "$D/a.txt" 0)
# 8 streams of 8 staging buffers hold the pool's 64; a 9th start is EBUSY
# with a Fix: line, and starts once the others are gone.
for i in $(seq 9); do setup_stream "m$i" "$D/main" A 4096 0; done
mask 0
for i in $(seq 8); do echo start >"$S/m$i/ctl" || fail "start m$i of 8"; done
py w "$S/m9/ctl" "start\n" >"$TMP/m9.out"
eq "9th stream: every buffer in use" "$(cat "$TMP/m9.out")" EBUSY
has "9th stream: error has the Fix:" "$(cat "$S/m9/error")" "every staging buffer is in use. Fix: wait for running streams to finish"
mask 1
for i in $(seq 8); do
	wait_state "m$i" done && eq "8 streams: m$i" "$(results "m$i")" "$want"
	rmdir "$S/m$i"
done
for i in $(seq 100); do grep -q '^pending=0$' "$MNT/control/status" && break; sleep 0.05; done
sleep 0.2
echo start >"$S/m9/ctl" || fail "start m9 after the others"
wait_state m9 done && eq "m9 after the others" "$(results m9)" "$want"
rmdir "$S/m9"
eq "streams listing" "$(ls "$S" | tr '\n' ' ')" "c e s1 "

# ---- two streams at once while ring commands flow -------------------------------------
setup_stream t1 "$D/mid" B 4096 100
setup_stream t2 "$D/main" A 4096 100
echo start >"$S/t1/ctl"; echo start >"$S/t2/ctl"
eq "ring commands beside scans" "$(py calls "$MNT" 2000)" 2000
wait_state t1 done && eq "concurrent t1" "$(results t1)" "$(py oracle "$D/mid" "$D/b.txt" 100)"
wait_state t2 done && eq "concurrent t2" "$(results t2)" "$(py oracle "$D/main" "$D/a.txt" 100)"

# ---- started while the kernel is stopped: runs, and is done only after a restart -------
# (one 4 MiB chunk: the whole file is read, and in the kernel, at once)
setup_stream t3 "$D/mid" B 4194304 100
echo 1 >"$MNT/control/shutdown"
echo start >"$S/t3/ctl" || fail "start with the kernel stopped"
sleep 0.5
has "kernel stopped: still running" "$(cat "$S/t3/progress")" "state=running "
echo 0 >"$MNT/control/shutdown"
wait_state t3 done && eq "kernel stopped, then started: all of it" "$(results t3)" \
	"$(py oracle "$D/mid" "$D/b.txt" 100)"
rmdir "$S/t3"

# ---- poll(2) on progress ---------------------------------------------------------------
eq "poll progress" "$(py poll "$MNT" "$S/t1")" "[] [True] True state=done"

# ---- unmount with a scan parked in the kernel: clean exit ------------------------------
mask 0
echo start >"$S/t2/ctl"
do_umount

# ---- permission: a user cannot scan what the user cannot read -----------------------
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	chmod 711 "$TMP"
	chmod 755 "$D"
	printf 'secret ab ab\n' >"$TMP/secret"; chmod 600 "$TMP/secret"
	printf 'public ab\n' >"$TMP/public"; chmod 644 "$TMP/public"
	do_mount ",allow_other"
	mkdir "$P/A" "$S/root"
	echo ab >"$P/A/literals"
	asu() { setpriv --reuid=65534 --regid=65534 --clear-groups sh -c "$1" 2>&1; }
	out=$(asu "mkdir $S/u && echo $TMP/secret > $S/u/source && echo A > $S/u/patterns && env echo start > $S/u/ctl")
	has "user start of a root-only file fails" "$out" "Permission denied"
	eq "user stream owner" "$(stat -c %u:%g "$S/u")" 65534:65534
	eq "user stream failed" "$(cut -d' ' -f1 <"$S/u/progress")" state=failed
	has "user stream error" "$(cat "$S/u/error")" EACCES
	has "user stream Fix" "$(cat "$S/u/error")" "Fix:"
	has "errors line" "$(last_err)" "streams/u/ctl EACCES"
	eq "nothing scanned" "$(cat "$S/u/matches")" 0
	asu "echo $TMP/public > $S/u/source && echo start > $S/u/ctl" >/dev/null
	wait_state u done && eq "user scans a public file" "$(cat "$S/u/matches")" 1
	# root names the secret, the user starts: still opened as the writer
	echo "$TMP/secret" >"$S/root/source"; echo A >"$S/root/patterns"
	run_stream root "$TMP/secret" A 4096 10
	eq "root scans the secret" "$(cat "$S/root/matches")" 2
	out=$(asu "echo $TMP/public > $S/root/source")
	has "user cannot write root's stream" "$out" "Permission denied"
	out=$(asu "cat $S/root/hits")
	has "user cannot read root's results" "$out" "Permission denied"
	eq "user reads own results" "$(asu "cat $S/u/matches")" 1
	out=$(asu "rmdir $S/root")
	has "user cannot rmdir root's stream" "$out" "not permitted"
	asu "rmdir $S/u" >/dev/null
	[ -e "$S/u" ] && fail "user cannot rmdir own stream"
	do_umount
else
	not_run "not root or no setpriv: permission checks skipped"
fi

if [ "$fails" -gt 0 ]; then
	echo "--- last daemon log ($TMP/log)"
	tail -n 40 "$TMP/log"
fi
echo "test_mount_stream: $checks checks, $fails failed"
[ "$fails" -eq 0 ]
