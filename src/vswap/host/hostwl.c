/*
 * vswap-hostwl: the workloads of vswap's model, as real programs for the host kernel.
 *
 * Built by `vswap host run` with the machine's gcc into a cache directory (the source's
 * hash names the binary). Each mode has the semantics of the model workload of the same
 * name (src/vswap/workloads/), and page contents are byte-for-byte those of
 * src/vswap/workloads/content.py, so the host and the model swap the same data:
 *
 *   usemem [-n N] [-t M] [-O] [-w] [-y] [-x] [-R] [-r N] [-Z] [-s SEC] [--init-time] SIZE
 *   pattern --size S --content zero|random|text|mixed [--passes N]
 *   pageout --size S --content C
 *   fill --size S [--content C] [--chunk BYTES]   swapoff filler: write and MADV_PAGEOUT
 *                                                 each chunk, say "ready", wait for a line
 *                                                 on stdin, read back and verify, exit
 *   map --size S [--stride BYTES]                 the swapoff run's unrelated mapping
 *   swapoff PATH                                  swapoff(2), with its own real/user/sys
 *   page CONTENT INDEX                            write one page of CONTENT to stdout
 *
 * Exit status: 0 ok, 1 system error, 2 usage, 3 data read back wrong.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/swap.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define WORDS_PER_PAGE (PAGE / 8)
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

static const uint64_t GOLDEN = 0x9E3779B97F4A7C15ULL;

/* The text dictionary of content.py: 16 short English words, each followed by a space. */
static const char *const DICT[16] = {
	"the", "of", "and", "to", "in", "is", "that", "it",
	"was", "for", "on", "are", "as", "with", "his", "they",
};

enum content { C_USEMEM, C_ZERO, C_RANDOM, C_TEXT, C_MIXED };

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static void die(const char *what)
{
	fprintf(stderr, "vswap-hostwl: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(const char *msg)
{
	fprintf(stderr, "vswap-hostwl: %s\n", msg);
	exit(2);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t parse_size(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	uint64_t mult = 1;

	if (end == s || v < 0)
		usage("bad size");
	switch (*end) {
	case 'k': case 'K': mult = 1ULL << 10; end++; break;
	case 'm': case 'M': mult = 1ULL << 20; end++; break;
	case 'g': case 'G': mult = 1ULL << 30; end++; break;
	case 't': case 'T': mult = 1ULL << 40; end++; break;
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end)
		usage("bad size suffix");
	return (uint64_t)(v * (double)mult);
}

static enum content parse_content(const char *s)
{
	if (!strcmp(s, "usemem")) return C_USEMEM;
	if (!strcmp(s, "zero")) return C_ZERO;
	if (!strcmp(s, "random")) return C_RANDOM;
	if (!strcmp(s, "text")) return C_TEXT;
	if (!strcmp(s, "mixed")) return C_MIXED;
	usage("content must be usemem, zero, random, text or mixed");
	return C_ZERO;
}

/* The class of page i: mixed cycles zero, random, text by i mod 3. */
static enum content page_class(enum content c, uint64_t i)
{
	if (c != C_MIXED)
		return c;
	return i % 3 == 0 ? C_ZERO : (i % 3 == 1 ? C_RANDOM : C_TEXT);
}

static void text_page(uint8_t *p, uint64_t i)
{
	static uint8_t buf[PAGE + 8];
	static uint64_t word8[16];
	static uint8_t len[16];
	size_t n = 0;
	uint64_t bits = 0;

	if (!len[0])
		for (int w = 0; w < 16; w++) {
			char padded[8] = "        ";

			len[w] = (uint8_t)(strlen(DICT[w]) + 1);
			memcpy(padded, DICT[w], len[w] - 1u);
			memcpy(&word8[w], padded, 8);
		}
	/* Word j of page i is nibble j % 16 of mix64((i * 256 + j / 16 + 1) * GOLDEN); each
	 * word is followed by one space; the page ends wherever the 4096th byte falls. Words
	 * are at most 4 letters, so an 8-byte store of the space-padded word covers it. */
	for (uint64_t j = 0; n < PAGE; j++) {
		unsigned w;

		if (j % 16 == 0)
			bits = mix64((i * 256 + j / 16 + 1) * GOLDEN);
		w = (unsigned)(bits >> (4 * (j % 16))) & 15;
		memcpy(buf + n, &word8[w], 8);
		n += len[w];
	}
	memcpy(p, buf, PAGE);
}

/* Page i's final content (a zero page's content is all zero). */
static void content_page(uint8_t *p, enum content c, uint64_t i)
{
	uint64_t *w = (uint64_t *)p;

	switch (page_class(c, i)) {
	case C_USEMEM:
		for (uint64_t k = 0; k < WORDS_PER_PAGE; k++)
			w[k] = i * WORDS_PER_PAGE + k;
		break;
	case C_ZERO:
		memset(p, 0, PAGE);
		break;
	case C_RANDOM:
		for (uint64_t k = 0; k < WORDS_PER_PAGE; k++)
			w[k] = mix64((i * WORDS_PER_PAGE + k + 1) * GOLDEN);
		break;
	default:
		text_page(p, i);
		break;
	}
}

/* Write page i of a region: a zero page gets data first and is then zeroed. */
static void write_page(uint8_t *dst, enum content c, uint64_t i)
{
	if (page_class(c, i) == C_ZERO) {
		text_page(dst, i);
		__asm__ __volatile__("" ::: "memory");
		memset(dst, 0, PAGE);
		return;
	}
	content_page(dst, c, i);
}

static uint64_t verify_pages(uint8_t *base, uint64_t npages, enum content c)
{
	static uint8_t want[PAGE] __attribute__((aligned(64)));
	uint64_t wrong = 0;

	for (uint64_t i = 0; i < npages; i++) {
		content_page(want, c, i);
		if (memcmp(base + i * PAGE, want, PAGE))
			wrong++;
	}
	return wrong;
}

static uint8_t *map_region(uint64_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	/* The model has no THP by default: keep 4 KiB pages whatever the host's setting. */
	madvise(p, size, MADV_NOHUGEPAGE);
	return p;
}

/* -- usemem ---------------------------------------------------------------------------- */

struct usemem_opts {
	uint64_t size;
	int nproc, nthread, random, repeat, sync_rw, sync_free, read_again;
	double sleep_s;
	pthread_barrier_t *ready, *freeb;
	uint64_t t0_ns;
};

static void out_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out_line(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* One write per line: lines of concurrent tasks never interleave in the pipe. */
	if (write(1, buf, (size_t)n) != n)
		die("write");
}

/* Print every row's Used of /proc/swaps: the runner's sampler may miss the instant
 * before a region is freed, which is when swap use peaks. */
static void swap_checkpoint(void)
{
	char line[512], path[400];
	unsigned long long size, used;
	FILE *f = fopen("/proc/swaps", "r");

	if (!f)
		return;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return;
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%399s %*s %llu %llu", path, &size, &used) == 3)
			out_line("swapsample %s %llu\n", path, used);
	fclose(f);
}

static uint64_t usemem_task(struct usemem_opts *o, unsigned seed)
{
	uint64_t size = o->size, nwords = size / 8, npages = (size + PAGE - 1) / PAGE;
	uint64_t wrong = 0, rw_bytes, t0, t1, delta_us;
	volatile uint64_t *vp;
	uint8_t *base;

	if (!o->sync_rw)
		pthread_barrier_wait(o->ready);
	t0 = now_ns();
	base = map_region(size);
	vp = (volatile uint64_t *)base;
	if (o->sync_rw)
		pthread_barrier_wait(o->ready);
	rw_bytes = size / 8;
	for (int rep = 0; rep < o->repeat; rep++) {
		if (o->random) {
			uint64_t x = (uint64_t)seed * GOLDEN + (uint64_t)rep;

			for (uint64_t v = 0; v < npages; v++) {
				uint64_t pg = mix64((x + v + 1) * GOLDEN) % npages;
				uint64_t end = (pg + 1) * WORDS_PER_PAGE;

				if (end > nwords)
					end = nwords;
				for (uint64_t idx = pg * WORDS_PER_PAGE; idx < end; idx++)
					vp[idx] = idx;
			}
		} else {
			for (uint64_t idx = 0; idx < nwords; idx++) {
				if (rep && vp[idx] != idx)
					wrong++;
				vp[idx] = idx;
			}
		}
		rw_bytes += size;
	}
	t1 = now_ns();
	delta_us = (t1 - t0) / 1000;
	if (!delta_us)
		delta_us = 1;
	out_line("%" PRIu64 " bytes / %" PRIu64 " usecs = %" PRIu64 " KB/s\n", rw_bytes,
		 delta_us, (uint64_t)(((rw_bytes * 1000000ULL) >> 10) / delta_us));
	if (o->read_again) {
		uint64_t r0 = now_ns(), d;

		for (uint64_t idx = 0; idx < nwords; idx++)
			if (vp[idx] != idx && !o->random)
				wrong++;
		d = (now_ns() - r0) / 1000;
		if (!d)
			d = 1;
		out_line("read again %" PRIu64 " bytes / %" PRIu64 " usecs = %" PRIu64 " KB/s\n",
			 size, d, (uint64_t)(((size * 1000000ULL) >> 10) / d));
	}
	if (o->sleep_s > 0)
		usleep((useconds_t)(o->sleep_s * 1e6));
	if (o->sync_free)
		pthread_barrier_wait(o->freeb);
	swap_checkpoint();
	t0 = now_ns();
	if (munmap(base, size))
		die("munmap");
	out_line("%" PRIu64 " usecs to free memory\n", (now_ns() - t0) / 1000);
	return wrong;
}

struct thread_arg {
	struct usemem_opts *o;
	unsigned seed;
	uint64_t wrong;
};

static void *usemem_thread(void *arg)
{
	struct thread_arg *a = arg;

	a->wrong = usemem_task(a->o, a->seed);
	return NULL;
}

static int run_usemem_process(struct usemem_opts *o, int p)
{
	uint64_t wrong = 0;

	if (!o->nthread) {
		wrong = usemem_task(o, (unsigned)p);
	} else {
		pthread_t th[o->nthread];
		struct thread_arg args[o->nthread];

		for (int t = 0; t < o->nthread; t++) {
			args[t] = (struct thread_arg){o, (unsigned)(p * o->nthread + t), 0};
			if (pthread_create(&th[t], NULL, usemem_thread, &args[t]))
				die("pthread_create");
		}
		for (int t = 0; t < o->nthread; t++) {
			pthread_join(th[t], NULL);
			wrong += args[t].wrong;
		}
	}
	if (wrong)
		out_line("Data wrong: %" PRIu64 " words\n", wrong);
	return wrong ? 3 : 0;
}

static int cmd_usemem(int argc, char **argv)
{
	struct usemem_opts o = {.nproc = 1, .repeat = 1};
	pthread_barrierattr_t attr;
	pthread_barrier_t *bars;
	int ntasks, status, rc = 0;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-n") && i + 1 < argc) o.nproc = atoi(argv[++i]);
		else if (!strcmp(a, "-t") && i + 1 < argc) o.nthread = atoi(argv[++i]);
		else if (!strcmp(a, "-r") && i + 1 < argc) o.repeat = atoi(argv[++i]);
		else if (!strcmp(a, "-s") && i + 1 < argc) o.sleep_s = atof(argv[++i]);
		else if (!strcmp(a, "-R")) o.random = 1;
		else if (!strcmp(a, "-y")) o.sync_rw = 1;
		else if (!strcmp(a, "-x")) o.sync_free = 1;
		else if (!strcmp(a, "-Z")) o.read_again = 1;
		else if (!strcmp(a, "-O") || !strcmp(a, "-w") || !strcmp(a, "--init-time")) ;
		else if (a[0] == '-') usage("usemem: unknown option");
		else o.size = parse_size(a) & ~7ULL;
	}
	if (!o.size || o.nproc < 1 || o.nthread < 0 || o.repeat < 1)
		usage("usemem: bad arguments");
	ntasks = o.nproc * (o.nthread ? o.nthread : 1);
	bars = mmap(NULL, 2 * sizeof(*bars), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		    -1, 0);
	if (bars == MAP_FAILED)
		die("mmap barrier");
	pthread_barrierattr_init(&attr);
	pthread_barrierattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_barrier_init(&bars[0], &attr, (unsigned)ntasks);
	pthread_barrier_init(&bars[1], &attr, (unsigned)ntasks);
	o.ready = &bars[0];
	o.freeb = &bars[1];
	for (int p = 0; p < o.nproc; p++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (!pid)
			_exit(run_usemem_process(&o, p));
	}
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			rc = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	return rc;
}

/* -- pattern, pageout ------------------------------------------------------------------- */

struct region_args {
	uint64_t size, chunk, stride;
	enum content content;
	int passes;
};

static void parse_region_args(int argc, char **argv, struct region_args *r)
{
	r->passes = 1;
	r->chunk = 16 * PAGE;
	r->stride = 512 * PAGE;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--size") && i + 1 < argc) r->size = parse_size(argv[++i]);
		else if (!strcmp(argv[i], "--content") && i + 1 < argc)
			r->content = parse_content(argv[++i]);
		else if (!strcmp(argv[i], "--passes") && i + 1 < argc) r->passes = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--chunk") && i + 1 < argc) r->chunk = parse_size(argv[++i]);
		else if (!strcmp(argv[i], "--stride") && i + 1 < argc)
			r->stride = parse_size(argv[++i]);
		else usage("unknown option");
	}
	r->size -= r->size % PAGE;
	r->chunk -= r->chunk % PAGE;
	if (!r->size || r->passes < 1 || !r->chunk || !r->stride)
		usage("bad --size, --passes, --chunk or --stride");
}

static int cmd_pattern(int argc, char **argv)
{
	struct region_args r = {.content = C_TEXT};
	uint64_t npages, wrong_total = 0;
	uint8_t *base;

	parse_region_args(argc, argv, &r);
	npages = r.size / PAGE;
	base = map_region(r.size);
	for (int pass = 0; pass < r.passes; pass++) {
		uint64_t t0 = now_ns(), t1, t2, wrong;

		for (uint64_t i = 0; i < npages; i++)
			write_page(base + i * PAGE, r.content, i);
		t1 = now_ns();
		swap_checkpoint();
		wrong = verify_pages(base, npages, r.content);
		t2 = now_ns();
		wrong_total += wrong;
		out_line("pattern pass %d: wrote %" PRIu64 " pages in %" PRIu64 " usecs, verified "
			 "in %" PRIu64 " usecs, %" PRIu64 " wrong\n", pass + 1, npages,
			 (t1 - t0) / 1000, (t2 - t1) / 1000, wrong);
	}
	{
		uint64_t t0 = now_ns();

		munmap(base, r.size);
		out_line("%" PRIu64 " usecs to free memory\n", (now_ns() - t0) / 1000);
	}
	return wrong_total ? 3 : 0;
}

static int cmd_pageout(int argc, char **argv)
{
	struct region_args r = {.content = C_TEXT};
	uint64_t npages, wrong, t0, t1, t2, t3;
	uint8_t *base;

	parse_region_args(argc, argv, &r);
	npages = r.size / PAGE;
	base = map_region(r.size);
	t0 = now_ns();
	for (uint64_t i = 0; i < npages; i++)
		write_page(base + i * PAGE, r.content, i);
	t1 = now_ns();
	if (madvise(base, r.size, MADV_PAGEOUT))
		die("madvise(MADV_PAGEOUT)");
	t2 = now_ns();
	swap_checkpoint();
	wrong = verify_pages(base, npages, r.content);
	t3 = now_ns();
	out_line("pageout: wrote %" PRIu64 " pages in %" PRIu64 " usecs, MADV_PAGEOUT in %" PRIu64
		 " usecs, touched back in %" PRIu64 " usecs, %" PRIu64 " wrong\n", npages,
		 (t1 - t0) / 1000, (t2 - t1) / 1000, (t3 - t2) / 1000, wrong);
	t0 = now_ns();
	munmap(base, r.size);
	out_line("%" PRIu64 " usecs to free memory\n", (now_ns() - t0) / 1000);
	return wrong ? 3 : 0;
}

/* -- the swapoff run's tasks ------------------------------------------------------------ */

static void wait_for_go(void)
{
	char line[16];

	out_line("ready\n");
	if (!fgets(line, sizeof(line), stdin))
		usage("stdin closed before the go line");
}

static int cmd_fill(int argc, char **argv)
{
	struct region_args r = {.content = C_USEMEM};
	uint64_t npages, wrong;
	uint8_t *base;

	parse_region_args(argc, argv, &r);
	npages = r.size / PAGE;
	base = map_region(r.size);
	for (uint64_t off = 0; off < r.size; off += r.chunk) {
		uint64_t len = r.size - off < r.chunk ? r.size - off : r.chunk;

		for (uint64_t i = off / PAGE; i < (off + len) / PAGE; i++)
			write_page(base + i * PAGE, r.content, i);
		if (madvise(base + off, len, MADV_PAGEOUT))
			die("madvise(MADV_PAGEOUT)");
	}
	swap_checkpoint();
	wait_for_go();
	wrong = verify_pages(base, npages, r.content);
	out_line("verified %" PRIu64 " pages, %" PRIu64 " wrong\n", npages, wrong);
	return wrong ? 3 : 0;
}

static int cmd_map(int argc, char **argv)
{
	struct region_args r = {.content = C_USEMEM};
	uint8_t *base;

	parse_region_args(argc, argv, &r);
	base = map_region(r.size);
	for (uint64_t off = 0; off < r.size; off += r.stride)
		memset(base + off, 1, 8);
	wait_for_go();
	return 0;
}

static uint64_t tv_ns(struct timeval tv)
{
	return (uint64_t)tv.tv_sec * 1000000000ULL + (uint64_t)tv.tv_usec * 1000ULL;
}

static int cmd_swapoff(int argc, char **argv)
{
	struct rusage ru0, ru1;
	uint64_t t0, t1;
	int rc, err;

	if (argc != 2)
		usage("swapoff PATH");
	getrusage(RUSAGE_SELF, &ru0);
	t0 = now_ns();
	rc = swapoff(argv[1]);
	err = errno;
	t1 = now_ns();
	getrusage(RUSAGE_SELF, &ru1);
	out_line("swapoff rc=%d errno=%d real_ns=%" PRIu64 " user_ns=%" PRIu64 " sys_ns=%" PRIu64
		 "\n", rc, rc ? err : 0, t1 - t0, tv_ns(ru1.ru_utime) - tv_ns(ru0.ru_utime),
		 tv_ns(ru1.ru_stime) - tv_ns(ru0.ru_stime));
	return rc ? 1 : 0;
}

static int cmd_page(int argc, char **argv)
{
	static uint8_t p[PAGE];
	enum content c;

	if (argc != 3)
		usage("page CONTENT INDEX");
	c = parse_content(argv[1]);
	content_page(p, c, strtoull(argv[2], NULL, 10));
	if (fwrite(p, 1, PAGE, stdout) != PAGE)
		die("write");
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 2)
		usage("usage: vswap-hostwl usemem|pattern|pageout|fill|map|swapoff|page ...");
	if (!strcmp(argv[1], "usemem")) return cmd_usemem(argc - 1, argv + 1);
	if (!strcmp(argv[1], "pattern")) return cmd_pattern(argc - 1, argv + 1);
	if (!strcmp(argv[1], "pageout")) return cmd_pageout(argc - 1, argv + 1);
	if (!strcmp(argv[1], "fill")) return cmd_fill(argc - 1, argv + 1);
	if (!strcmp(argv[1], "map")) return cmd_map(argc - 1, argv + 1);
	if (!strcmp(argv[1], "swapoff")) return cmd_swapoff(argc - 1, argv + 1);
	if (!strcmp(argv[1], "page")) return cmd_page(argc - 1, argv + 1);
	usage("unknown mode");
	return 2;
}
