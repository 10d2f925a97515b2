/* faults.c - what fresh memory costs on this machine: the first write to each page of MIB MiB of
 * anonymous memory, in 4 KiB pages and in transparent huge pages (madvise), ROUNDS rounds each,
 * alternating. Prints the median milliseconds per MiB of each as "4k MS_PER_MIB thp MS_PER_MIB".
 * On a virtual machine whose host backs guest memory lazily a page fault can cost far more than
 * zeroing the page; every MiB a command touches for the first time is then paid at this rate (the
 * I/O floor, bench/floor.c, touches only its index buffer).
 *
 *     faults [MIB (default 8)] [ROUNDS (default 7)]
 *
 * A benchmark program, not part of vramfit: built by bench/run.sh with the system compiler. */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define HUGE_PAGE ((size_t)2 << 20)
#define MAX_ROUNDS 99

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Milliseconds to write one byte of each 4 KiB page of n fresh bytes; < 0 when mmap fails. */
static double touch_ms(size_t n, int huge)
{
    size_t span = n + HUGE_PAGE; /* room to align the start to a huge page */
    unsigned char *map = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED)
        return -1;
    unsigned char *p = map + ((HUGE_PAGE - (size_t)((unsigned long)map % HUGE_PAGE)) % HUGE_PAGE);
#ifdef MADV_HUGEPAGE
    (void)madvise(p, n, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
#else
    (void)huge;
#endif
    double t0 = now_ms();
    for (size_t i = 0; i < n; i += 4096)
        p[i] = 1;
    double t = now_ms() - t0;
    munmap(map, span);
    return t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    long mib = argc > 1 ? strtol(argv[1], NULL, 10) : 8, rounds = argc > 2 ? strtol(argv[2], NULL, 10) : 7;
    if (mib < 2 || mib > 1024 || rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "usage: faults [MIB 2..1024] [ROUNDS 1..%d]\n", MAX_ROUNDS);
        return 2;
    }
    size_t n = (size_t)mib << 20;
    double small[MAX_ROUNDS], huge[MAX_ROUNDS];
    for (long r = 0; r < rounds; r++) {
        small[r] = touch_ms(n, 0);
        huge[r] = touch_ms(n, 1);
        if (small[r] < 0 || huge[r] < 0) {
            fprintf(stderr, "faults: mmap of %ld MiB failed\n", mib);
            return 1;
        }
    }
    qsort(small, (size_t)rounds, sizeof *small, cmp_double);
    qsort(huge, (size_t)rounds, sizeof *huge, cmp_double);
    printf("4k %.3f thp %.3f\n", small[rounds / 2] / (double)mib, huge[rounds / 2] / (double)mib);
    return 0;
}
