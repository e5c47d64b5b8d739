#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""examples/client.py MOUNTPOINT - a small megafs client in Python 3 (stdlib
only): ring/N writes, call round trips with binary slot images (struct),
observables and metrics, and a file scan through patterns/ and streams/.

    build/release/megafs -o backend=cpu /mnt/mk
    python3 examples/client.py /mnt/mk
    fusermount3 -u /mnt/mk

Import it to use the Megafs class in your own scripts. Every failed write
raises MegafsError with the errno and the Fix: line megafs recorded in its
`errors` file.
"""
import errno
import os
import select
import struct
import sys
import tempfile
import time

# Slot layout (runtime/abi.h): 16 little-endian u32 words.
SLOT = struct.Struct('<16I')
EMPTY, PUBLISHED, CLAIMED, DONE = 0, 1, 2, 3
OPS = {'nop': 0, 'store_u32': 1, 'atomic_add': 2, 'load_u32': 3,
       'compare_swap': 4, 'memcpy': 5, 'dfa_step': 6, 'batch_fence': 7}
OBS_BASE = 160  # observable K is control word 160 + K


class MegafsError(OSError):
    """An errno from megafs plus the reason it gave in `errors`."""


def slot_image(op, *args, tenant=0, priority=2):
    """One 64-byte PUBLISHED slot image: status, opcode, tenant, priority,
    then up to 12 args."""
    if isinstance(op, str):
        op = OPS[op]
    if len(args) > 12:
        raise ValueError('a slot carries at most 12 args')
    return SLOT.pack(PUBLISHED, op, tenant, priority, *args,
                     *([0] * (12 - len(args))))


def words(line):
    """A slot line "status opcode tenant priority arg0 .. arg11" -> ints."""
    return [int(x) for x in line.split()]


class Megafs:
    def __init__(self, mnt):
        if not os.path.isfile(os.path.join(mnt, 'README')):
            raise SystemExit('%s is not a megafs mount. Fix: build/release/'
                             'megafs %s first' % (mnt, mnt))
        self.mnt = mnt

    def path(self, *parts):
        return os.path.join(self.mnt, *parts)

    def read(self, *parts):
        with open(self.path(*parts), 'rb') as f:
            return f.read()

    def last_error(self):
        lines = self.read('errors').decode().splitlines()
        return lines[-1] if lines else ''

    def write(self, rel, data):
        """One write at offset 0, then close (which may report an error
        too, e.g. when literals are compiled)."""
        if isinstance(data, str):
            data = data.encode()
        try:
            fd = os.open(self.path(rel), os.O_WRONLY | os.O_TRUNC)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
        except OSError as e:
            raise MegafsError(e.errno, '%s: %s' % (rel, self.last_error())) from None

    # ---- ring slots ------------------------------------------------------
    def publish(self, slot, command):
        """Publish a text command or a 64-byte image into ring/<slot>."""
        self.write('ring/%d' % slot, command)

    def wait_slot(self, slot, timeout=5.0):
        """poll() ring/<slot> until it is DONE; return its 16 words."""
        fd = os.open(self.path('ring/%d' % slot), os.O_RDONLY)
        try:
            p = select.poll()
            p.register(fd, select.POLLIN)
            if not p.poll(int(timeout * 1000)):
                raise TimeoutError('ring/%d not DONE after %gs' % (slot, timeout))
            return words(os.pread(fd, 4096, 0).decode())
        finally:
            os.close(fd)

    def run(self, slot, command, timeout=5.0):
        self.publish(slot, command)
        return self.wait_slot(slot, timeout)

    # ---- call: synchronous round trips on a private channel ---------------
    def call(self, *images):
        """Write each 64-byte image, then read each result in order."""
        fd = os.open(self.path('call'), os.O_RDWR)
        try:
            for img in images:
                os.write(fd, img)
            return [words(os.read(fd, 4096).decode()) for _ in images]
        finally:
            os.close(fd)

    # ---- observables, metrics, status -------------------------------------
    def observable(self, k):
        return int(self.read('observables', str(k)))

    def set_observable(self, k, value):
        self.write('observables/%d' % k, str(value))

    def metrics(self):
        return {k: int(v) for k, v in
                (l.split() for l in self.read('control/metrics').decode().splitlines())}

    def status(self):
        return dict(l.split('=', 1) for l in
                    self.read('control/status').decode().splitlines())

    # ---- streams: scan a file for byte patterns ----------------------------
    def scan(self, path, patterns, name=None, chunk_bytes=None, max_hits=100,
             timeout=60.0):
        """Scan @path (absolute) for the byte strings @patterns. Returns
        dict(progress, matches, hits=[(pattern_index, end_offset)], dropped).
        The pattern set and stream are removed afterwards."""
        name = name or 'py-%d' % os.getpid()
        pdir, sdir = 'patterns/' + name, 'streams/' + name
        os.mkdir(self.path(pdir))
        try:
            os.mkdir(self.path(sdir))
            try:
                return self._scan(path, patterns, pdir, sdir, chunk_bytes,
                                  max_hits, timeout)
            finally:
                os.rmdir(self.path(sdir))
        finally:
            os.rmdir(self.path(pdir))

    def _scan(self, path, patterns, pdir, sdir, chunk_bytes, max_hits, timeout):
        # Every byte as \xHH: any pattern, newlines and backslashes included.
        text = ''.join(''.join('\\x%02x' % b for b in p) + '\n' for p in patterns)
        self.write(pdir + '/literals', text)
        self.write(sdir + '/source', os.path.abspath(path) + '\n')
        self.write(sdir + '/patterns', os.path.basename(pdir) + '\n')
        if chunk_bytes:
            self.write(sdir + '/chunk_bytes', str(chunk_bytes))
        self.write(sdir + '/max_hits', str(max_hits))
        self.write(sdir + '/ctl', 'start')
        # progress polls readable once the scan is no longer running.
        fd = os.open(self.path(sdir, 'progress'), os.O_RDONLY)
        try:
            p = select.poll()
            p.register(fd, select.POLLIN)
            if not p.poll(int(timeout * 1000)):
                self.write(sdir + '/ctl', 'cancel')
                raise TimeoutError('scan still running after %gs' % timeout)
            progress = os.pread(fd, 4096, 0).decode().strip()
        finally:
            os.close(fd)
        state = dict(kv.split('=') for kv in progress.split())['state']
        if state != 'done':
            raise MegafsError(errno.EIO, 'scan %s: %s' % (
                state, self.read(sdir, 'error').decode().strip()))
        hits, dropped = [], 0
        for line in self.read(sdir, 'hits').decode().splitlines():
            a, b = line.split()
            if a == 'dropped':
                dropped = int(b)
            else:
                hits.append((int(a), int(b)))
        return {'progress': progress, 'hits': hits, 'dropped': dropped,
                'matches': int(self.read(sdir, 'matches'))}


def demo(mnt):
    m = Megafs(mnt)
    st = m.status()
    print('kernel: backend=%s device=%s state=%s' %
          (st['backend'], st['device'], st['state']))

    # Text commands into ring slots; poll() tells when each is DONE.
    print('ring/0', m.run(0, 'store_u32 7 %d' % (OBS_BASE + 0)))
    print('ring/1', m.run(1, 'atomic_add 5 %d' % (OBS_BASE + 1)))
    # The same as a binary image.
    print('ring/2', m.run(2, slot_image('atomic_add', 1, OBS_BASE + 1)))
    print('observables 0, 1:', m.observable(0), m.observable(1))

    # Round trips: binary images in, one result line per command out.
    t0 = time.perf_counter()
    res = m.call(slot_image('store_u32', 41, OBS_BASE + 3),
                 slot_image('atomic_add', 1, OBS_BASE + 3),
                 slot_image('load_u32', OBS_BASE + 3, 4))
    dt = (time.perf_counter() - t0) * 1e6
    for r in res:
        print('call  status=%d opcode=%d args=%s' % (r[0], r[1], r[4:7]))
    print('observable 4 =', m.observable(4), '(3 calls in %.0f us)' % dt)

    mt = m.metrics()
    print('metrics:', {k: mt[k] for k in ('store_u32', 'atomic_add',
                                          'load_u32', 'done_count')})

    # A scan: bytes 0x00/0xFF and overlapping matches are fine.
    with tempfile.NamedTemporaryFile(prefix='megafs-py.', delete=False) as f:
        f.write(b'abab\x00\xff' * 50000)
        data = f.name
    try:
        os.chmod(data, 0o644)
        pats = [b'ab', b'abab', b'\x00\xff', b'b\x00']
        r = m.scan(data, pats, chunk_bytes=65536, max_hits=6)
    except MegafsError as e:
        print('scan failed:', e)
        return 1
    finally:
        os.unlink(data)
    blob = b'abab\x00\xff' * 50000
    want = sum(sum(1 for i in range(len(blob)) if blob.startswith(p, i))
               for p in pats)
    print(r['progress'])
    print('matches %d (python counts %d), first hits %s, dropped %d' %
          (r['matches'], want, r['hits'], r['dropped']))
    return 0 if r['matches'] == want else 1


if __name__ == '__main__':
    if len(sys.argv) != 2:
        raise SystemExit('usage: examples/client.py MOUNTPOINT')
    sys.exit(demo(sys.argv[1]))
