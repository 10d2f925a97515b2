/* test_jobs.c - the job runner (parser/common/vf_jobs.c): every job runs exactly once, worker numbers
 * stay below the thread count, the result is that of a sequential loop stopping at the first failure,
 * loops run back to back and from several threads at once, and the thread count follows the CPUs this
 * process may use (its affinity mask), not the machine's. */
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "vf_common_internal.h"

#define JOBS 5000

typedef struct tally {
    atomic_uint runs[JOBS];
    atomic_uint by_worker[VF_PARALLEL_MAX];
    size_t threads;
    size_t fail_from; /* jobs >= this fail (JOBS: none) */
    atomic_bool bad_worker;
} tally;

static int count_job(void *ctx, size_t worker, size_t i, vf_error *err)
{
    tally *t = ctx;
    if (worker >= t->threads)
        atomic_store(&t->bad_worker, true);
    else
        atomic_fetch_add(&t->by_worker[worker], 1);
    atomic_fetch_add(&t->runs[i], 1);
    if (i >= t->fail_from)
        return vf_error_set(err, VF_ERR_IO, "job", NULL, "job %zu failed", i);
    return VF_OK;
}

static tally *new_tally(size_t threads, size_t fail_from)
{
    tally *t = calloc(1, sizeof *t);
    cr_assert_not_null(t);
    t->threads = threads;
    t->fail_from = fail_from;
    return t;
}

Test(jobs, every_job_runs_once_on_a_worker_below_the_thread_count)
{
    for (size_t threads = 1; threads <= VF_PARALLEL_MAX; threads++) {
        tally *t = new_tally(threads, JOBS);
        cr_assert_eq(vf_jobs_run(JOBS, threads, count_job, t, NULL), VF_OK);
        unsigned total = 0;
        for (size_t i = 0; i < JOBS; i++)
            cr_assert_eq(atomic_load(&t->runs[i]), 1, "threads %zu: job %zu ran %u times", threads, i,
                         atomic_load(&t->runs[i]));
        for (size_t w = 0; w < VF_PARALLEL_MAX; w++)
            total += atomic_load(&t->by_worker[w]);
        cr_assert_eq(total, JOBS);
        cr_assert(!atomic_load(&t->bad_worker), "threads %zu: a worker number out of range", threads);
        free(t);
    }
}

Test(jobs, the_lowest_failure_is_the_result_and_nothing_above_it_starts_after_it)
{
    for (size_t threads = 1; threads <= 4; threads++) {
        tally *t = new_tally(threads, 1234);
        vf_error err = {0};
        cr_assert_eq(vf_jobs_run(JOBS, threads, count_job, t, &err), VF_ERR_IO);
        cr_assert_str_eq(err.message, "job 1234 failed");
        for (size_t i = 0; i <= 1234; i++)
            cr_assert_eq(atomic_load(&t->runs[i]), 1, "threads %zu: job %zu below the failure", threads, i);
        size_t above = 0;
        for (size_t i = 1235; i < JOBS; i++)
            above += atomic_load(&t->runs[i]);
        cr_assert_lt(above, 64 * threads, "threads %zu: %zu jobs above the failure ran", threads, above);
        free(t);
    }
}

Test(jobs, no_jobs_and_more_threads_than_jobs)
{
    tally *t = new_tally(VF_PARALLEL_MAX, JOBS);
    cr_assert_eq(vf_jobs_run(0, VF_PARALLEL_MAX, count_job, t, NULL), VF_OK);
    cr_assert_eq(vf_jobs_run(3, VF_PARALLEL_MAX, count_job, t, NULL), VF_OK);
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(atomic_load(&t->runs[i]), 1);
    cr_assert_eq(atomic_load(&t->runs[3]), 0);
    free(t);
}

static void *loops_in_a_thread(void *arg)
{
    for (int k = 0; k < 20; k++) {
        tally *t = new_tally(4, JOBS);
        if (vf_jobs_run(JOBS, 4, count_job, t, NULL) != VF_OK)
            *(bool *)arg = false;
        for (size_t i = 0; i < JOBS; i++)
            if (atomic_load(&t->runs[i]) != 1)
                *(bool *)arg = false;
        free(t);
    }
    return NULL;
}

Test(jobs, loops_from_several_threads_at_once_each_run_every_job_once)
{
    pthread_t tid[3];
    bool ok[3] = {true, true, true};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(pthread_create(&tid[i], NULL, loops_in_a_thread, &ok[i]), 0);
    for (int i = 0; i < 3; i++) {
        pthread_join(tid[i], NULL);
        cr_assert(ok[i], "caller %d saw a job skipped or repeated", i);
    }
}

typedef struct nested {
    atomic_uint inner_runs;
} nested;

static int inner_job(void *ctx, size_t worker, size_t i, vf_error *err)
{
    (void)worker, (void)i, (void)err;
    atomic_fetch_add(&((nested *)ctx)->inner_runs, 1);
    return VF_OK;
}

static int outer_job(void *ctx, size_t worker, size_t i, vf_error *err)
{
    (void)worker, (void)i;
    return vf_jobs_run(100, 2, inner_job, ctx, err);
}

Test(jobs, a_job_may_run_a_loop_of_its_own)
{
    nested n = {0};
    cr_assert_eq(vf_jobs_run(8, 2, outer_job, &n, NULL), VF_OK);
    cr_assert_eq(atomic_load(&n.inner_runs), 800);
}

Test(jobs, the_thread_count_follows_the_affinity_mask)
{
    cpu_set_t all, one;
    cr_assert_eq(sched_getaffinity(0, sizeof all, &all), 0);
    cr_assert_eq(vf_parallel_ranges(1000, 1),
                 (size_t)CPU_COUNT(&all) < VF_PARALLEL_MAX ? (size_t)CPU_COUNT(&all) : VF_PARALLEL_MAX);
    cr_assert_eq(vf_parallel_ranges(10, 4), 2 < CPU_COUNT(&all) ? 2 : (size_t)CPU_COUNT(&all),
                 "no range smaller than min_per_range");
    cr_assert_eq(vf_parallel_ranges(3, 4), 1);
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &all)) {
            CPU_SET(c, &one);
            break;
        }
    cr_assert_eq(sched_setaffinity(0, sizeof one, &one), 0);
    size_t k = vf_parallel_ranges(1000, 1);
    tally *t = new_tally(4, JOBS);
    int rc = vf_jobs_run(JOBS, 4, count_job, t, NULL); /* more threads than CPUs: still every job once */
    cr_assert_eq(sched_setaffinity(0, sizeof all, &all), 0);
    cr_assert_eq(k, 1, "one CPU allowed, %zu ranges", k);
    cr_assert_eq(rc, VF_OK);
    for (size_t i = 0; i < JOBS; i++)
        cr_assert_eq(atomic_load(&t->runs[i]), 1);
    free(t);
}

typedef struct masks {
    cpu_set_t seen[VF_PARALLEL_MAX];
    atomic_bool got[VF_PARALLEL_MAX];
} masks;

static int record_mask(void *ctx, size_t worker, size_t i, vf_error *err)
{
    masks *m = ctx;
    (void)i, (void)err;
    if (!atomic_exchange(&m->got[worker], true))
        (void)sched_getaffinity(0, sizeof m->seen[worker], &m->seen[worker]);
    for (volatile int spin = 0; spin < 20000; spin++) /* long enough for every thread to take one */
        ;
    return VF_OK;
}

/* A loop's threads start away from their creator's CPU but run with the process's whole mask: the
 * placement is a start, not a pin. */
Test(jobs, loop_threads_run_with_the_whole_affinity_mask)
{
    cpu_set_t all;
    cr_assert_eq(sched_getaffinity(0, sizeof all, &all), 0);
    masks *m = calloc(1, sizeof *m);
    cr_assert_not_null(m);
    cr_assert_eq(vf_jobs_run(64, 2, record_mask, m, NULL), VF_OK);
    for (size_t w = 0; w < 2; w++)
        if (atomic_load(&m->got[w]))
            cr_expect(CPU_EQUAL(&m->seen[w], &all), "worker %zu runs with %d of the %d CPUs", w,
                      CPU_COUNT(&m->seen[w]), CPU_COUNT(&all));
    free(m);
}
