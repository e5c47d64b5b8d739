#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The malformed-input catalogue: 40+ classes of bad writes, paths and
# options against a mounted megafs. For each class the test asserts the
# documented errno, a new line with "Fix:" in the errors file (for rejected
# writes), and that the state it could have touched is unchanged.
set -u
[ -c /dev/fuse ] || { echo "skip: /dev/fuse is missing"; exit 77; }
B=${MK_BUILD:-$PWD/build/release}
BIN=${MEGAFS_BIN:-$B/megafs}
MNT=$(mktemp -d /tmp/mk-bad.XXXXXX)
cleanup() {
	fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
	rmdir "$MNT" 2>/dev/null || true
}
trap cleanup EXIT
fail=0

# Option errors: the mount must fail before mounting, with a Fix: line.
for opt in slots=0 slots=abc slots=2000000 backend=tpu scheduler=fifo \
	observables=-1 debug_records=9999999 tenants=abc nosuchoption=1; do
	out=$("$BIN" -f -o "$opt" "$MNT" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] || mountpoint -q "$MNT" || ! grep -q "Fix:" <<<"$out"; then
		echo "FAIL option $opt: rc=$rc out=$out"
		fail=1
		fusermount3 -u "$MNT" 2>/dev/null
	else
		echo "ok option $opt -> rc $rc"
	fi
done

"$BIN" -o backend=cpu,slots=64,observables=16 "$MNT" || exit 1
for _ in $(seq 100); do [ -e "$MNT/README" ] && break; sleep 0.05; done

python3 - "$MNT" <<'PY' || fail=1
import errno, os, struct, sys
M = sys.argv[1]
bad = 0
classes = 0

def errors_lines():
    with open(f"{M}/errors") as f:
        return f.read().count("\n")

def read(rel):
    with open(f"{M}/{rel}", "rb") as f:
        return f.read()

def attempt(rel, data, off=0, flags=os.O_WRONLY):
    fd = os.open(f"{M}/{rel}", flags)
    try:
        os.pwrite(fd, data, off)
        return 0
    except OSError as e:
        return e.errno
    finally:
        os.close(fd)

def case(name, rel, data, want, watch=None, off=0, fix=True):
    """One class: errno, an errors line with Fix:, and watch unchanged."""
    global bad, classes
    classes += 1
    before = [read(w) for w in (watch or [rel])]
    n0 = errors_lines()
    got = attempt(rel, data, off)
    after = [read(w) for w in (watch or [rel])]
    msgs = read("errors").decode(errors="replace").splitlines()
    ok = got == want and before == after
    if fix:
        ok = ok and errors_lines() > n0 and "Fix:" in msgs[-1]
    print(("ok   " if ok else "FAIL ") + f"{name}: errno {errno.errorcode.get(got, got)}"
          f" (want {errno.errorcode[want]})" + ("" if before == after else " STATE CHANGED"))
    bad |= not ok

def img(status=1, op=0, tenant=0, args=()):
    a = list(args) + [0] * (12 - len(args))
    return struct.pack("<16I", status, op, tenant, 2, *a)

E = errno
case("unknown mnemonic", "ring/0", b"bogus 1 2", E.EINVAL)
case("bad number", "ring/0", b"store_u32 12x 160", E.EINVAL)
case("u32 overflow", "ring/0", b"store_u32 4294967296 160", E.EINVAL)
case("negative number", "ring/0", b"store_u32 -1 160", E.EINVAL)
case("13 args", "ring/0", b"nop" + b" 1" * 13, E.E2BIG)
case("reserved 0xFFF0", "ring/0", b"0xFFF0", E.EINVAL)
case("reserved high bit", "ring/0", b"0x80000000", E.EINVAL)
case("reserved 0xFFFF", "ring/0", b"0xffff", E.EINVAL)
case("load_miss not publishable", "ring/0", b"load_miss 1", E.EINVAL)
case("packed 5 ops", "ring/0", b"packed nop ; nop ; nop ; nop ; nop", E.EINVAL)
case("packed empty op", "ring/0", b"packed ; nop", E.EINVAL)
case("packed trailing ;", "ring/0", b"packed nop ;", E.EINVAL)
case("packed inner printf", "ring/0", b"packed printf 1 2 3", E.EINVAL)
case("packed past payload", "ring/0", b"packed nop 1 2 3 4 5 6 7 8 9 ; nop 1", E.EINVAL)
case("bad tenant", "ring/0", b"nop tenant=abc", E.EINVAL)
case("bad priority", "ring/0", b"nop priority=9", E.EINVAL)
case("repeated option", "ring/0", b"nop tenant=1 tenant=2", E.EINVAL)
case("unknown option", "ring/0", b"nop color=red", E.EINVAL)
case("empty command", "ring/0", b"\n", E.EINVAL)
case("two lines", "ring/0", b"nop\nnop\n", E.EINVAL)
case("; outside packed", "ring/0", b"nop ; nop", E.EINVAL)
case("binary 63 bytes", "ring/0", img()[:63], E.EINVAL)
case("binary 65 bytes", "ring/0", img() + b"\0", E.EINVAL)
case("image status 2", "ring/0", img(status=2), E.EINVAL)
case("image reserved opcode", "ring/0", img(op=0xFFF3), E.EINVAL)
case("write at offset 1", "ring/0", b"nop", E.EINVAL, off=1)
case("raw misaligned offset", "ring/raw", img() * 2, E.EINVAL, off=32, watch=["ring/0", "ring/1"])
case("raw partial image", "ring/raw", img() + b"\1" * 10, E.EINVAL, watch=["ring/0"])
case("raw past the ring", "ring/raw", img() * 2, E.EINVAL, off=63 * 64, watch=["ring/63"])
case("raw one bad image", "ring/raw", img() + img(status=7) + img(), E.EINVAL,
     watch=["ring/0", "ring/1", "ring/2"])
case("observable not a number", "observables/0", b"abc", E.EINVAL)
case("observable too big", "observables/0", b"4294967296", E.EINVAL)
case("observable two numbers", "observables/0", b"1 2", E.EINVAL)
case("shutdown value 2", "control/shutdown", b"2", E.EINVAL)
case("mask not a number", "control/tenants/0/mask", b"x", E.EINVAL)
case("offsets 3 numbers", "control/priority/offsets", b"1 2 3", E.EINVAL)
case("offsets decreasing", "control/priority/offsets", b"0 5 4 10 20 64", E.EINVAL)
case("control/raw misaligned", "control/raw", b"\1\0", E.EINVAL, off=4 * 160,
     watch=["control/words"])
case("control/raw kernel word", "control/raw", struct.pack("<I", 7), E.EPERM,
     off=4, watch=["control/words"])
case("control/raw past the end", "control/raw", struct.pack("<I", 7), E.EINVAL,
     off=4 * (160 + 16), watch=["control/words"])
case("call bad command", "call", b"bogus", E.EINVAL, watch=["control/words", "ring/63"])

# Busy slot: stop the kernel, publish, publish again -> EBUSY, first kept.
attempt("control/shutdown", b"1")
attempt("ring/5", b"store_u32 9 160")
case("busy slot", "ring/5", b"store_u32 8 160", E.EBUSY)
attempt("control/shutdown", b"0")

# Read-only files: root reaches megafs, which must refuse (EACCES).
for rel in ("control/metrics", "control/done_count", "control/tenants/0/fairness"):
    classes += 1
    try:
        fd = os.open(f"{M}/{rel}", os.O_WRONLY)
        os.close(fd)
        print(f"FAIL read-only {rel}: opened for writing"); bad = 1
    except OSError as e:
        ok = e.errno == E.EACCES
        print(("ok   " if ok else "FAIL ") + f"read-only {rel}: {errno.errorcode[e.errno]}")
        bad |= not ok

# Paths: missing names and namespace changes.
for name, fn, want in (
        ("slot past the ring", lambda: open(f"{M}/ring/64"), E.ENOENT),
        ("observable past the end", lambda: open(f"{M}/observables/16"), E.ENOENT),
        ("create a file", lambda: open(f"{M}/newfile", "w"), None),
        ("unlink a slot", lambda: os.unlink(f"{M}/ring/0"), None),
        ("mkdir in ring", lambda: os.mkdir(f"{M}/ring/x"), None),
        ("rename a slot", lambda: os.rename(f"{M}/ring/0", f"{M}/ring/x"), None),
        ("chmod a slot", lambda: os.chmod(f"{M}/ring/0", 0o777), E.EPERM)):
    classes += 1
    try:
        fn()
        print(f"FAIL {name}: succeeded"); bad = 1
    except OSError as e:
        ok = want is None or e.errno == want
        print(("ok   " if ok else "FAIL ") + f"{name}: {errno.errorcode[e.errno]}")
        bad |= not ok

print(f"malformed classes: {classes} (plus the option errors)")
sys.exit(1 if bad or classes < 40 else 0)
PY
[ $fail -eq 0 ] && echo "malformed: all classes rejected as documented"
exit $fail
