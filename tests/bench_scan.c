/* SPDX-License-Identifier: MIT */
/*
 * tests/bench_scan.c - the streaming-scan benchmark of issue 5: a
 * page-cached file streamed through the resident megakernel (runtime API:
 * mk_scan_pool_create, mk_scan_pool_add_set, mk_stream_start, progress),
 * each figure beside a peer measured in this same run on the same file:
 *   1. raw streaming rate (an EMPTY pattern set) vs a pinned host-to-device
 *      cudaMemcpy (cuda; kernels/peer_copy.cu) or plain read() of the file
 *      into one chunk-sized buffer by one thread (cpu);
 *   2. a scan for >= 200 literal patterns (seeded PRNG: words of 4..16
 *      bytes, letter runs, prefixes and suffixes of other patterns, binary
 *      patterns with 0x00/0xFF, one duplicate; occurrences planted in
 *      pseudo-text) vs Hyperscan in block mode over the same file, mapped
 *      and populated before the clock starts (its best case): all cores
 *      (one piece per thread, each re-reading max_len - 1 bytes before it
 *      and counting only matches that end in it) and one core.
 * megafs runs count only (max_hits 0, best of MK_BENCH_REPS), plus one run
 * with the product's default max_hits to show what recording hits costs.
 * Match counts are printed side by side and must be identical: Hyperscan
 * without HS_FLAG_SINGLEMATCH reports every end of every pattern,
 * overlapping ones included, like megafs. The exit status is 1 only when
 * counts differ; timings are never judged (docs/BENCH.md records them).
 * Without a CUDA device the cuda run prints "skipped" and exits 0.
 *
 *   build/release/tests/bench_scan [cpu|cuda] [MiB]
 * Defaults: MK_BENCH_BACKEND or cpu; MK_BENCH_SCAN_MIB or 512. Knobs (env):
 *   MK_BENCH_CHUNK=4M     stream chunk_bytes (suffix K/M allowed)
 *   MK_BENCH_BUFS=0       staging buffers per stream, 1..MK_STREAM_MAX_BUFS
 *                         (0: the runtime's MK_STREAM_BUFS)
 *   MK_BENCH_HITS=1000    max_hits of one extra run of each set beside the
 *                         counts-only ones (max_hits 0); 0 skips it
 *   MK_BENCH_PATTERNS=200 MK_BENCH_SEED=1 MK_BENCH_REPS=3 (best of)
 *   MK_BENCH_WORKERS=0    CPU backend worker threads (0: one per core)
 *   MK_BENCH_HS_THREADS=0 Hyperscan "all cores" threads (0: online cores)
 *   MK_BENCH_SYNC=1       fdatasync the file once written (no writeback
 *                         during the runs); TMPDIR picks the directory
 * The file is unlinked as soon as it is created, so it never outlives the
 * run; it stays in the page cache while the benchmark holds it open.
 * Hyperscan is linked in when `pkg-config --exists libhs` held at build.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime/runtime.h"
#include "runtime/stream.h"
#include "runtime/wake.h"
#ifdef MK_HAVE_CUDA
#include "kernels/peer_copy.h"
#endif
#ifdef MK_HAVE_HYPERSCAN
#include <hs.h>
#endif

#define UNIT ((1u << 20) + 4099u) /* generation unit: not page-aligned */
#define PLANT_GAP 1024u           /* mean bytes between planted patterns */
#define MAX_PATLEN 16u
#define HS_BLOCK (1u << 30)       /* hs_scan takes an unsigned int length */

struct knobs {
	const char *backend;
	uint64_t size, seed;
	uint32_t chunk, bufs, hits, npat, reps, workers, threads, cores;
	int sync;
	int inline_reads; /* the stream's reads in its own thread (no io-wq) */
};

struct bpat {
	uint8_t b[MAX_PATLEN];
	uint32_t len;
};

struct patset {
	struct bpat *p;
	uint32_t n, max_len;
	char *text; /* literals text: one line per pattern, every byte \xHH */
	size_t text_len;
};

/* One measured run: best rate, and its match count (-1: none). */
struct result {
	double gbps;
	int64_t matches;
	int ok;
	char note[MK_ERR_MSG_MAX];
};

static uint64_t rng_next(uint64_t *s) /* splitmix64 */
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);
	char *end;
	uint64_t x;

	if (!v || !*v)
		return def;
	x = strtoull(v, &end, 0);
	if (*end == 'k' || *end == 'K')
		x <<= 10;
	else if (*end == 'm' || *end == 'M')
		x <<= 20;
	else if (*end == 'g' || *end == 'G')
		x <<= 30;
	return x;
}

/* ---- patterns ---------------------------------------------------------------- */

static void rand_bytes(struct bpat *p, uint64_t *st, uint32_t lo, uint32_t hi,
		       int letters)
{
	uint32_t i;

	p->len = lo + (uint32_t)(rng_next(st) % (hi - lo + 1u));
	for (i = 0; i < p->len; i++) {
		uint64_t r = rng_next(st);

		p->b[i] = letters ? (uint8_t)('a' + r % 26u) : (uint8_t)r;
	}
}

/*
 * Pattern i by i % 10: 0 binary bytes (0x00 first / 0xFF last every other
 * time), 1 a run of one letter (self-overlapping), 2 a word of 8..16
 * letters, 3 a prefix and 4 a suffix of that word, else a word of 4..16.
 * The last pattern repeats pattern 5 (duplicates count on their own).
 */
static void make_pattern(struct patset *ps, uint32_t i, uint64_t *st)
{
	struct bpat *p = &ps->p[i];
	const struct bpat *w = i >= 2 ? &ps->p[i - (i % 10u == 3u ? 1u : 2u)] : NULL;
	uint32_t k = i % 10u, n;

	if (k == 0) {
		rand_bytes(p, st, 4, MAX_PATLEN, 0);
		if (i % 20u == 0)
			p->b[0] = 0x00;
		else
			p->b[p->len - 1] = 0xFF;
	} else if (k == 1) {
		rand_bytes(p, st, 4, 8, 1);
		memset(p->b, p->b[0], p->len);
	} else if (k == 2) {
		rand_bytes(p, st, 8, MAX_PATLEN, 1);
	} else if ((k == 3 || k == 4) && w) {
		n = 4u + (uint32_t)(rng_next(st) % (w->len - 4u));
		memcpy(p->b, k == 3 ? w->b : w->b + w->len - n, n);
		p->len = n;
	} else {
		rand_bytes(p, st, 4, MAX_PATLEN, 1);
	}
}

static int make_patterns(struct patset *ps, uint32_t n, uint64_t seed)
{
	uint64_t st = seed * 0xA0761D6478BD642Full + 7u;
	uint32_t i, j;
	size_t o = 0;

	ps->p = calloc(n, sizeof(*ps->p));
	ps->text = malloc((size_t)n * (MAX_PATLEN * 4u + 1u) + 1u);
	if (!ps->p || !ps->text)
		return -ENOMEM;
	ps->n = n;
	ps->max_len = 0;
	for (i = 0; i < n; i++) {
		make_pattern(ps, i, &st);
		if (i == n - 1 && n > 10)
			ps->p[i] = ps->p[5];
		if (ps->p[i].len > ps->max_len)
			ps->max_len = ps->p[i].len;
		for (j = 0; j < ps->p[i].len; j++)
			o += (size_t)sprintf(ps->text + o, "\\x%02x", ps->p[i].b[j]);
		ps->text[o++] = '\n';
	}
	ps->text[o] = '\0';
	ps->text_len = o;
	return 0;
}

/* ---- the file ------------------------------------------------------------------ */

struct gen_job {
	int fd;
	uint64_t size, seed;
	const struct patset *ps;
	uint32_t tid, nthreads;
	int rc, joinable;
};

static void plant(uint8_t *buf, size_t len, size_t *pos, const struct bpat *p)
{
	size_t n = len - *pos < p->len ? len - *pos : p->len;

	memcpy(buf + *pos, p->b, n);
	*pos += p->len;
}

/* Unit @u: pseudo-text over 32 symbols, with patterns planted ~1/KiB. */
static void gen_unit(uint8_t *buf, size_t len, uint64_t u, const struct gen_job *g)
{
	static const char alpha[33] = "abcdefghijklmnopqrstuvwxyz    \n.";
	uint64_t st = g->seed ^ ((u + 1u) * 0xD1B54A32D192ED03ull), r;
	size_t i = 0, pos;
	int k;

	while (i < len) {
		r = rng_next(&st);
		for (k = 0; k < 12 && i < len; k++, r >>= 5)
			buf[i++] = (uint8_t)alpha[r & 31u];
	}
	pos = rng_next(&st) % (2u * PLANT_GAP);
	while (pos < len) {
		const struct bpat *p;

		r = rng_next(&st);
		p = &g->ps->p[r % g->ps->n];
		plant(buf, len, &pos, p);
		if (pos < len && (r >> 40) % 8u == 0) /* back to back */
			plant(buf, len, &pos, p);
		pos += rng_next(&st) % (2u * PLANT_GAP);
	}
}

static void *gen_main(void *arg)
{
	struct gen_job *g = arg;
	uint8_t *buf = malloc(UNIT);
	uint64_t u, nunits = (g->size + UNIT - 1u) / UNIT;

	if (!buf) {
		g->rc = -ENOMEM;
		return NULL;
	}
	for (u = g->tid; u < nunits && !g->rc; u += g->nthreads) {
		uint64_t off = u * UNIT;
		size_t len = g->size - off < UNIT ? (size_t)(g->size - off) : UNIT;

		gen_unit(buf, len, u, g);
		if (pwrite(g->fd, buf, len, (off_t)off) != (ssize_t)len)
			g->rc = -errno ? -errno : -EIO;
	}
	free(buf);
	return NULL;
}

/* Create, fill and unlink the file; returns its fd or -errno. */
static int make_file(const struct knobs *k, const struct patset *ps, double *secs)
{
	const char *dir = getenv("TMPDIR");
	struct gen_job g[64];
	pthread_t th[64];
	char path[4096];
	uint32_t t, n = k->cores < 64 ? k->cores : 64;
	int64_t t0 = mk_now_ns();
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/megafs-bench-scan.XXXXXX",
		 dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	unlink(path);
	for (t = 0; t < n; t++) {
		g[t] = (struct gen_job){ .fd = fd, .size = k->size, .seed = k->seed,
					 .ps = ps, .tid = t, .nthreads = n };
		if (pthread_create(&th[t], NULL, gen_main, &g[t]))
			gen_main(&g[t]); /* no thread: do its share here */
		else
			g[t].joinable = 1;
	}
	for (t = 0; t < n; t++) {
		if (g[t].joinable)
			pthread_join(th[t], NULL);
		rc = rc ? rc : g[t].rc;
	}
	if (!rc && k->sync && fdatasync(fd))
		rc = -errno;
	*secs = (double)(mk_now_ns() - t0) / 1e9;
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}

/* ---- peers ---------------------------------------------------------------------- */

/* read() of the whole file into one @bufsz buffer by one thread. */
static double read_gbps(int fd, uint64_t size, size_t bufsz)
{
	uint8_t *buf = malloc(bufsz);
	uint64_t off = 0;
	int64_t t0 = mk_now_ns();

	if (!buf)
		return -1;
	while (off < size) {
		ssize_t n = pread(fd, buf, bufsz, (off_t)off);

		if (n <= 0)
			break;
		off += (uint64_t)n;
	}
	t0 = mk_now_ns() - t0;
	free(buf);
	return off == size ? (double)size / (double)t0 : -1;
}

static void peer_read(int fd, const struct knobs *k, struct result *r)
{
	uint32_t i;

	for (i = 0; i < k->reps; i++) {
		double g = read_gbps(fd, k->size, k->chunk);

		if (g > r->gbps)
			r->gbps = g;
	}
	r->ok = r->gbps > 0;
	r->matches = -1;
	snprintf(r->note, sizeof(r->note), "read() into a %u KiB buffer, 1 thread",
		 k->chunk >> 10);
}

static void peer_h2d(struct result *r)
{
	r->matches = -1;
#ifdef MK_HAVE_CUDA
	r->gbps = mk_cuda_peer_h2d_gbps((size_t)1 << 30, 5);
	r->ok = r->gbps > 0;
	snprintf(r->note, sizeof(r->note), r->ok ? "pinned H2D cudaMemcpy, 1 GiB"
				 : "pinned H2D cudaMemcpy failed (cudaError %.0f)",
		 -r->gbps);
#else
	snprintf(r->note, sizeof(r->note), "pinned H2D: not built (no nvcc)");
#endif
}

/* ---- megafs streams -------------------------------------------------------------- */

/* One stream over the whole file; 0 with @pr filled, or -errno. */
static int stream_once(struct mk_runtime *rt, struct mk_scan_pool *pool, int set,
		       int fd, const struct knobs *k, uint32_t hits,
		       struct mk_stream_progress *pr, struct mk_err *err)
{
	struct mk_stream_params p = { 0 };
	struct mk_stream *s = NULL;
	int rc;

	p.fd = dup(fd); /* the stream owns and closes its fd */
	if (p.fd < 0)
		return -errno;
	p.size = k->size;
	p.set = set;
	p.chunk_bytes = k->chunk;
	p.max_hits = hits;
	p.nbufs = k->bufs;
	p.inline_reads = k->inline_reads;
	rc = mk_stream_start(pool, &p, &s, err);
	if (rc)
		return rc;
	for (;;) {
		uint64_t seen = mk_runtime_progress(rt);

		mk_stream_progress(s, pr);
		if (pr->state != MK_STREAM_RUNNING)
			break;
		mk_runtime_wait_progress(rt, seen, 2000000);
	}
	mk_stream_destroy(s);
	if (pr->state == MK_STREAM_DONE)
		return 0;
	snprintf(err->msg, sizeof(err->msg), "stream %s: %.280s",
		 mk_stream_state_name(pr->state), pr->error);
	return -EIO;
}

/* Best of @reps with max_hits @hits; every run must count the same. */
static void run_stream(struct mk_runtime *rt, struct mk_scan_pool *pool, int set,
		       int fd, const struct knobs *k, uint32_t hits, uint32_t reps,
		       struct result *r)
{
	struct mk_stream_progress pr;
	struct mk_err err;
	uint32_t i;

	mk_err_clear(&err);
	r->matches = -1;
	for (i = 0; i < reps; i++) {
		if (stream_once(rt, pool, set, fd, k, hits, &pr, &err)) {
			r->ok = 0;
			snprintf(r->note, sizeof(r->note), "%s", err.msg);
			return;
		}
		if (r->matches >= 0 && (uint64_t)r->matches != pr.matches) {
			snprintf(r->note, sizeof(r->note),
				 "runs disagree: %lld then %llu matches",
				 (long long)r->matches, (unsigned long long)pr.matches);
			r->ok = 0;
			r->matches = -2;
			return;
		}
		r->matches = (int64_t)pr.matches;
		if ((double)pr.bytes / pr.elapsed_s / 1e9 > r->gbps)
			r->gbps = (double)pr.bytes / pr.elapsed_s / 1e9;
		snprintf(r->note, sizeof(r->note), "max_hits %u, %u run%s, %llu chunks, %s",
			 hits, reps, reps == 1 ? "" : "s",
			 (unsigned long long)pr.chunks, pr.io);
	}
	r->ok = 1;
}

/* ---- Hyperscan ------------------------------------------------------------------- */

#ifdef MK_HAVE_HYPERSCAN
struct hs_job {
	const hs_database_t *db;
	hs_scratch_t *scratch;
	const uint8_t *base;
	uint64_t begin, end, count;
	size_t overlap;
	int rc, joinable;
};

struct hs_ctx {
	unsigned long long lead; /* overlap bytes at the start of the block */
	uint64_t count;
};

static int on_match(unsigned int id, unsigned long long from,
		    unsigned long long to, unsigned int flags, void *arg)
{
	struct hs_ctx *c = arg;

	(void)id;
	(void)from;
	(void)flags;
	if (to > c->lead) /* ends in this piece, not in the overlap */
		c->count++;
	return 0;
}

/* Matches ending in [begin, end): blocks of <= 1 GiB, each with overlap. */
static void *hs_main(void *arg)
{
	struct hs_job *j = arg;
	uint64_t off;

	for (off = j->begin; off < j->end && !j->rc; off += HS_BLOCK) {
		uint64_t stop = j->end - off < HS_BLOCK ? j->end : off + HS_BLOCK;
		struct hs_ctx c = { off < j->overlap ? off : j->overlap, 0 };

		j->rc = hs_scan(j->db, (const char *)j->base + off - c.lead,
				(unsigned int)(stop - off + c.lead), 0, j->scratch,
				on_match, &c);
		j->count += c.count;
	}
	return NULL;
}

static hs_database_t *hs_build(const struct patset *ps, hs_scratch_t **scratch,
			       char *why, size_t cap)
{
	const char **expr = calloc(ps->n, sizeof(*expr));
	unsigned int *ids = calloc(ps->n, sizeof(*ids));
	char *text = strdup(ps->text), *line = text;
	hs_compile_error_t *cerr = NULL;
	hs_database_t *db = NULL;
	uint32_t i;

	for (i = 0; expr && ids && text && i < ps->n; i++) {
		expr[i] = line;
		ids[i] = i;
		line = strchr(line, '\n');
		*line++ = '\0';
	}
	if (!expr || !ids || !text)
		snprintf(why, cap, "out of memory");
	else if (hs_compile_multi(expr, NULL, ids, ps->n, HS_MODE_BLOCK, NULL, &db,
				  &cerr) != HS_SUCCESS)
		snprintf(why, cap, "compile failed: %s", cerr->message);
	else if (hs_alloc_scratch(db, scratch) != HS_SUCCESS)
		snprintf(why, cap, "scratch allocation failed");
	if (cerr)
		hs_free_compile_error(cerr);
	free(expr);
	free(ids);
	free(text);
	return db;
}

/*
 * @n threads over the mapped file, best of reps: thread t takes the t-th
 * of n equal pieces and re-reads @overlap (max_len - 1) bytes before it.
 */
static void hs_run(const hs_database_t *db, hs_scratch_t *proto,
		   const uint8_t *base, const struct knobs *k, uint32_t n,
		   size_t overlap, struct result *r)
{
	struct hs_job *j = calloc(n, sizeof(*j));
	pthread_t *th = calloc(n, sizeof(*th));
	uint32_t t, rep;

	r->matches = -1;
	r->ok = j && th;
	for (t = 0; j && th && t < n; t++) {
		j[t] = (struct hs_job){ .db = db, .base = base,
					.overlap = overlap };
		j[t].begin = k->size / n * t;
		j[t].end = t + 1 == n ? k->size : k->size / n * (t + 1);
		j[t].rc = hs_clone_scratch(proto, &j[t].scratch);
	}
	for (rep = 0; j && th && rep < k->reps; rep++) {
		int64_t t0 = mk_now_ns();
		uint64_t total = 0;

		for (t = 0; t < n; t++) {
			j[t].count = 0;
			if (pthread_create(&th[t], NULL, hs_main, &j[t]))
				hs_main(&j[t]); /* no thread: run it here */
			else
				j[t].joinable = 1;
		}
		for (t = 0; t < n; t++) {
			if (j[t].joinable)
				pthread_join(th[t], NULL);
			j[t].joinable = 0;
			total += j[t].count;
			r->ok = r->ok && j[t].rc == 0;
		}
		t0 = mk_now_ns() - t0;
		if ((double)k->size / (double)t0 > r->gbps)
			r->gbps = (double)k->size / (double)t0;
		r->matches = rep && r->matches != (int64_t)total ? -2 : (int64_t)total;
	}
	snprintf(r->note, sizeof(r->note), "block mode, %u thread%s%s", n,
		 n == 1 ? "" : "s", r->ok ? "" : ", hs_scan failed");
	for (t = 0; j && t < n; t++)
		hs_free_scratch(j[t].scratch);
	free(j);
	free(th);
}
#endif

/*
 * Hyperscan on all cores (@all) and on one (@one), over the file mapped
 * and populated before the clock starts. 0, or -1 when not available.
 */
static int run_hyperscan(int fd, const struct knobs *k, const struct patset *ps,
			 struct result *all, struct result *one)
{
#ifdef MK_HAVE_HYPERSCAN
	hs_scratch_t *scratch = NULL;
	hs_database_t *db;
	char why[128] = "";
	void *map;

	if (hs_valid_platform() != HS_SUCCESS) {
		printf("hyperscan: this CPU is not supported (needs SSSE3)\n");
		return -1;
	}
	db = hs_build(ps, &scratch, why, sizeof(why));
	if (why[0]) {
		printf("hyperscan: %s\n", why);
		hs_free_database(db);
		return -1;
	}
	map = mmap(NULL, k->size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (map == MAP_FAILED) {
		printf("hyperscan: mmap of the file failed: %s\n", strerror(errno));
		hs_free_scratch(scratch);
		hs_free_database(db);
		return -1;
	}
	hs_run(db, scratch, map, k, k->threads, ps->max_len - 1u, all);
	hs_run(db, scratch, map, k, 1, ps->max_len - 1u, one);
	munmap(map, k->size);
	hs_free_scratch(scratch);
	hs_free_database(db);
	return 0;
#else
	(void)fd;
	(void)k;
	(void)ps;
	snprintf(all->note, sizeof(all->note), "not installed");
	snprintf(one->note, sizeof(one->note), "not installed");
	printf("hyperscan: not installed (Fix: apt-get install libhyperscan-dev)\n");
	return -1;
#endif
}

/* ---- report ------------------------------------------------------------------------ */

static void print_row(const char *what, const struct result *r)
{
	char m[32] = "";

	if (r->matches >= 0)
		snprintf(m, sizeof(m), "%llu", (unsigned long long)r->matches);
	if (r->ok)
		printf("  %-34s %8.2f GB/s  %12s  (%s)\n", what, r->gbps, m, r->note);
	else
		printf("  %-34s      n/a          %12s  (%s)\n", what, m, r->note);
}

static double ratio(const struct result *a, const struct result *b)
{
	return a->ok && b->ok && b->gbps > 0 ? a->gbps / b->gbps : 0;
}

/* Every result of the run, so the report sees them together. */
struct runs {
	struct result raw, raw_hits;   /* empty set: counts only, max_hits */
	struct result raw_inline;      /* empty set, reads not punted to io-wq */
	struct result scan, scan_hits; /* literals: counts only, max_hits */
	struct result rpeer, h2d;      /* read() and pinned H2D peers */
	struct result all, one;        /* Hyperscan, all cores and one */
};

/* Every count must agree (the empty set's with 0); 0 = identical. */
static int check_counts(const struct runs *r)
{
	const struct result *v[4] = { &r->scan, &r->scan_hits, &r->all, &r->one };
	int64_t ref = -1;
	int i, bad = r->raw.matches > 0 || r->raw.matches == -2 ||
		     r->raw_hits.matches > 0 || r->raw_hits.matches == -2;

	for (i = 0; i < 4; i++) {
		if (v[i]->matches == -2)
			bad = 1;
		if (v[i]->matches < 0)
			continue;
		if (ref >= 0 && v[i]->matches != ref)
			bad = 1;
		ref = v[i]->matches;
	}
	if (bad)
		printf("counts: DIFFER (megafs %lld / %lld with hits, hyperscan all cores "
		       "%lld, one core %lld, empty set %lld / %lld)\n",
		       (long long)r->scan.matches, (long long)r->scan_hits.matches,
		       (long long)r->all.matches, (long long)r->one.matches,
		       (long long)r->raw.matches, (long long)r->raw_hits.matches);
	else if (r->all.matches >= 0 && r->scan.matches >= 0)
		printf("counts: identical (%lld matches)\n", (long long)ref);
	else
		printf("counts: not compared (%s)\n",
		       r->scan.matches < 0 ? "no megafs scan" : "no hyperscan");
	return bad;
}

static void print_report(const struct knobs *k, const struct runs *r, int cuda)
{
	char what[64];

	snprintf(what, sizeof(what), "megafs stream, max_hits %u", k->hits);
	printf("raw streaming, empty pattern set:\n");
	print_row("megafs stream, counts only", &r->raw);
	if (k->hits)
		print_row(what, &r->raw_hits);
	print_row("megafs, inline reads (no io-wq)", &r->raw_inline);
	if (cuda)
		print_row("peer: pinned host-to-device copy", &r->h2d);
	print_row("peer: read() of the file", &r->rpeer);
	printf("scan, %u literal patterns:\n", k->npat);
	print_row("megafs stream, counts only", &r->scan);
	if (k->hits)
		print_row(what, &r->scan_hits);
	print_row("hyperscan, all cores", &r->all);
	print_row("hyperscan, one core", &r->one);
}

/* Ratios, then one line for scripts (gpu-check's final table). */
static void print_summary(const struct knobs *k, const struct runs *r, int cuda,
			  int bad)
{
	const struct result *peer = cuda ? &r->h2d : &r->rpeer;

	printf("ratios (counts only): raw megafs / %s = %.2f; scan megafs / "
	       "hyperscan %u cores = %.2f, / 1 core = %.2f\n", cuda ? "pinned H2D" : "read()",
	       ratio(&r->raw, peer), k->threads, ratio(&r->scan, &r->all),
	       ratio(&r->scan, &r->one));
	printf("bench_scan summary: %s %llu MiB: raw %.2f GB/s = %.2fx %s; "
	       "scan %u pats %.2f GB/s = %.2fx hs-%ucore %.2fx hs-1core "
	       "(max_hits %u: %.2f GB/s); counts %s\n",
	       k->backend, (unsigned long long)(k->size >> 20),
	       r->raw.ok ? r->raw.gbps : 0, ratio(&r->raw, peer),
	       cuda ? "pinned-h2d" : "read()", k->npat,
	       r->scan.ok ? r->scan.gbps : 0, ratio(&r->scan, &r->all), k->threads,
	       ratio(&r->scan, &r->one), k->hits,
	       r->scan_hits.ok ? r->scan_hits.gbps : 0,
	       bad ? "DIFFER" : r->all.matches < 0 || r->scan.matches < 0
				  ? "unchecked" : "identical");
}

static void parse_knobs(int argc, char **argv, struct knobs *k)
{
	const char *b = getenv("MK_BENCH_BACKEND");
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	k->backend = argc > 1 ? argv[1] : b && *b ? b : "cpu";
	k->size = (argc > 2 ? strtoull(argv[2], NULL, 0)
			    : env_u64("MK_BENCH_SCAN_MIB", 512)) << 20;
	if (k->size == 0)
		k->size = 1u << 20;
	k->chunk = (uint32_t)env_u64("MK_BENCH_CHUNK", MK_STREAM_DEFAULT_CHUNK);
	k->bufs = (uint32_t)env_u64("MK_BENCH_BUFS", 0);
	k->hits = (uint32_t)env_u64("MK_BENCH_HITS", MK_STREAM_DEFAULT_HITS);
	k->npat = (uint32_t)env_u64("MK_BENCH_PATTERNS", 200);
	if (k->npat < 1 || k->npat > MK_DFA_MAX_PATTERNS)
		k->npat = 200;
	k->seed = env_u64("MK_BENCH_SEED", 1);
	k->reps = (uint32_t)env_u64("MK_BENCH_REPS", 3);
	if (k->reps < 1)
		k->reps = 1;
	k->workers = (uint32_t)env_u64("MK_BENCH_WORKERS", 0);
	k->cores = cores > 0 ? (uint32_t)cores : 1u;
	k->threads = (uint32_t)env_u64("MK_BENCH_HS_THREADS", 0);
	if (k->threads < 1)
		k->threads = k->cores;
	k->sync = (int)env_u64("MK_BENCH_SYNC", 1);
}

/*
 * Both sets (empty, literals) through one scan pool: counts only (best of
 * reps), then once with max_hits = MK_BENCH_HITS (the product default).
 */
static void megafs_side(struct mk_runtime *rt, int fd, const struct knobs *k,
			const struct patset *ps, struct runs *r)
{
	struct result *v[4] = { &r->raw, &r->raw_hits, &r->scan, &r->scan_hits };
	struct mk_scan_pool *pool = NULL;
	struct mk_dfa *empty = NULL, *lits = NULL;
	struct knobs inl = *k;
	struct mk_err err;
	int se, sl, i;

	mk_err_clear(&err);
	if (mk_scan_pool_create(rt, &pool, &err) ||
	    mk_dfa_compile_literals("", 0, &empty, &err) ||
	    mk_dfa_compile_literals(ps->text, ps->text_len, &lits, &err) ||
	    (se = mk_scan_pool_add_set(pool, empty, &err)) < 0 ||
	    (sl = mk_scan_pool_add_set(pool, lits, &err)) < 0) {
		for (i = 0; i < 4; i++)
			memcpy(v[i]->note, err.msg, sizeof(err.msg));
		goto out;
	}
	run_stream(rt, pool, se, fd, k, 0, k->reps, &r->raw);
	if (k->hits)
		run_stream(rt, pool, se, fd, k, k->hits, 1, &r->raw_hits);
	inl.inline_reads = 1;
	run_stream(rt, pool, se, fd, &inl, 0, 1, &r->raw_inline);
	run_stream(rt, pool, sl, fd, k, 0, k->reps, &r->scan);
	if (k->hits)
		run_stream(rt, pool, sl, fd, k, k->hits, 1, &r->scan_hits);
out:
	mk_scan_pool_destroy(pool); /* before the sets it borrows */
	mk_dfa_destroy(empty);
	mk_dfa_destroy(lits);
}

static struct mk_runtime *open_runtime(const struct knobs *k, struct mk_err *err)
{
	struct mk_config cfg;
	struct mk_runtime *rt = NULL;

	mk_config_init(&cfg);
	cfg.backend = k->backend;
	cfg.workers = k->workers;
	if (mk_runtime_create(&cfg, &rt, err))
		return NULL;
	return rt;
}

static void run_all(struct mk_runtime *rt, int fd, const struct knobs *k,
		    const struct patset *ps, struct runs *r, int cuda)
{
	struct result *v[8] = { &r->raw, &r->raw_hits, &r->scan, &r->scan_hits,
				&r->rpeer, &r->h2d, &r->all, &r->one };
	struct mk_err err;
	int i;

	for (i = 0; i < 8; i++) {
		v[i]->matches = -1; /* no count until a run produces one */
		snprintf(v[i]->note, sizeof(v[i]->note), "not run");
	}
	read_gbps(fd, k->size, k->chunk); /* warm the page cache */
	if (cuda)
		peer_h2d(&r->h2d); /* before the kernel runs: the GPU to itself */
	peer_read(fd, k, &r->rpeer);
	mk_err_clear(&err);
	if (mk_runtime_start(rt, &err) == 0)
		megafs_side(rt, fd, k, ps, r);
	else
		for (i = 0; i < 4; i++)
			memcpy(v[i]->note, err.msg, sizeof(err.msg));
	mk_runtime_destroy(rt); /* its threads leave the cores to Hyperscan */
	run_hyperscan(fd, k, ps, &r->all, &r->one);
}

int main(int argc, char **argv)
{
	struct patset ps = { 0 };
	struct runs r = { 0 };
	struct mk_runtime *rt;
	struct mk_status st;
	struct mk_err err;
	struct knobs k;
	double secs = 0;
	int fd, bad, cuda;

	mk_err_clear(&err);
	parse_knobs(argc, argv, &k);
	cuda = strcmp(k.backend, "cuda") == 0;
	rt = open_runtime(&k, &err);
	if (!rt) {
		printf("bench_scan: skipped: %s: %s\n",
		       cuda ? "no CUDA device" : k.backend, err.msg);
		return 0;
	}
	mk_runtime_status(rt, &st);
	fd = make_patterns(&ps, k.npat, k.seed);
	if (fd == 0)
		fd = make_file(&k, &ps, &secs);
	if (fd < 0) {
		printf("bench_scan: cannot create the file: %s (Fix: set TMPDIR to a "
		       "directory with %llu MiB free)\n", strerror(-fd),
		       (unsigned long long)(k.size >> 20));
		mk_runtime_destroy(rt);
		return 1;
	}
	printf("== bench_scan: backend=%s (%s), %u cores, %llu MiB file in %s (made in "
	       "%.1f s%s), %u patterns (max_len %u, seed %llu), chunk %u KiB x %u "
	       "buffers, best of %u\n", st.backend, st.device, k.cores,
	       (unsigned long long)(k.size >> 20),
	       getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", secs,
	       k.sync ? ", fdatasync" : "", k.npat, ps.max_len,
	       (unsigned long long)k.seed, k.chunk >> 10,
	       k.bufs ? k.bufs : MK_STREAM_BUFS, k.reps);
	run_all(rt, fd, &k, &ps, &r, cuda);
	print_report(&k, &r, cuda);
	bad = check_counts(&r);
	print_summary(&k, &r, cuda, bad);
	close(fd);
	free(ps.p);
	free(ps.text);
	return bad;
}
