/* vf_test_support.h - helpers shared by the Criterion tests: temp dirs, files, running the CLI. */
#ifndef VF_TEST_SUPPORT_H
#define VF_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/* Output of one child process. Free with vft_run_free. */
typedef struct vft_run {
    int status;   /* exit code, or 128+signal when killed */
    char *out;    /* stdout, NUL-terminated */
    size_t out_len;
    char *err;    /* stderr, NUL-terminated */
    size_t err_len;
} vft_run;

/* Runs argv (argv[0] a path) with optional extra environment "K=V" entries (NULL-terminated list or
 * NULL), capturing stdout and stderr. Aborts the test on a setup failure. */
vft_run vft_exec(const char *const *argv, const char *const *env);
/* How a child runs: extra environment (NULL-terminated "K=V" list or NULL), what its stdout is, and
 * a timeout in seconds (0: none) after which it dies of SIGALRM (status 128 + 14), so that a test of
 * something that must not block fails instead of hanging. */
typedef enum vft_out {
    VFT_OUT_CAPTURE,     /* captured into vft_run.out */
    VFT_OUT_CLOSED,      /* fd 1 closed */
    VFT_OUT_FULL,        /* /dev/full: every write is ENOSPC */
    VFT_OUT_BROKEN_PIPE, /* a pipe whose read end is closed: EPIPE (or SIGPIPE) */
} vft_out;
typedef struct vft_opts {
    const char *const *env;
    vft_out out;
    unsigned timeout_s;
} vft_opts;
vft_run vft_exec_opts(const char *const *argv, const vft_opts *o);
/* The vramfit CLI with args (NULL-terminated array), run as o says. */
vft_run vft_cli_opts(const vft_opts *o, const char *const *args);
/* Runs the vramfit CLI with the given arguments (NULL-terminated); under memcheck when the
 * environment has VFT_VALGRIND=1. */
vft_run vft_cli(const char *arg0, ...);
void vft_run_free(vft_run *r);

/* Fresh directory under $TMPDIR (or /tmp); caller frees the string; removed by vft_rmtree. */
char *vft_tempdir(void);
void vft_rmtree(const char *path);
/* Writes len bytes to path (creating or truncating). */
void vft_write_file(const char *path, const void *data, size_t len);
/* Reads a whole file; *len set; NUL-terminated; caller frees. NULL when unreadable. */
char *vft_read_file(const char *path, size_t *len);
/* malloc'd path join: a + "/" + b */
char *vft_path(const char *a, const char *b);
/* Builds a safetensors file image: 8-byte LE length, the header text, then data_len zero bytes.
 * Caller frees; *len set. */
uint8_t *vft_st_image(const char *header, uint64_t data_len, size_t *len);
/* Path of a generated checkpoint (VF_GEN_DIR/name); caller frees. */
char *vft_gen(const char *name);

#endif
