#define _XOPEN_SOURCE 700
#include "vf_test_support.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *slurp_fd(int fd, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert_not_null(buf);
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Sets up the child's stdout as o asks (fo: the capture file). */
static void child_stdout(const vft_opts *o, int fo)
{
    int p[2];
    switch (o ? o->out : VFT_OUT_CAPTURE) {
    case VFT_OUT_CLOSED:
        close(1);
        break;
    case VFT_OUT_FULL:
        if ((p[0] = open("/dev/full", O_WRONLY)) >= 0)
            dup2(p[0], 1);
        break;
    case VFT_OUT_BROKEN_PIPE: /* a pipe whose reader has already gone */
        if (pipe(p) == 0) {
            close(p[0]);
            dup2(p[1], 1);
        }
        break;
    default:
        dup2(fo, 1);
    }
}

vft_run vft_exec_opts(const char *const *argv, const vft_opts *o)
{
    char tmpl_out[] = "/tmp/vft_outXXXXXX", tmpl_err[] = "/tmp/vft_errXXXXXX";
    int fo = mkstemp(tmpl_out), fe = mkstemp(tmpl_err);
    cr_assert(fo >= 0 && fe >= 0);
    unlink(tmpl_out);
    unlink(tmpl_err);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        child_stdout(o, fo);
        dup2(fe, 2);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        for (const char *const *e = o ? o->env : NULL; e && *e; e++)
            putenv((char *)*e);
        if (o && o->timeout_s)
            alarm(o->timeout_s); /* survives exec: a child that hangs dies of SIGALRM */
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    vft_run r = {0};
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    lseek(fo, 0, SEEK_SET);
    lseek(fe, 0, SEEK_SET);
    r.out = slurp_fd(fo, &r.out_len);
    r.err = slurp_fd(fe, &r.err_len);
    close(fo);
    close(fe);
    return r;
}

vft_run vft_exec(const char *const *argv, const char *const *env)
{
    vft_opts o = {.env = env};
    return vft_exec_opts(argv, &o);
}

vft_run vft_cli_opts(const vft_opts *o, const char *const *args)
{
    const char *argv[64];
    size_t n = 0;
    argv[n++] = VF_CLI;
    for (; args && *args && n < 63; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    return vft_exec_opts(argv, o);
}

vft_run vft_cli(const char *arg0, ...)
{
    const char *argv[64];
    size_t n = 0;
    /* VFT_VALGRIND=1: every CLI run goes through memcheck; any error fails the test (exit 99). */
    const char *vg = getenv("VFT_VALGRIND");
    if (vg && *vg && strcmp(vg, "0") != 0) {
        static const char *const pre[] = {"/usr/bin/valgrind", "-q", "--error-exitcode=99",
                                          "--leak-check=full", "--errors-for-leak-kinds=definite,indirect"};
        for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++)
            argv[n++] = pre[i];
    }
    argv[n++] = VF_CLI;
    va_list ap;
    va_start(ap, arg0);
    for (const char *a = arg0; a && n < 63; a = va_arg(ap, const char *))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return vft_exec(argv, NULL);
}

void vft_run_free(vft_run *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

char *vft_tempdir(void)
{
    const char *base = getenv("TMPDIR");
    char *tmpl = vft_path(base && *base ? base : "/tmp", "vftXXXXXX");
    cr_assert_not_null(mkdtemp(tmpl));
    return tmpl;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

void vft_rmtree(const char *path)
{
    if (path)
        nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void vft_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

char *vft_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    size_t n = 0;
    char *s = slurp_fd(fd, &n);
    close(fd);
    if (len)
        *len = n;
    return s;
}

char *vft_path(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    cr_assert_not_null(p);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

uint8_t *vft_st_image(const char *header, uint64_t data_len, size_t *len)
{
    size_t hl = strlen(header);
    size_t total = 8 + hl + (size_t)data_len;
    uint8_t *buf = calloc(1, total ? total : 1);
    cr_assert_not_null(buf);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, header, hl);
    *len = total;
    return buf;
}

char *vft_gen(const char *name)
{
    return vft_path(VF_GEN_DIR, name);
}
