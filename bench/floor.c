/* floor.c - the I/O floor of `vramfit inspect` on a checkpoint directory: the system calls the job
 * cannot avoid and nothing else. Reads model.safetensors.index.json whole (when present), then on
 * THREADS threads (default 2) opens every *.safetensors file of the directory, reads its 8-byte
 * length and that many header bytes into one buffer per thread, and closes it. No parsing, no
 * checks beyond what reading needs. Prints the files and header bytes read (so the caller can check
 * it did the same job) as "FILES HEADER_BYTES".
 *
 *     floor DIR [THREADS]
 *
 * A benchmark program, not part of vramfit: built by bench/run.sh with the system compiler. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_THREADS 16
#define MAX_HEADER ((uint64_t)100000000) /* the safetensors limit */

typedef struct job {
    int dir;
    char **names;
    size_t n;
    atomic_size_t next;
} job;

typedef struct worker {
    job *j;
    uint8_t *buf;
    size_t cap;
    uint64_t bytes;
    size_t files;
    int failed;
} worker;

/* Reads len bytes at off in full; 0 on success. */
static int read_full(int fd, uint8_t *p, size_t len, off_t off)
{
    while (len) {
        ssize_t r = pread(fd, p, len, off);
        if (r <= 0)
            return -1;
        p += r, len -= (size_t)r, off += r;
    }
    return 0;
}

static int read_one(worker *w, const char *name)
{
    int fd = openat(w->j->dir, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    uint8_t prefix[8];
    int rc = read_full(fd, prefix, 8, 0);
    uint64_t n = 0;
    for (int i = 7; rc == 0 && i >= 0; i--)
        n = n << 8 | prefix[i];
    if (rc == 0 && n > MAX_HEADER)
        rc = -1;
    if (rc == 0 && n > w->cap) {
        free(w->buf);
        w->cap = (size_t)n;
        w->buf = malloc(w->cap);
        rc = w->buf ? 0 : -1;
    }
    if (rc == 0)
        rc = read_full(fd, w->buf, (size_t)n, 8);
    close(fd);
    if (rc == 0) {
        w->bytes += n;
        w->files++;
    }
    return rc;
}

static void *run(void *arg)
{
    worker *w = arg;
    for (size_t i; (i = atomic_fetch_add(&w->j->next, 1)) < w->j->n;)
        if (read_one(w, w->j->names[i]) != 0)
            w->failed = 1;
    return NULL;
}

static int is_shard(const char *name)
{
    size_t n = strlen(name), m = strlen(".safetensors");
    return name[0] != '.' && n > m && strcmp(name + n - m, ".safetensors") == 0;
}

/* The index read whole, as vramfit reads it (its bytes are not looked at). */
static long read_index(int dir)
{
    int fd = openat(dir, "model.safetensors.index.json", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    off_t size = lseek(fd, 0, SEEK_END);
    uint8_t *buf = size > 0 ? malloc((size_t)size) : NULL;
    long got = buf && read_full(fd, buf, (size_t)size, 0) == 0 ? (long)size : -1;
    free(buf);
    close(fd);
    return got;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: floor DIR [THREADS]\n");
        return 2;
    }
    size_t threads = argc == 3 ? (size_t)strtoul(argv[2], NULL, 10) : 2;
    if (threads < 1 || threads > MAX_THREADS)
        threads = 2;
    DIR *d = opendir(argv[1]);
    if (!d) {
        perror(argv[1]);
        return 3;
    }
    job j = {.dir = dirfd(d)};
    size_t cap = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (!is_shard(de->d_name))
            continue;
        if (j.n == cap) {
            cap = cap ? 2 * cap : 256;
            char **nn = realloc(j.names, cap * sizeof *nn);
            if (!nn)
                return 1;
            j.names = nn;
        }
        if (!(j.names[j.n++] = strdup(de->d_name)))
            return 1;
    }
    atomic_init(&j.next, 0);
    worker w[MAX_THREADS] = {{0}};
    pthread_t tid[MAX_THREADS];
    for (size_t t = 0; t < threads; t++)
        w[t].j = &j;
    for (size_t t = 1; t < threads; t++)
        if (pthread_create(&tid[t], NULL, run, &w[t]) != 0)
            return 1;
    long index = read_index(j.dir); /* on this thread, while the others read shards */
    run(&w[0]);
    uint64_t bytes = 0;
    size_t files = 0;
    int failed = index < 0;
    for (size_t t = 0; t < threads; t++) {
        if (t)
            pthread_join(tid[t], NULL);
        bytes += w[t].bytes;
        files += w[t].files;
        failed |= w[t].failed;
        free(w[t].buf);
    }
    for (size_t i = 0; i < j.n; i++)
        free(j.names[i]);
    free(j.names);
    closedir(d);
    if (failed) {
        fprintf(stderr, "floor: a file could not be read\n");
        return 3;
    }
    printf("%zu %llu\n", files, (unsigned long long)bytes);
    return 0;
}
