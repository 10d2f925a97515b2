/* vf_jobs.c - the job runner: data-parallel loops over [0, n) on this thread and threads started for
 * the loop, each started on a CPU other than its creator's (see place_away). A loop's threads are
 * as many as vf_parallel_ranges says pay: the CPUs this process may run on (its affinity mask, so
 * taskset and cpusets count), fewer for small loops. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "vf_common_internal.h"

size_t vf_parallel_ranges(size_t n, size_t min_per_range)
{
    cpu_set_t set;
    long cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : sysconf(_SC_NPROCESSORS_ONLN);
    size_t k = cpus < 1 ? 1 : cpus > VF_PARALLEL_MAX ? VF_PARALLEL_MAX : (size_t)cpus;
    size_t by_size = min_per_range ? n / min_per_range : n;
    if (k > by_size)
        k = by_size ? by_size : 1;
    return k;
}

/* ---- one loop ---------------------------------------------------------------------------------- */

typedef struct jobs {
    int (*job)(void *ctx, size_t worker, size_t i, vf_error *err);
    void *ctx;
    size_t n;
    atomic_size_t next;   /* the next job to take */
    atomic_size_t failed; /* the lowest failed job so far, n while none */
} jobs;

typedef struct jobs_worker {
    jobs *j;
    size_t index;  /* the worker's number, 0 for the calling thread */
    size_t failed; /* the lowest job this worker saw fail, j->n when none */
    int rc;        /* its status */
    vf_error err;  /* its error */
} jobs_worker;

/* Takes jobs in index order until none is left or every one left is above a known failure (a
 * sequential loop would have stopped before it). */
static void jobs_work(jobs_worker *w)
{
    jobs *j = w->j;
    for (size_t i; (i = atomic_fetch_add(&j->next, 1)) < j->n && i < atomic_load(&j->failed);) {
        vf_error e = {0};
        int rc = j->job(j->ctx, w->index, i, &e);
        if (rc == VF_OK || i >= w->failed)
            continue;
        w->failed = i;
        w->rc = rc;
        w->err = e;
        for (size_t cur = atomic_load(&j->failed); i < cur;)
            if (atomic_compare_exchange_weak(&j->failed, &cur, i))
                break;
    }
}

/* ---- placement ------------------------------------------------------------------------------- */

typedef struct placement {
    cpu_set_t all;  /* the CPUs this process may use */
    cpu_set_t away; /* those but the creating thread's */
    bool placed;    /* away is set on the threads' attributes */
} placement;

/* Asks that the loop's threads start on CPUs other than this thread's, when there are any: the
 * kernel often queues a new thread on its creator's CPU, the busiest one, where it waits until the
 * next balancing (1-4 ms, longer than most loops); each thread widens its mask back to all once it
 * runs. */
static void place_away(placement *p, pthread_attr_t *attr)
{
    int here = sched_getcpu();
    p->placed = false;
    if (here < 0 || here >= CPU_SETSIZE || sched_getaffinity(0, sizeof p->all, &p->all) != 0)
        return;
    p->away = p->all;
    CPU_CLR(here, &p->away);
    p->placed = CPU_COUNT(&p->away) > 0 && pthread_attr_setaffinity_np(attr, sizeof p->away, &p->away) == 0;
}

typedef struct thread_start {
    jobs_worker *w;
    const placement *p;
    bool placed; /* started with p->away: widens its mask to p->all */
} thread_start;

static void *jobs_thread(void *arg)
{
    const thread_start *s = arg;
    if (s->placed)
        (void)pthread_setaffinity_np(pthread_self(), sizeof s->p->all, &s->p->all);
    jobs_work(s->w);
    return NULL;
}

/* Runs w[0..threads) on this thread and threads started for this loop; a worker whose thread cannot
 * start does nothing (the others take its jobs). */
static void threads_run(jobs_worker *w, size_t threads)
{
    pthread_t tid[VF_PARALLEL_MAX];
    thread_start start[VF_PARALLEL_MAX];
    placement p = {.placed = false};
    pthread_attr_t attr;
    bool has_attr = pthread_attr_init(&attr) == 0;
    if (has_attr)
        place_away(&p, &attr);
    size_t started = 1;
    bool place = p.placed; /* only with attr */
    for (; started < threads; started++) {
        start[started] = (thread_start){&w[started], &p, place};
        if (place && pthread_create(&tid[started], &attr, jobs_thread, &start[started]) == 0)
            continue;
        start[started].placed = place = false; /* the placement refused: this one and the rest anywhere */
        if (pthread_create(&tid[started], NULL, jobs_thread, &start[started]) != 0)
            break;
    }
    if (has_attr)
        pthread_attr_destroy(&attr);
    jobs_work(&w[0]);
    for (size_t t = 1; t < started; t++)
        pthread_join(tid[t], NULL);
}

int vf_jobs_run(size_t n, size_t threads, int (*job)(void *ctx, size_t worker, size_t i, vf_error *err),
                void *ctx, vf_error *err)
{
    jobs j = {.job = job, .ctx = ctx, .n = n};
    atomic_init(&j.next, 0);
    atomic_init(&j.failed, n);
    jobs_worker w[VF_PARALLEL_MAX];
    if (threads < 1)
        threads = 1;
    if (threads > VF_PARALLEL_MAX)
        threads = VF_PARALLEL_MAX;
    if (threads > n)
        threads = n ? n : 1;
    for (size_t t = 0; t < threads; t++)
        w[t] = (jobs_worker){.j = &j, .index = t, .failed = n};
    if (threads == 1)
        jobs_work(&w[0]);
    else
        threads_run(w, threads);
    size_t worst = 0;
    for (size_t t = 1; t < threads; t++)
        if (w[t].failed < w[worst].failed) /* a worker that did not run saw no failure */
            worst = t;
    if (w[worst].failed == n)
        return VF_OK;
    if (err)
        *err = w[worst].err;
    return w[worst].rc;
}

/* ---- fixed ranges and largest-first ------------------------------------------------------------ */

typedef struct ranges {
    void *(*run)(void *);
    unsigned char *args;
    size_t arg_size;
} ranges;

static int range_job(void *ctx, size_t worker, size_t i, vf_error *err)
{
    const ranges *r = ctx;
    (void)worker, (void)err;
    r->run(r->args + i * r->arg_size);
    return VF_OK;
}

void vf_parallel_run(void *(*run)(void *), void *args, size_t arg_size, size_t k)
{
    ranges r = {run, args, arg_size};
    (void)vf_jobs_run(k, k, range_job, &r, NULL);
}

typedef struct sized {
    uint64_t size;
    size_t index;
} sized;

static int cmp_size_desc(const void *a, const void *b)
{
    const sized *x = a, *y = b;
    return x->size < y->size ? 1 : x->size > y->size ? -1 : (x->index > y->index) - (x->index < y->index);
}

typedef struct largest_worker {
    const sized *order;
    size_t n, *next, worker;
    void (*job)(void *ctx, size_t worker, size_t i);
    void *ctx;
} largest_worker;

static void *largest_worker_main(void *arg)
{
    largest_worker *w = arg;
    for (size_t k; (k = __atomic_fetch_add(w->next, 1, __ATOMIC_RELAXED)) < w->n;)
        w->job(w->ctx, w->worker, w->order[k].index);
    return NULL;
}

int vf_run_largest_first(size_t n, size_t threads, uint64_t (*size_of)(void *ctx, size_t i),
                         void (*job)(void *ctx, size_t worker, size_t i), void *ctx)
{
    sized *order = malloc((n ? n : 1) * sizeof *order);
    if (!order)
        return VF_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        order[i] = (sized){size_of(ctx, i), i};
    qsort(order, n, sizeof *order, cmp_size_desc);
    size_t k = threads == 0 ? 1 : threads > VF_PARALLEL_MAX ? VF_PARALLEL_MAX : threads, next = 0;
    largest_worker ws[VF_PARALLEL_MAX];
    for (size_t i = 0; i < k; i++)
        ws[i] = (largest_worker){order, n, &next, i, job, ctx};
    vf_parallel_run(largest_worker_main, ws, sizeof *ws, k);
    free(order);
    return VF_OK;
}
