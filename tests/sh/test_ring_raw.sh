#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ring/raw batches of the largest size, the way a script writes them: a
# 1 MiB pwrite from a buffer that is not page-aligned (a Python bytes
# object) reaches megafs as two FUSE writes, since the kernel cuts direct_io
# writes at 256 pages of the caller's buffer. megafs publishes the first
# piece's whole images and returns a short count; the caller writes the
# rest. Checked: the short count is a multiple of 64, exactly the slots it
# covers were published, the rest were not, the remainder write publishes
# them, and a page-aligned 1 MiB write (mmap) goes through whole; a read
# right after a write returns sees every image published, and the same
# write again while they are pending is EBUSY. Also that a length that is
# not a multiple of 64 (and is no split piece) is still EINVAL with nothing
# published, and that a write of more than 1 MiB is taken 1 MiB piece by
# piece (a bad image in the second piece: the first piece's count, then
# its error for the rest). MK_BACKEND picks the backend (gpu-check runs it on cuda).
TMP_PREFIX=/tmp/mk-raw.XXXXXX
MOUNT_OPTS=backend=${MK_BACKEND:-cpu},slots=32768
# shellcheck source=tests/sh/lib.sh
. "$(dirname "$0")/lib.sh"

do_mount ""
out=$(python3 - "$MNT" <<'EOF'
import errno, mmap, os, struct, sys, time
mnt = sys.argv[1]
N = 16384                     # 1 MiB of images
def image(i):                 # STORE_U32 value i+1 into observable word 160 + i % 64
    return struct.pack("<16I", 1, 1, 0, 2, i + 1, 160 + i % 64, *([0] * 10))
data = b"".join(image(i) for i in range(N))
fd = os.open(mnt + "/ring/raw", os.O_RDWR)

def status(slot):
    return struct.unpack("<I", os.pread(fd, 4, slot * 64))[0]

def wait_done(first, count):
    for _ in range(2000):
        if all(status(s) == 3 for s in range(first, first + count, 97)) and \
           status(first + count - 1) == 3:
            return True
        time.sleep(0.005)
    return False

# 1. Unaligned 1 MiB buffer (bytes object): a short count, then the rest.
n = os.pwrite(fd, data, 0)
print("short", n, n % 64, n < len(data))
wait_done(0, n // 64)
print("published_first", sum(status(s) == 3 for s in range(N)))
rest = os.pwrite(fd, data[n:], n)
print("rest", rest, n + rest == len(data))
print("all_done", wait_done(0, N))
# 2. A page-aligned 1 MiB buffer goes through whole.
m = mmap.mmap(-1, len(data))
m.write(data)
print("aligned", os.pwrite(fd, m, N * 64) == len(data))
print("aligned_done", wait_done(N, N))
# 3. A read after the write returns sees every slot published: megafs
#    answers before it writes the lines, and reads wait for them (the
#    race itself is pinned down in check_runtime, publish_two_phases).
def ctl(name, text):
    with open(mnt + "/control/" + name, "w") as f:
        f.write(text)
ctl("shutdown", "1")
ok = os.pwrite(fd, m, 0) == len(data)
back = os.pread(fd, N * 64, 0)
words = struct.unpack("<%dI" % (N * 16), back)
seen = all(words[16 * i] == 1 and words[16 * i + 4] == i + 1 for i in range(N))
pending = [l.split("=")[1] for l in open(mnt + "/control/status") if l.startswith("pending=")]
# 3b. The same write again, all of it still pending: EBUSY, nothing lost.
try:
    os.pwrite(fd, m, 0)
    again = "accepted"
except OSError as e:
    again = errno.errorcode[e.errno]
ctl("shutdown", "0")
print("readback", ok and seen, pending[0].strip(), wait_done(0, N))
print("again", again)
# 4. 100 bytes: EINVAL, nothing published.
try:
    os.pwrite(fd, data[:100], 0)
    print("odd", "accepted")
except OSError as e:
    print("odd", errno.errorcode[e.errno])
# 5. 2 MiB (page-aligned) with a bad last image: the kernel sends 1 MiB
#    pieces; the first publishes whole, the count returned says so, and
#    writing the rest returns the second piece's error.
big = mmap.mmap(-1, 2 * N * 64)
big.write(data + data[:-64] + struct.pack("<16I", 7, *([0] * 15)))
n = os.pwrite(fd, big, 0)
try:
    os.pwrite(fd, memoryview(big)[n:], n)  # still page-aligned
    tail = "accepted"
except OSError as e:
    tail = errno.errorcode[e.errno]
print("over1mib", n, tail, wait_done(0, N))
EOF
)
echo "$out"
short=$(echo "$out" | awk '/^short/ { print $3, $4 }')
eq "unaligned 1 MiB: short count, a multiple of 64" "$short" "0 True"
first=$(echo "$out" | awk '/^short/ { print $2 / 64 }')
eq "exactly the slots the short count covers ran" \
	"$(echo "$out" | awk '/^published_first/ { print $2 }')" "$first"
has "the remainder write completes the batch" "$out" "rest"
eq "remainder" "$(echo "$out" | awk '/^rest/ { print $3 }')" True
eq "all 16384 of the first batch DONE" "$(echo "$out" | awk '/^all_done/ { print $2 }')" True
eq "page-aligned 1 MiB write taken whole" "$(echo "$out" | awk '/^aligned / { print $2 }')" True
eq "page-aligned batch DONE" "$(echo "$out" | awk '/^aligned_done/ { print $2 }')" True
eq "a read right after a 1 MiB write sees all of it PUBLISHED" \
	"$(echo "$out" | awk '/^readback/ { print $2 }')" True
eq "control/status counts it pending" "$(echo "$out" | awk '/^readback/ { print $3 }')" 16384
eq "the read-back batch DONE after restart" "$(echo "$out" | awk '/^readback/ { print $4 }')" True
eq "the same 1 MiB write again, still pending: EBUSY" \
	"$(echo "$out" | awk '/^again/ { print $2 }')" EBUSY
eq "100-byte write" "$(echo "$out" | awk '/^odd/ { print $2 }')" EINVAL
has "errors names the 100-byte write" "$(tail -n 1 "$MNT/errors")" "Fix:"
eq "2 MiB write, bad image in the second MiB: the first MiB's count" \
	"$(echo "$out" | awk '/^over1mib/ { print $2 }')" 1048576
eq "then the rest of it: its error" "$(echo "$out" | awk '/^over1mib/ { print $3 }')" EINVAL
eq "the first MiB DONE" "$(echo "$out" | awk '/^over1mib/ { print $4 }')" True
eq "store_u32 count: every image ran once, the refused MiB not at all" \
	"$(awk '$1 == "store_u32" { print $2 }' "$MNT/control/metrics")" 65536
do_umount
echo "test_ring_raw: $checks checks, $fails failed"
[ "$fails" -eq 0 ]
