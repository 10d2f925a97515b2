/* test_hostile.c - hostile inputs and environments (issue 14): nothing hangs (a FIFO in every role
 * where vramfit opens a file, a backtracking regex, a hung nvidia-smi), nothing is overwritten (an
 * input as the output, devices, FIFOs, symlinks and directories as outputs, no file left behind by a
 * failed command), nothing fails silently (stdout closed, full or a broken pipe; a shard that
 * changes while hashed; signs and overflow in integer options), output stays what it says (valid
 * UTF-8 JSON from non-UTF-8 names, escaped diagnostics, names at NAME_MAX) and a Hugging Face cache
 * does not lead elsewhere unnoticed. Every CLI run has a timeout: a regression fails, never hangs. */
#define _GNU_SOURCE /* mkfifo, symlink, link; F_GETPIPE_SZ */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vf_test_support.h"
#include "vramfit/vf_adapters.h"
#include "vramfit/vf_verify.h"

#define TINY VF_SOURCE_DIR "/testdata/tiny-llama"
#define TINY_LORA VF_SOURCE_DIR "/testdata/tiny-llama-lora"
#define HASH "0123456789abcdef0123456789abcdef01234567"
#define TIMEOUT_S 20 /* far above any run here (< 1 s); only a hang reaches it */
#define SIGALRM_STATUS (128 + 14)

static char *dir;

static void setup(void) { dir = vft_tempdir(); }
static void teardown(void)
{
    vft_rmtree(dir);
    free(dir);
}
TestSuite(hostile, .init = setup, .fini = teardown);

/* ---- helpers ------------------------------------------------------------------------------------ */

#define RUN(out_mode, env, ...) run_args((out_mode), (env), (const char *const[]){__VA_ARGS__, NULL})

static vft_run run_args(vft_out out, const char *const *env, const char *const *args)
{
    vft_opts o = {.env = env, .out = out, .timeout_s = TIMEOUT_S};
    vft_run r = vft_cli_opts(&o, args);
    cr_assert_neq(r.status, SIGALRM_STATUS, "vramfit hung (killed after %d s): %s", TIMEOUT_S, r.err);
    return r;
}

/* Exit status `code`, nothing on stdout, exactly one line on stderr holding `needle`. */
static void expect_fail(vft_run *r, int code, const char *needle)
{
    cr_expect_eq(r->status, code, "status %d, stderr: %s", r->status, r->err);
    cr_expect_eq(r->out_len, 0, "stdout: %s", r->out);
    cr_expect(r->err_len > 0 && strchr(r->err, '\n') == r->err + r->err_len - 1, "one line: %s", r->err);
    cr_expect(strstr(r->err, needle), "'%s' lacks '%s'", r->err, needle);
    vft_run_free(r);
}

static char *at(const char *name) { return vft_path(dir, name); }

static void copy_file(const char *src, const char *dst)
{
    size_t n;
    char *data = vft_read_file(src, &n);
    cr_assert_not_null(data, "%s", src);
    vft_write_file(dst, data, n);
    free(data);
}

/* DIR/sub with a copy of the tiny llama (config.json, model.safetensors); caller frees. */
static char *tiny_copy(const char *sub)
{
    char *d = at(sub);
    cr_assert_eq(mkdir(d, 0755), 0);
    const char *files[] = {"config.json", "model.safetensors"};
    for (size_t i = 0; i < 2; i++) {
        char *s = vft_path(TINY, files[i]), *t = vft_path(d, files[i]);
        copy_file(s, t);
        free(s);
        free(t);
    }
    return d;
}

static void fifo(const char *path) { cr_assert_eq(mkfifo(path, 0644), 0, "mkfifo %s", path); }

static bool same_bytes(const char *a, const char *b)
{
    size_t na, nb;
    char *x = vft_read_file(a, &na), *y = vft_read_file(b, &nb);
    bool same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

/* Number of entries of d whose name starts with prefix. */
static int count_prefixed(const char *d, const char *prefix)
{
    DIR *h = opendir(d);
    cr_assert_not_null(h);
    int n = 0;
    for (struct dirent *e; (e = readdir(h));)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(h);
    return n;
}

/* A Hugging Face cache under DIR/hub with models--org--tiny, refs/main -> HASH; the snapshot dir. */
static char *hf_tree(void)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "R='%s/hub/models--org--tiny'; mkdir -p $R/refs $R/blobs $R/snapshots/" HASH
             " && printf '" HASH "' > $R/refs/main",
             dir);
    cr_assert_eq(system(cmd), 0);
    char *snap = malloc(strlen(dir) + 128);
    sprintf(snap, "%s/hub/models--org--tiny/snapshots/" HASH, dir);
    return snap;
}

/* ---- nothing hangs: a FIFO in every role ------------------------------------------------------- */

Test(hostile, fifo_as_the_checkpoint_or_a_shard_is_refused_naming_it)
{
    char *f = at("model.safetensors");
    fifo(f);
    vft_run r = RUN(VFT_OUT_CAPTURE, NULL, "inspect", f);
    expect_fail(&r, 3, "model.safetensors: is a FIFO, not a regular file");
    r = RUN(VFT_OUT_CAPTURE, NULL, "inspect", dir); /* a shard the directory lists */
    expect_fail(&r, 3, "is a FIFO");
    r = RUN(VFT_OUT_CAPTURE, NULL, "verify", dir);
    cr_expect_eq(r.status, 3, "%s", r.err);
    cr_expect(strstr(r.err, "FIFO"), "%s", r.err);
    vft_run_free(&r);
    free(f);
}

Test(hostile, fifo_as_an_auxiliary_file_or_index_is_refused_naming_it)
{
    char *d = tiny_copy("m"), *cfg = vft_path(d, "config.json"), *ix = vft_path(d, "model.safetensors.index.json");
    cr_assert_eq(unlink(cfg), 0);
    fifo(cfg);
    vft_run r = RUN(VFT_OUT_CAPTURE, NULL, "inspect", d);
    expect_fail(&r, 3, "config.json: is a FIFO");
    cr_assert_eq(unlink(cfg), 0);
    fifo(ix);
    r = RUN(VFT_OUT_CAPTURE, NULL, "estimate", d, "--gpu-memory", "48GiB", "--max-tokens-per-gpu", "8");
    expect_fail(&r, 3, "model.safetensors.index.json: is a FIFO");
    free(cfg);
    free(ix);
    free(d);
}

Test(hostile, fifo_as_a_snapshot_manifest_or_adapter_config_is_refused)
{
    char *snap = at("x.vfsnap"), *man = at("against.json"), *ad = at("adapter");
    fifo(snap);
    vft_run r = RUN(VFT_OUT_CAPTURE, NULL, "inspect", snap);
    expect_fail(&r, 3, "is a FIFO");
    fifo(man);
    r = RUN(VFT_OUT_CAPTURE, NULL, "verify", TINY, "--against", man);
    expect_fail(&r, 3, "against.json: is a FIFO");
    cr_assert_eq(mkdir(ad, 0755), 0);
    char *st = vft_path(ad, "adapter_model.safetensors"), *src = vft_path(TINY_LORA, "adapter_model.safetensors");
    char *cfg = vft_path(ad, "adapter_config.json");
    copy_file(src, st);
    fifo(cfg);
    r = RUN(VFT_OUT_CAPTURE, NULL, "audit", ad);
    expect_fail(&r, 3, "adapter_config.json: is a FIFO");
    free(st);
    free(src);
    free(cfg);
    free(snap);
    free(man);
    free(ad);
}

Test(hostile, fifo_as_a_hugging_face_blob_or_ref_is_refused)
{
    char *snap = hf_tree(), *hub = at("hub"), *link = vft_path(snap, "model.safetensors");
    char *blob = malloc(strlen(dir) + 64), *ref = malloc(strlen(dir) + 64);
    sprintf(blob, "%s/hub/models--org--tiny/blobs/b1", dir);
    sprintf(ref, "%s/hub/models--org--tiny/refs/pr", dir);
    fifo(blob);
    cr_assert_eq(symlink("../../blobs/b1", link), 0);
    vft_run r = RUN(VFT_OUT_CAPTURE, NULL, "inspect", "org/tiny", "--hf-cache", hub);
    expect_fail(&r, 3, "model.safetensors: is a FIFO");
    fifo(ref);
    r = RUN(VFT_OUT_CAPTURE, NULL, "inspect", "org/tiny", "--hf-cache", hub, "--revision", "pr");
    expect_fail(&r, 3, "is a FIFO");
    free(snap);
    free(hub);
    free(link);
    free(blob);
    free(ref);
}

Test(hostile, character_device_as_the_checkpoint_is_refused)
{
    vft_run r = RUN(VFT_OUT_CAPTURE, NULL, "inspect", "/dev/zero");
    expect_fail(&r, 3, "is a character device");
}

/* ---- nothing hangs: regexes and nvidia-smi ----------------------------------------------------- */

/* Two equal alternatives under a star: 2^n ways to fail on an n-character name without a bound. */
#define BACKTRACK "(?:.|.)*[XZ]"

Test(hostile, backtracking_target_regex_is_stopped_by_its_budget)
{
    struct timeval t0, t1;
    gettimeofday(&t0, NULL);
    vft_run r = RUN(VFT_OUT_CAPTURE, NULL, "adapters", TINY, "--method", "lora", "--target-regex", BACKTRACK);
    gettimeofday(&t1, NULL);
    expect_fail(&r, 4, "exceeds its matching budget");
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_usec - t0.tv_usec) / 1e6;
    cr_expect_lt(s, 2.0, "took %.2f s", s);
    r = RUN(VFT_OUT_CAPTURE, NULL, "adapters", TINY, "--method", "lora", "--rank-pattern", BACKTRACK "=2");
    expect_fail(&r, 4, "exceeds its matching budget");
    r = RUN(VFT_OUT_CAPTURE, NULL, "adapters", TINY, "--method", "lora", "--target-regex", "(q_proj");
    expect_fail(&r, 2, "at character 7: missing closing parenthesis");
}

/* An adapter directory: the tiny LoRA's tensors beside `config`. */
static char *adapter_with(const char *config)
{
    char *ad = at("adapter");
    cr_assert_eq(mkdir(ad, 0755), 0);
    char *st = vft_path(ad, "adapter_model.safetensors"), *src = vft_path(TINY_LORA, "adapter_model.safetensors");
    char *cfg = vft_path(ad, "adapter_config.json");
    copy_file(src, st);
    vft_write_file(cfg, config, strlen(config));
    free(st);
    free(src);
    free(cfg);
    return ad;
}

static void expect_audit_fail(const char *config, const char *needle)
{
    char *ad = adapter_with(config);
    vft_run r = RUN(VFT_OUT_CAPTURE, NULL, "audit", ad);
    expect_fail(&r, 4, needle);
    r = RUN(VFT_OUT_CAPTURE, NULL, "audit", ad, "--base", TINY);
    expect_fail(&r, 4, needle);
    vft_rmtree(ad);
    free(ad);
}

Test(hostile, config_regexes_are_python_dialect_and_bounded_in_both_audits)
{
    expect_audit_fail("{\"r\":4,\"target_modules\":\"" BACKTRACK "\"}",
                      "adapter_config.json: tensor 'target_modules': regular expression");
    expect_audit_fail("{\"r\":4,\"target_modules\":[\"q_proj\",\"v_proj\"],\"rank_pattern\":{\"" BACKTRACK
                      "\":2}}",
                      "adapter_config.json: tensor 'rank_pattern': regular expression");
    expect_audit_fail("{\"r\":4,\"target_modules\":\"(q_proj\"}",
                      "tensor 'target_modules': bad regular expression '(q_proj' at character 7");
    expect_audit_fail("{\"r\":4,\"target_modules\":[\"q_proj\"],\"alpha_pattern\":{\"[\":8}}",
                      "tensor 'alpha_pattern': bad regular expression");
    /* a valid PEFT pattern that POSIX ERE cannot compile: the audit agrees with and without a base */
    char *ad = adapter_with("{\"r\":4,\"target_modules\":\".*\\\\.(?:q_proj|v_proj)\"}");
    vft_run r = RUN(VFT_OUT_CAPTURE, NULL, "audit", ad, "--base", TINY);
    cr_expect_eq(r.status, 0, "%s%s", r.out, r.err);
    vft_run_free(&r);
    r = RUN(VFT_OUT_CAPTURE, NULL, "audit", ad);
    cr_expect_eq(r.status, 0, "%s%s", r.out, r.err);
    vft_run_free(&r);
    free(ad);
}

Test(hostile, regex_semantics_follow_peft)
{
    vf_name_regex *re = NULL;
    cr_assert_eq(vf_name_regex_new("model\\.layers\\.\\d+\\.(?:q|v)_proj", false, &re, NULL), VF_OK);
    cr_expect_eq(vf_name_regex_match(re, "model.layers.12.q_proj", NULL), 1);
    cr_expect_eq(vf_name_regex_match(re, "model.layers.12.q_proj2", NULL), 0, "fullmatch");
    cr_expect_eq(vf_name_regex_match(re, "xmodel.layers.1.v_proj", NULL), 0, "fullmatch");
    vf_name_regex_free(re);
    cr_assert_eq(vf_name_regex_new("q_proj|v_proj", false, &re, NULL), VF_OK);
    cr_expect_eq(vf_name_regex_match(re, "v_proj", NULL), 1, "every alternative is anchored");
    vf_name_regex_free(re);
    cr_assert_eq(vf_name_regex_new("(?P<n>\\w+)_proj", true, &re, NULL), VF_OK); /* get_pattern_key */
    cr_expect_eq(vf_name_regex_match(re, "model.layers.0.self_attn.q_proj", NULL), 1);
    vf_name_regex_free(re);
    char big[1100];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    vf_error err = {0};
    cr_expect_eq(vf_name_regex_new(big, false, &re, &err), VF_ERR_USAGE);
    cr_expect(strstr(err.message, "longer than"), "%s", err.message);
    cr_expect_null(re);
}

/* A PATH holding a copy of tests/fake-bin/nvidia-smi; fills env[0] with "PATH=..." */
static void fake_smi(char *path_env, size_t n)
{
    char *bin = at("bin"), *dst = vft_path(bin, "nvidia-smi"), *src = vft_path(VF_SOURCE_DIR, "tests/fake-bin/nvidia-smi");
    cr_assert_eq(mkdir(bin, 0755), 0);
    copy_file(src, dst);
    cr_assert_eq(chmod(dst, 0755), 0);
    snprintf(path_env, n, "PATH=%s:/usr/bin:/bin", bin);
    free(bin);
    free(dst);
    free(src);
}

Test(hostile, hung_or_flooding_nvidia_smi_is_stopped_by_the_timeout)
{
    char path_env[4096];
    fake_smi(path_env, sizeof path_env);
    const char *hang[] = {path_env, "FAKE_NVIDIA_SMI=hang", "VRAMFIT_GPU_PROBE_TIMEOUT=0.3", NULL};
    struct timeval t0, t1;
    gettimeofday(&t0, NULL);
    vft_run r = RUN(VFT_OUT_CAPTURE, hang, "estimate", TINY, "--gpu", "auto", "--max-tokens-per-gpu", "8");
    gettimeofday(&t1, NULL);
    expect_fail(&r, 3, "did not answer within 0.300 s");
    cr_expect_lt(t1.tv_sec - t0.tv_sec, 5);
    const char *flood[] = {path_env, "FAKE_NVIDIA_SMI=flood", "VRAMFIT_GPU_PROBE_TIMEOUT=0.3", NULL};
    r = RUN(VFT_OUT_CAPTURE, flood, "plan", TINY, "--gpu", "auto");
    expect_fail(&r, 3, "did not answer");
}

/* ---- nothing is overwritten -------------------------------------------------------------------- */

Test(hostile, an_input_of_the_run_is_never_an_output)
{
    char *d = tiny_copy("m"), *shard = vft_path(d, "model.safetensors"), *cfg = vft_path(d, "config.json");
    char *orig = vft_path(TINY, "model.safetensors"), *hard = at("hard.svg"), *snap = at("x.vfsnap");
    const char *est[] = {"estimate", d, "--gpu-memory", "48GiB", "--max-tokens-per-gpu", "8", "--svg"};
    vft_run r = RUN(VFT_OUT_CAPTURE, NULL, est[0], est[1], est[2], est[3], est[4], est[5], est[6], shard);
    expect_fail(&r, 2, "is an input of this run (model.safetensors)");
    r = RUN(VFT_OUT_CAPTURE, NULL, "adapters", d, "--method", "lora", "--svg", cfg);
    expect_fail(&r, 2, "is an input of this run (config.json)");
    cr_assert_eq(link(shard, hard), 0); /* another name, the same file */
    r = RUN(VFT_OUT_CAPTURE, NULL, "adapters", d, "--method", "lora", "--svg", hard);
    expect_fail(&r, 2, "is an input of this run");
    r = RUN(VFT_OUT_CAPTURE, NULL, "snapshot", d, "-o", shard, "--force");
    expect_fail(&r, 2, "is an input of this run");
    cr_expect(same_bytes(shard, orig), "the shard is untouched");
    r = RUN(VFT_OUT_CAPTURE, NULL, "snapshot", d, "-o", snap);
    cr_assert_eq(r.status, 0, "%s", r.err);
    vft_run_free(&r);
    r = RUN(VFT_OUT_CAPTURE, NULL, "snapshot", snap, "-o", snap);
    expect_fail(&r, 2, "is an input of this run");
    char *man = at("m.json");
    r = RUN(VFT_OUT_CAPTURE, NULL, "verify", d, "--manifest", man);
    cr_assert_eq(r.status, 0, "%s", r.err);
    vft_run_free(&r);
    r = RUN(VFT_OUT_CAPTURE, NULL, "verify", d, "--against", man, "--manifest", man);
    expect_fail(&r, 2, "is an input of this run");
    cr_expect_eq(count_prefixed(d, ".vramfit-") + count_prefixed(dir, ".vramfit-"), 0, "no temporary file left");
    free(d);
    free(shard);
    free(cfg);
    free(orig);
    free(hard);
    free(snap);
    free(man);
}

Test(hostile, devices_and_fifos_are_written_through_and_write_errors_are_exit_3)
{
    vft_run r = RUN(VFT_OUT_CAPTURE, NULL, "adapters", TINY, "--method", "lora", "--svg", "/dev/full");
    cr_expect_eq(r.status, 3, "%s", r.err);
    cr_expect(strstr(r.err, "/dev/full: cannot write: No space left on device"), "%s", r.err);
    vft_run_free(&r);
    struct stat st;
    cr_assert_eq(stat("/dev/full", &st), 0);
    cr_expect(S_ISCHR(st.st_mode), "/dev/full is still a device");
    r = RUN(VFT_OUT_CAPTURE, NULL, "adapters", TINY, "--method", "lora", "--svg", "/dev/null");
    cr_expect_eq(r.status, 0, "%s", r.err);
    vft_run_free(&r);
    char *f = at("pipe.svg");
    fifo(f);
    r = RUN(VFT_OUT_CAPTURE, NULL, "adapters", TINY, "--method", "lora", "--svg", f);
    expect_fail(&r, 3, "no process is reading it");
    cr_assert_eq(lstat(f, &st), 0);
    cr_expect(S_ISFIFO(st.st_mode), "the FIFO is not replaced");
    free(f);
}

Test(hostile, symlinks_are_followed_and_directories_refused)
{
    char *target = at("real.svg"), *link_path = at("link.svg"), *dangling = at("nowhere.svg");
    vft_write_file(target, "old", 3);
    cr_assert_eq(symlink("real.svg", link_path), 0);
    vft_run r = RUN(VFT_OUT_CAPTURE, NULL, "adapters", TINY, "--method", "lora", "--svg", link_path);
    cr_assert_eq(r.status, 0, "%s", r.err);
    vft_run_free(&r);
    struct stat st;
    cr_assert_eq(lstat(link_path, &st), 0);
    cr_expect(S_ISLNK(st.st_mode), "the link is kept");
    size_t n;
    char *svg = vft_read_file(target, &n);
    cr_expect(svg && strstr(svg, "<svg"), "the target holds the chart");
    free(svg);
    cr_assert_eq(symlink("missing/x.svg", dangling), 0);
    r = RUN(VFT_OUT_CAPTURE, NULL, "adapters", TINY, "--method", "lora", "--svg", dangling);
    expect_fail(&r, 2, "is a symlink that leads nowhere");
    r = RUN(VFT_OUT_CAPTURE, NULL, "adapters", TINY, "--method", "lora", "--svg", dir);
    expect_fail(&r, 2, "is a directory; refusing to write to it");
    free(target);
    free(link_path);
    free(dangling);
}

Test(hostile, a_failed_stdout_leaves_no_output_file)
{
    char *svg = at("chart.svg"), *man = at("m.json"), *snap = at("s.vfsnap");
    vft_run r = RUN(VFT_OUT_CLOSED, NULL, "adapters", TINY, "--method", "lora", "--svg", svg);
    cr_expect_eq(r.status, 3, "%s", r.err);
    cr_expect(strstr(r.err, "cannot write to stdout"), "%s", r.err);
    vft_run_free(&r);
    r = RUN(VFT_OUT_FULL, NULL, "adapters", TINY, "--json", "--svg", svg); /* the streamed document */
    cr_expect_eq(r.status, 3, "%s", r.err);
    cr_expect(strstr(r.err, "cannot write to stdout: No space left on device"), "%s", r.err);
    vft_run_free(&r);
    r = RUN(VFT_OUT_FULL, NULL, "verify", TINY, "--manifest", man);
    cr_expect_eq(r.status, 3, "%s", r.err);
    vft_run_free(&r);
    r = RUN(VFT_OUT_FULL, NULL, "snapshot", TINY, "-o", snap);
    cr_expect_eq(r.status, 3, "%s", r.err);
    vft_run_free(&r);
    r = RUN(VFT_OUT_CAPTURE, NULL, "estimate", TINY, "--gpu-memory", "48GiB", "--svg", svg); /* fails */
    cr_expect_eq(r.status, 2, "%s", r.err);
    vft_run_free(&r);
    struct stat st;
    cr_expect_neq(stat(svg, &st), 0, "no SVG");
    cr_expect_neq(stat(man, &st), 0, "no manifest");
    cr_expect_neq(stat(snap, &st), 0, "no snapshot");
    cr_expect_eq(count_prefixed(dir, ".vramfit-"), 0, "no temporary file");
    free(svg);
    free(man);
    free(snap);
}

Test(hostile, an_output_name_at_name_max_works)
{
    char name[251];
    memset(name, 'm', 245);
    strcpy(name + 245, ".json"); /* 250 characters: the old "NAME.tmp.XXXXXX" exceeded NAME_MAX */
    char *man = at(name);
    vft_run r = RUN(VFT_OUT_CAPTURE, NULL, "verify", TINY, "--manifest", man);
    cr_expect_eq(r.status, 0, "%s", r.err);
    vft_run_free(&r);
    struct stat st;
    cr_expect_eq(stat(man, &st), 0);
    free(man);
}

/* ---- nothing fails silently -------------------------------------------------------------------- */

Test(hostile, help_version_and_commands_check_stdout)
{
    /* adapters --json streams its document as it is built (cmd_adapters.c) */
    const char *const cmds[][4] = {{"--help"}, {"--version"}, {"inspect", "--help"}, {"inspect", TINY},
                                   {"adapters", TINY, "--json"}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        const char *const *c = cmds[i];
        vft_run r = run_args(VFT_OUT_CLOSED, NULL, c);
        expect_fail(&r, 3, "cannot write to stdout: Bad file descriptor");
        r = run_args(VFT_OUT_FULL, NULL, c);
        expect_fail(&r, 3, "cannot write to stdout: No space left on device");
        r = run_args(VFT_OUT_BROKEN_PIPE, NULL, c);
        cr_expect_eq(r.status, 0, "%s: a reader that has gone is a quiet end, not SIGPIPE (%d)", c[0], r.status);
        cr_expect_eq(r.err_len, 0, "no message: %s", r.err);
        vft_run_free(&r);
    }
}

/* adapters --json streams its document; into a pipe it first widens the pipe to 1 MiB (or the
 * system's pipe-max-size), so that writer and reader wait for each other 16 times less. */
Test(hostile, a_streamed_document_widens_its_pipe)
{
    int fd[2];
    cr_assert_eq(pipe(fd), 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]);
        close(fd[1]);
        execl(VF_CLI, VF_CLI, "adapters", TINY, "--json", (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    char buf[1 << 16];
    size_t total = 0;
    for (ssize_t n; (n = read(fd[0], buf, sizeof buf)) > 0;)
        total += (size_t)n;
    int size = fcntl(fd[0], F_GETPIPE_SZ), status = 0;
    close(fd[0]);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    long max = 1 << 20;
    FILE *f = fopen("/proc/sys/fs/pipe-max-size", "r");
    if (f) {
        if (fscanf(f, "%ld", &max) != 1)
            max = 1 << 20;
        fclose(f);
    }
    cr_expect_eq(size, max < (1 << 20) ? 65536 : 1 << 20, "pipe size %d (pipe-max-size %ld)", size, max);
    vft_run r = RUN(VFT_OUT_CAPTURE, NULL, "adapters", TINY, "--json");
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect_eq(total, r.out_len, "the same document through the pipe");
    vft_run_free(&r);
}

static void append_once(void *user, uint64_t bytes)
{
    (void)bytes;
    const char *path = user;
    static int calls;
    if (calls++)
        return;
    int fd = open(path, O_WRONLY | O_APPEND);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, "more", 4), 4);
    close(fd);
}

static void touch_once(void *user, uint64_t bytes)
{
    (void)bytes;
    static int calls;
    if (calls++)
        return;
    struct timespec t[2] = {{1, 0}, {1, 0}}; /* 1970: surely not the file's time */
    cr_assert_eq(utimensat(AT_FDCWD, user, t, 0), 0);
}

static int hash_with(const char *path, vf_progress_fn fn, vf_error *err)
{
    vf_st_header *h = NULL;
    cr_assert_eq(vf_st_read_file(path, NULL, &h, err), VF_OK, "%s", err->message);
    vf_hash_options o = VF_HASH_OPTIONS_INIT;
    o.block_size = 4096;
    o.progress = fn;
    o.user = (void *)path;
    vf_tensor_hash *th = calloc(vf_st_header_count(h) + 1, sizeof *th);
    vf_digest d;
    int rc = vf_hash_shard(path, "model.safetensors", h, &o, &d, th, err);
    free(th);
    vf_st_header_free(h);
    return rc;
}

Test(hostile, verify_data_fails_on_a_shard_that_changes_while_hashed)
{
    char *d = tiny_copy("m"), *shard = vft_path(d, "model.safetensors");
    vf_error err = {0};
    cr_expect_eq(hash_with(shard, append_once, &err), VF_ERR_IO);
    cr_expect(strstr(err.message, "file grew while being read"), "%s", err.message);
    free(shard);
    free(d);
    d = tiny_copy("n");
    shard = vft_path(d, "model.safetensors");
    cr_expect_eq(hash_with(shard, touch_once, &err), VF_ERR_IO);
    cr_expect(strstr(err.message, "modified while being read"), "%s", err.message);
    free(shard);
    free(d);
}

Test(hostile, integer_options_reject_signs_overflow_and_junk)
{
    const char *bad[] = {"-1", " 1", "+1", "1x", "0x10", "18446744073709551616", "99999999999999999999999", "", "0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vft_run r = RUN(VFT_OUT_CAPTURE, NULL, "estimate", TINY, "--gpu-memory", "48GiB", "--max-tokens-per-gpu",
                        "8", "--gpus", bad[i]);
        expect_fail(&r, 2, "--gpus");
        r = RUN(VFT_OUT_CAPTURE, NULL, "adapters", TINY, "--method", "lora", "--rank", bad[i]);
        expect_fail(&r, 2, "--rank");
        r = RUN(VFT_OUT_CAPTURE, NULL, "plan", TINY, "--gpu-memory", "48GiB", "--max-gpus", bad[i]);
        expect_fail(&r, 2, "--max-gpus");
    }
    vft_run r = RUN(VFT_OUT_CAPTURE, NULL, "estimate", TINY, "--gpu-memory", "48GiB", "--max-tokens-per-gpu",
                    "8", "--gpus", "4294967296");
    expect_fail(&r, 2, "between 1 and 4294967295");
    const char *bad_ratio[] = {" 0.5", "+0.5", "0x1p-1", "inf", "nan", "0.5x", ""};
    for (size_t i = 0; i < sizeof bad_ratio / sizeof bad_ratio[0]; i++) {
        r = RUN(VFT_OUT_CAPTURE, NULL, "adapters", TINY, "--method", "osft", "--unfreeze-rank-ratio", bad_ratio[i]);
        expect_fail(&r, 2, "--unfreeze-rank-ratio");
    }
}

/* ---- output is what it says -------------------------------------------------------------------- */

/* True when s[0..n) is valid UTF-8 (no overlong forms, surrogates or values past U+10FFFF). */
static bool valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (!k || i + k > n)
            return false;
        uint32_t v = k == 1 ? c : c & (0xFFu >> (k + 1));
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return false;
            v = v << 6 | (s[i + j] & 0x3Fu);
        }
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (v < min[k] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            return false;
        i += k;
    }
    return true;
}

static void expect_json_utf8(const char *text, size_t len)
{
    cr_expect(valid_utf8((const unsigned char *)text, len), "not valid UTF-8");
    cr_expect(strstr(text, "\\ufffd"), "invalid bytes become U+FFFD");
    cJSON *j = cJSON_Parse(text);
    cr_expect_not_null(j, "valid JSON");
    cJSON_Delete(j);
}

Test(hostile, json_and_manifests_stay_valid_utf8_with_non_utf8_names)
{
    char *d = tiny_copy("caf\xe9"); /* Latin-1 e-acute: not UTF-8 */
    vft_run r = RUN(VFT_OUT_CAPTURE, NULL, "inspect", d, "--json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    expect_json_utf8(r.out, r.out_len);
    vft_run_free(&r);
    char *shard = vft_path(d, "model.safetensors"), *odd = vft_path(d, "w\xff\xfe.safetensors");
    cr_assert_eq(rename(shard, odd), 0);
    char *man = at("m.json");
    r = RUN(VFT_OUT_CAPTURE, NULL, "verify", d, "--manifest", man);
    cr_assert_eq(r.status, 0, "%s", r.err);
    vft_run_free(&r);
    size_t n;
    char *text = vft_read_file(man, &n);
    cr_assert_not_null(text);
    expect_json_utf8(text, n);
    free(text);
    free(man);
    free(shard);
    free(odd);
    free(d);
}

Test(hostile, diagnostics_escape_control_bytes_from_argv_and_paths)
{
    vft_run r = RUN(VFT_OUT_CAPTURE, NULL, "insp\nect\033[2J");
    expect_fail(&r, 2, "unknown command 'insp\\x0aect\\x1b[2J'");
    r = RUN(VFT_OUT_CAPTURE, NULL, "inspect", TINY, "--b\nad");
    expect_fail(&r, 2, "unknown option '--b\\x0aad'");
    char *evil = at("x\033]0;owned\007y");
    r = RUN(VFT_OUT_CAPTURE, NULL, "inspect", evil);
    cr_expect_eq(r.status, 3, "%s", r.err);
    cr_expect_null(memchr(r.err, '\033', r.err_len), "no raw ESC on stderr");
    cr_expect_null(memchr(r.err, '\007', r.err_len), "no raw BEL on stderr");
    cr_expect(strstr(r.err, "x?]0;owned?y"), "the library's error record shows them as '?': %s", r.err);
    vft_run_free(&r);
    free(evil);
}

/* ---- paths outside the tree -------------------------------------------------------------------- */

Test(hostile, cache_symlinks_leaving_the_root_are_reported_and_refs_must_be_plain)
{
    char *snap = hf_tree(), *hub = at("hub"), *out = tiny_copy("elsewhere");
    char *link_path = vft_path(snap, "model.safetensors"), *target = vft_path(out, "model.safetensors");
    cr_assert_eq(symlink(target, link_path), 0);
    vft_run r = RUN(VFT_OUT_CAPTURE, NULL, "inspect", "org/tiny", "--hf-cache", hub, "--json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "model.safetensors leads outside the Hugging Face cache root"), "%s", r.out);
    cr_expect(strstr(r.out, "elsewhere/model.safetensors"), "the finding names the target: %s", r.out);
    vft_run_free(&r);
    char *ref = malloc(strlen(dir) + 64), *refs_pr = malloc(strlen(dir) + 64);
    sprintf(ref, "%s/hub/models--org--tiny/refs/main", dir);
    sprintf(refs_pr, "%s/hub/models--org--tiny/refs/pr", dir);
    cr_assert_eq(symlink(ref, refs_pr), 0);
    r = RUN(VFT_OUT_CAPTURE, NULL, "inspect", "org/tiny", "--hf-cache", hub, "--revision", "pr");
    expect_fail(&r, 4, "refs/pr is a symlink; a ref must be a plain file");
    free(snap);
    free(hub);
    free(out);
    free(link_path);
    free(target);
    free(ref);
    free(refs_pr);
}

Test(hostile, errors_never_echo_bytes_of_a_file_that_is_not_safetensors)
{
    char *snap = hf_tree(), *hub = at("hub"), *secret = at("secret.txt");
    const char text[] = "SECRET!!the rest of a private file";
    vft_write_file(secret, text, sizeof text - 1);
    char *link_path = vft_path(snap, "model.safetensors");
    cr_assert_eq(symlink(secret, link_path), 0);
    vft_run r = RUN(VFT_OUT_CAPTURE, NULL, "inspect", "org/tiny", "--hf-cache", hub);
    cr_expect_eq(r.status, 4, "%s", r.err);
    cr_expect(strstr(r.err, "not a safetensors file"), "%s", r.err);
    cr_expect_null(strstr(r.err, "2387281934192690515"), "the prefix read as a number: %s", r.err);
    cr_expect_null(strstr(r.err, "SECRET"), "%s", r.err);
    vft_run_free(&r);
    free(snap);
    free(hub);
    free(secret);
    free(link_path);
}
