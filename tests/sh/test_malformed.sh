#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The malformed-input catalogue: 108 classes of bad writes, paths, pattern
# sets and streams, and 9 bad mount options, against a mounted megafs. For
# each class the test asserts the exact errno of docs/errors-fs.md, that
# the newest line of the errors file names the file, that errno and a
# "Fix:" (rows marked "not recorded" there: that errors is unchanged), and
# that the state it could have touched is unchanged. The classes record
# more than the 64 lines errors keeps, so the check survives the cap.
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
import errno, os, shutil, struct, sys, time
M = sys.argv[1]
bad = 0
classes = 0

def read(rel):
    with open(f"{M}/{rel}", "rb") as f:
        return f.read()

def errors_text():
    return read("errors").decode(errors="replace")

def snap(w):
    """State a class must leave alone: "dir/" lists a directory, "stat:F"
    is F's mode and owner, anything else is the file's contents."""
    if w.endswith("/"):
        return sorted(os.listdir(f"{M}/{w}"))
    if w.startswith("stat:"):
        st = os.stat(f"{M}/{w[5:]}")
        return (st.st_mode, st.st_uid, st.st_gid)
    return read(w)

def attempt(rel, data, off=0, flags=os.O_WRONLY):
    """errno of open + pwrite + close (literals/dfa fail at close), 0 if none."""
    try:
        fd = os.open(f"{M}/{rel}", flags)
    except OSError as e:
        return e.errno
    got = 0
    try:
        os.pwrite(fd, data, off)
    except OSError as e:
        got = e.errno
    try:
        os.close(fd)
    except OSError as e:
        got = got or e.errno
    return got

def call(fn):
    try:
        fn()
        return 0
    except OSError as e:
        return e.errno

def check(name, fn, want, watch, logged):
    """One class: fn() fails with errno want; the errors file gains a newest
    line "TIME logged ERRNO ... Fix: ..." (or, with logged=None, a row the
    catalogue marks "not recorded", stays as it was); every watch is
    unchanged. The newest line is compared, not the line count: the file
    keeps only the last 64 rejections."""
    global bad, classes
    classes += 1
    before = [snap(w) for w in watch]
    e0 = errors_text()
    got = fn()
    after = [snap(w) for w in watch]
    e1 = errors_text()
    last = (e1.splitlines() or [""])[-1].split(" ", 3)
    why = []
    if got != want:
        why.append(f"errno {errno.errorcode.get(got, got)}")
    if before != after:
        why.append("STATE CHANGED")
    if logged is None and e1 != e0:
        why.append(f"recorded: {last}")
    if logged is not None and (e1 == e0 or len(last) < 4 or last[1] != logged or
                               last[2] != errno.errorcode[want] or "Fix:" not in last[3]):
        why.append(f"newest errors line {last}, want '{logged} {errno.errorcode[want]} ... Fix:'")
    print(("FAIL " if why else "ok   ") + f"{name}: want {errno.errorcode[want]}"
          + ("" if logged is not None else " (not recorded)") + ("" if not why else ": " + "; ".join(why)))
    bad |= bool(why)

def case(name, rel, data, want, watch=None, off=0):
    """A rejected write, recorded under its file."""
    check(name, lambda: attempt(rel, data, off), want, watch or [rel], rel)

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
case("tenant outside the table", "ring/0", b"nop tenant=29", E.EINVAL)
case("image tenant outside the table", "ring/0", img(tenant=99), E.EINVAL)
case("raw image tenant outside the table", "ring/raw", img() + img(tenant=40) + img(), E.EINVAL,
     watch=["ring/0", "ring/1", "ring/2"])
case("call tenant outside the table", "call", b"nop tenant=5000000", E.EINVAL,
     watch=["control/words", "ring/63"])
if " slot " in errors_text().splitlines()[-1]:
    print("FAIL call tenant outside the table: the message names a slot the caller never chose")
    bad = 1
# Bad input is refused before a slot is taken: with every slot held by
# pending calls (kernel stopped), a bad image is EINVAL, not EAGAIN.
with open(f"{M}/control/shutdown", "w") as f:
    f.write("1")
held = [os.open(f"{M}/call", os.O_RDWR) for _ in range(64)]
for fd in held:
    os.write(fd, b"nop")
case("call bad image, every slot held", "call", img(status=2), E.EINVAL,
     watch=["control/words"])
for fd in held:
    os.close(fd)
with open(f"{M}/control/shutdown", "w") as f:
    f.write("0")
for _ in range(1000):  # the held commands (ring/0 among them) run: wait
    if "pending=0\n" in read("control/status").decode():
        break
    time.sleep(0.01)
else:
    print("FAIL the 64 held calls never completed")
    bad = 1
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
case("command cut in two", "ring/0", b"p\n", E.EINVAL, off=2)

# Not an error: a write of blanks after the command through the same open
# file (printf 'nop\n\n' sends its last newline alone) is taken and
# changes nothing more.
e0 = errors_text()
fd = os.open(f"{M}/ring/1", os.O_WRONLY)
try:
    os.write(fd, b"store_u32 7 160\n")
    os.write(fd, b"\n \t\r\n")
    tail = "ok"
except OSError as e:
    tail = errno.errorcode.get(e.errno, e.errno)
os.close(fd)
if tail != "ok" or errors_text() != e0:
    print(f"FAIL trailing blank write: {tail}, errors changed: {errors_text() != e0}")
    bad = 1
else:
    print("ok   trailing blank write taken, nothing recorded")
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
# Masks follow the base in control word 2: pointed at word 0, tenant 1's
# mask would be the done count (EPERM, naming the base); past the buffer,
# ERANGE. The base is put back after.
def set_base(v):
    fd = os.open(f"{M}/control/raw", os.O_WRONLY)
    os.pwrite(fd, struct.pack("<I", v), 8)
    os.close(fd)
set_base(0)
case("mask when the base makes it the done count", "control/tenants/1/mask", b"7",
     E.EPERM, watch=["control/words"])
set_base(160 + 16)
case("mask when the base points past the buffer", "control/tenants/1/mask", b"7",
     E.ERANGE, watch=["control/words"])
set_base(3)

# Busy slot: stop the kernel, publish, publish again -> EBUSY, first kept.
attempt("control/shutdown", b"1")
attempt("ring/5", b"store_u32 9 160")
case("busy slot", "ring/5", b"store_u32 8 160", E.EBUSY)
attempt("control/shutdown", b"0")

# Read-only files: root reaches megafs, which must refuse (EACCES).
for rel in ("control/metrics", "control/done_count", "control/tenants/0/fairness",
            "control/status"):
    check(f"read-only {rel}: open for writing",
          lambda: attempt(rel, b"1"), E.EACCES, [f"stat:{rel}"], rel)
check("read-only control/done_count: truncate",
      lambda: call(lambda: os.truncate(f"{M}/control/done_count", 0)), E.EACCES,
      ["control/done_count"], "control/done_count")

# Paths: missing names and namespace changes (the root's path in an errors
# line is empty: "TIME  EPERM ..."). Lookups of missing names are
# answered before megafs records anything: a "not recorded" row of
# docs/errors-fs.md. Creating one (echo nop > ring/64) is recorded.
check("slot past the ring", lambda: call(lambda: open(f"{M}/ring/64")),
      E.ENOENT, ["ring/"], None)
check("observable past the end", lambda: call(lambda: open(f"{M}/observables/16")),
      E.ENOENT, ["observables/"], None)
check("write to a slot past the ring", lambda: attempt("ring/64", b"nop",
      flags=os.O_WRONLY | os.O_CREAT), E.ERANGE, ["ring/", "ring/63"], "ring")
check("write to an observable past the end", lambda: attempt("observables/16", b"1",
      flags=os.O_WRONLY | os.O_CREAT), E.ERANGE, ["observables/"], "observables")
check("rename a slot", lambda: call(lambda: os.rename(f"{M}/ring/0", f"{M}/ring/x")),
      E.EPERM, ["ring/", "ring/0"], "ring")
check("symlink in ring", lambda: call(lambda: os.symlink("/tmp", f"{M}/ring/x")),
      E.EPERM, ["ring/"], "ring")
check("hard link to a slot", lambda: call(lambda: os.link(f"{M}/ring/0", f"{M}/ring/x")),
      E.EPERM, ["ring/", "ring/0"], "ring")
check("create a file", lambda: call(lambda: open(f"{M}/newfile", "w")),
      E.EPERM, ["./"], "")
check("unlink a slot", lambda: call(lambda: os.unlink(f"{M}/ring/0")),
      E.EPERM, ["ring/", "ring/0"], "ring")
check("mkdir in ring", lambda: call(lambda: os.mkdir(f"{M}/ring/x")),
      E.EPERM, ["ring/"], "ring")
check("rmdir a fixed directory", lambda: call(lambda: os.rmdir(f"{M}/debug")),
      E.EPERM, ["./"], "")
check("chmod a slot", lambda: call(lambda: os.chmod(f"{M}/ring/0", 0o777)),
      E.EPERM, ["stat:ring/0"], "ring/0")
check("chown a slot", lambda: call(lambda: os.chown(f"{M}/ring/0", 1, 1)),
      E.EPERM, ["stat:ring/0"], "ring/0")

# Pattern sets and streams (docs/errors-fs.md "Pattern sets and streams",
# docs/errors-stream.md). A set P with one pattern; a stream S on it.
import tempfile
D = tempfile.mkdtemp(prefix="mk-bad-src.")
try:
    with open(f"{D}/data", "wb") as f:
        f.write(b"abcab" * 1000)
    os.mkfifo(f"{D}/fifo")
    os.mkdir(f"{M}/patterns/P")
    os.mkdir(f"{M}/patterns/Q")
    with open(f"{M}/patterns/P/literals", "w") as f:
        f.write("ab\n")
    for s in ("S", "T"):
        os.mkdir(f"{M}/streams/{s}")
        with open(f"{M}/streams/{s}/source", "w") as f:
            f.write(f"{D}/data\n")
        with open(f"{M}/streams/{s}/patterns", "w") as f:
            f.write("P\n")
    os.mkdir(f"{M}/streams/nosrc")
    with open(f"{M}/streams/nosrc/patterns", "w") as f:
        f.write("P\n")
    os.mkdir(f"{M}/streams/noset")
    with open(f"{M}/streams/noset/source", "w") as f:
        f.write(f"{D}/data\n")
    with open(f"{M}/streams/T/patterns", "w") as f:
        f.write("Q\n")
    os.rmdir(f"{M}/patterns/Q")  # T names a set that is gone now

    PW = ["patterns/P/literals", "patterns/P/dfa", "patterns/P/info"]
    SW = ["streams/S/source", "streams/S/patterns", "streams/S/chunk_bytes",
          "streams/S/max_hits", "streams/S/progress", "streams/S/error",
          "streams/S/matches"]
    lit, dfa = "patterns/P/literals", "patterns/P/dfa"
    case("literals bad escape", lit, b"ok\n\\q\n", E.EINVAL, watch=PW)
    case("literals bad hex escape", lit, b"\\x4g\n", E.EINVAL, watch=PW)
    case("literals backslash at the end (at close)", lit, b"ab\\", E.EINVAL, watch=PW)
    case("literals pattern over 1024 bytes", lit, b"a" * 1025 + b"\n", E.E2BIG, watch=PW)
    case("literals write at a gap", lit, b"ab\n", E.EINVAL, watch=PW, off=7)
    case("dfa of 5 bytes (at close)", dfa, b"abcde", E.EINVAL, watch=PW)
    case("dfa not a multiple of 1028", dfa, b"\0" * 1029, E.EINVAL, watch=PW)
    case("dfa next state past the table", dfa, struct.pack("<257I", 5, *[0] * 256),
         E.EINVAL, watch=PW)
    src = "streams/S/source"
    case("source relative", src, b"rel/file\n", E.EINVAL, watch=SW)
    case("source empty", src, b"\n", E.EINVAL, watch=SW)
    case("source newline inside", src, b"/tmp/a\nb\n", E.EINVAL, watch=SW)
    case("source inside the mount", src, f"{M}/ring/0\n".encode(), E.EINVAL, watch=SW)
    case("source inside the mount, spelled /./", src, f"/{M}/./README\n".encode(),
         E.EINVAL, watch=SW)
    case("source too long", src, b"/" + b"a" * 4100, E.ENAMETOOLONG, watch=SW)
    case("source at offset 1", src, f"{D}/data\n".encode(), E.EINVAL, watch=SW, off=1)
    case("patterns unknown set", "streams/S/patterns", b"nope\n", E.ENOENT, watch=SW)
    case("patterns bad name", "streams/S/patterns", b".hidden\n", E.EINVAL, watch=SW)
    case("chunk_bytes 4095", "streams/S/chunk_bytes", b"4095\n", E.EINVAL, watch=SW)
    case("chunk_bytes 16 MiB + 1", "streams/S/chunk_bytes", b"16777217\n", E.EINVAL, watch=SW)
    case("chunk_bytes not a number", "streams/S/chunk_bytes", b"big\n", E.EINVAL, watch=SW)
    case("max_hits 65537", "streams/S/max_hits", b"65537\n", E.EINVAL, watch=SW)
    case("ctl unknown word", "streams/S/ctl", b"go\n", E.EINVAL, watch=SW)
    case("start without a source", "streams/nosrc/ctl", b"start\n", E.EINVAL,
         watch=["streams/nosrc/progress", "streams/nosrc/error", "streams/nosrc/patterns"])
    case("start without a pattern set", "streams/noset/ctl", b"start\n", E.EINVAL,
         watch=["streams/noset/progress", "streams/noset/error", "streams/noset/source"])
    case("start: the set was removed", "streams/T/ctl", b"start\n", E.ENOENT,
         watch=["streams/T/progress", "streams/T/error", "streams/T/patterns"])
    check("mkdir a bad object name", lambda: call(lambda: os.mkdir(f"{M}/streams/.x")),
          E.EINVAL, ["streams/"], "streams")
    check("mkdir a name over 48 bytes", lambda: call(lambda: os.mkdir(f"{M}/patterns/" + "n" * 49)),
          E.EINVAL, ["patterns/"], "patterns")
    check("mkdir an existing set", lambda: call(lambda: os.mkdir(f"{M}/patterns/P")),
          E.EEXIST, ["patterns/", "patterns/P/info"], None)
    check("unlink a stream file", lambda: call(lambda: os.unlink(f"{M}/{src}")),
          E.EPERM, ["streams/S/"] + SW, "streams/S")
    check("create a file in a stream", lambda: call(lambda: open(f"{M}/streams/S/new", "w")),
          E.EPERM, ["streams/S/"], "streams/S")

    # A source that is not a regular file: the documented exception, the
    # run ends as state=failed with the message in error; the settings
    # and the results stay.
    def bad_source(name, path, want):
        global bad
        with open(f"{M}/streams/S/source", "w") as f:
            f.write(path + "\n")
        case(name, "streams/S/ctl", b"start\n", want,
             watch=SW[:4] + ["streams/S/matches", "streams/S/hits"])
        prog, err = read("streams/S/progress").decode(), read("streams/S/error").decode()
        ok = prog.startswith("state=failed ") and err.startswith(errno.errorcode[want] + ": ") and "Fix:" in err
        print(("ok   " if ok else "FAIL ") + f"{name}: state=failed, error begins with "
              f"{errno.errorcode[want]} with Fix: ({prog.split()[0]}: {err.strip()})")
        bad |= not ok
    bad_source("source is a directory", D, E.EISDIR)
    bad_source("source is a FIFO", f"{D}/fifo", E.EINVAL)
    bad_source("source does not exist", f"{D}/nope", E.ENOENT)
    # Symlinks are resolved at start, as the writer, and nothing that leads
    # into the mount is opened: megafs would read through itself.
    os.symlink(M, f"{D}/tomount")
    bad_source("source through a symlink into the mount", f"{D}/tomount/README", E.EINVAL)
    bad_source("source backing out of a missing directory", f"{D}/nodir/../tomount/README",
               E.ENOENT)
    # Targets so long that the resolved path outgrows PATH_MAX on the way
    # (A -> B -> C -> the mount): refused, not taken as outside.
    os.symlink(f"{D}/B/" + "./" * 2000, f"{D}/A")
    os.symlink(f"{D}/C/" + "./" * 2000, f"{D}/B")
    os.symlink(M, f"{D}/C")
    bad_source("source whose resolution outgrows PATH_MAX", f"{D}/A/" + "./" * 1500 + "README",
               E.ENAMETOOLONG)
    for i in range(41):  # 41 links in a row: ELOOP, as the kernel says
        os.symlink(f"{D}/l{i + 1}", f"{D}/l{i}")
    os.symlink(f"{D}/data", f"{D}/l41")
    bad_source("source behind 41 symlinks", f"{D}/l0", E.ELOOP)
    with open(f"{M}/streams/S/source", "w") as f:
        f.write(f"{D}/data\n")

    # Busy: a scan parked in the kernel (tenant 0 masked) keeps S running.
    attempt("control/tenants/0/mask", b"0")
    got = attempt("streams/S/ctl", b"start\n")
    running = read("streams/S/progress").startswith(b"state=running ")
    print(("ok   " if got == 0 and running else "FAIL ") + f"parked scan running (errno {got})")
    bad |= not (got == 0 and running)
    case("start while running", "streams/S/ctl", b"start\n", E.EBUSY, watch=SW[:4] + ["streams/S/error"])
    case("replace a set in use", lit, b"x\n", E.EBUSY, watch=PW)
    check("rmdir a set in use", lambda: call(lambda: os.rmdir(f"{M}/patterns/P")),
          E.EBUSY, ["patterns/"] + PW, "patterns")
    attempt("streams/S/ctl", b"cancel\n")
    attempt("control/tenants/0/mask", b"1")
    for _ in range(300):
        if not read("streams/S/progress").startswith(b"state=running "):
            break
        time.sleep(0.05)
    for s in ("S", "T", "nosrc", "noset"):
        os.rmdir(f"{M}/streams/{s}")
    os.rmdir(f"{M}/patterns/P")
finally:
    shutil.rmtree(D, ignore_errors=True)

# The catalogue records more than the errors file keeps: the newest-line
# check above must have held across the 64-line cap.
n = errors_text().count("\n")
print(("ok   " if n == 64 else "FAIL ") + f"errors file holds the last 64 rejections ({n} lines)")
bad |= n != 64

print(f"malformed classes: {classes} (plus the option errors)")
sys.exit(1 if bad or classes < 108 else 0)
PY
[ $fail -eq 0 ] && echo "malformed: all classes rejected as documented"
exit $fail
