/* test_ui.c - the user interface every command shares: color only on a terminal without NO_COLOR
 * (a pseudo-terminal through `script`), never in JSON or through a pipe; "error:" in red on a
 * terminal; --quiet a subset and --verbose a superset of the normal output; `vramfit gpus`. */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_test_support.h"

#define ENV "/usr/bin/env"
#define SCRIPT "/usr/bin/script"

static char *src(const char *rel) { return vft_path(VF_SOURCE_DIR, rel); }

/* Runs `vramfit ARGS` under a pseudo-terminal (util-linux script) with NO_COLOR set to no_color, or
 * unset when no_color is NULL. The shell script runs sees the program as "$VFT_CLI" and `path` as
 * "$VFT_P" (ARGS write "$VFT_P"), so that paths with spaces or quotes need no quoting here. */
static vft_run run_tty(const char *no_color, const char *args, const char *path)
{
    char cmd[4096], nc[64], cli[4200], p[4200];
    snprintf(cmd, sizeof cmd, "\"$VFT_CLI\" %s", args);
    snprintf(nc, sizeof nc, "NO_COLOR=%s", no_color ? no_color : "");
    snprintf(cli, sizeof cli, "VFT_CLI=%s", VF_CLI);
    snprintf(p, sizeof p, "VFT_P=%s", path ? path : "");
    const char *with[] = {ENV, nc, cli, p, SCRIPT, "-qec", cmd, "/dev/null", NULL};
    const char *without[] = {ENV, "-u", "NO_COLOR", cli, p, SCRIPT, "-qec", cmd, "/dev/null", NULL};
    return vft_exec(no_color ? with : without, NULL);
}

/* Runs vramfit with stdout and stderr pipes and NO_COLOR unset. */
static vft_run run_pipe(const char *const *args)
{
    const char *argv[32] = {ENV, "-u", "NO_COLOR", VF_CLI};
    size_t n = 4;
    for (; args[n - 4] && n < 31; n++)
        argv[n] = args[n - 4];
    argv[n] = NULL;
    return vft_exec(argv, NULL);
}

static bool has_escape(const char *s) { return strchr(s, '\033') != NULL; }

/* True when every line of small appears in big in the same order. */
static bool lines_subsequence(const char *small, const char *big)
{
    const char *p = small, *q = big;
    while (*p) {
        size_t n = strcspn(p, "\n");
        bool found = false;
        while (*q && !found) {
            size_t m = strcspn(q, "\n");
            found = m == n && strncmp(p, q, n) == 0;
            q += m + (q[m] == '\n');
        }
        if (!found)
            return false;
        p += n + (p[n] == '\n');
    }
    return true;
}

/* ---- color ------------------------------------------------------------------------------------- */

Test(ui, no_escape_codes_through_a_pipe)
{
    char *ck = src("testdata/tiny-llama");
    const char *est[] = {"estimate", ck, "--gpu", "L4", "--method", "all", "--batch-size", "4",
                         "--max-seq-len", "512", NULL};
    const char *plan[] = {"plan", ck, "--gpu", "L4", NULL};
    const char *ver[] = {"verify", ck, NULL};
    const char *bad[] = {"inspect", "/nonexistent/checkpoint", NULL};
    const char *const *cases[] = {est, plan, ver, bad};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vft_run r = run_pipe(cases[i]);
        cr_expect(!has_escape(r.out), "%s: escape codes on a piped stdout", cases[i][0]);
        cr_expect(!has_escape(r.err), "%s: escape codes on a piped stderr", cases[i][0]);
        vft_run_free(&r);
    }
    free(ck);
}

Test(ui, color_on_a_terminal_unless_no_color)
{
    char *ck = src("testdata/tiny-llama");
    vft_run r = run_tty(NULL, "estimate \"$VFT_P\" --gpu L4 --max-tokens-per-gpu 1024", ck);
    cr_assert_eq(r.status, 0, "exit %d: %s%s", r.status, r.out, r.err);
    cr_expect(strstr(r.out, "\033[32mshould work\033[0m"), "verdict in green on a terminal: %s", r.out);
    cr_expect(strstr(r.out, "\033[1mSummary\033[0m"), "headings in bold");
    vft_run_free(&r);
    r = run_tty("1", "estimate \"$VFT_P\" --gpu L4 --max-tokens-per-gpu 1024", ck);
    cr_assert_eq(r.status, 0);
    cr_expect(!has_escape(r.out), "NO_COLOR=1 disables color: %s", r.out);
    cr_expect(strstr(r.out, "should work"));
    vft_run_free(&r);
    /* no-color.org: only a non-empty value disables color */
    r = run_tty("", "estimate \"$VFT_P\" --gpu L4 --max-tokens-per-gpu 1024", ck);
    cr_expect(has_escape(r.out), "an empty NO_COLOR leaves color on");
    vft_run_free(&r);
    free(ck);
}

Test(ui, impossible_verdict_is_red_and_json_is_never_colored)
{
    char *ck = vft_gen("llama-2-7b");
    vft_run r = run_tty(NULL, "estimate \"$VFT_P\" --gpu T4 --max-tokens-per-gpu 4096", ck);
    cr_expect(strstr(r.out, "\033[31mimpossible\033[0m"), "impossible in red: %s", r.out);
    vft_run_free(&r);
    r = run_tty(NULL, "estimate \"$VFT_P\" --gpu T4 --max-tokens-per-gpu 4096 --json", ck);
    cr_expect_eq(r.status, 0);
    cr_expect(strstr(r.out, "\"verdict\":\"no\""), "%s", r.out);
    cr_expect(!has_escape(r.out), "JSON on a terminal has no escape codes");
    vft_run_free(&r);
    free(ck);
}

Test(ui, error_label_red_on_a_terminal)
{
    vft_run r = run_tty(NULL, "inspect /nonexistent/checkpoint", NULL);
    cr_expect_eq(r.status, 3);
    cr_expect(strstr(r.out, "vramfit: \033[31merror:\033[0m "), "red error: on a terminal: %s", r.out);
    vft_run_free(&r);
    r = run_tty("1", "inspect /nonexistent/checkpoint", NULL);
    cr_expect(strstr(r.out, "vramfit: error: "), "%s", r.out);
    cr_expect(!has_escape(r.out));
    vft_run_free(&r);
}

/* ---- --quiet and --verbose --------------------------------------------------------------------- */

typedef struct ui_case {
    const char *args[16];
    bool quiet_drops, verbose_adds; /* the normal output has notes to drop / gains detail */
} ui_case;

/* Runs args plus one optional extra flag (appended). */
static vft_run run_with(const char *const *args, const char *flag)
{
    const char *argv[24] = {VF_CLI};
    size_t n = 1;
    for (size_t i = 0; args[i]; i++)
        argv[n++] = args[i];
    if (flag)
        argv[n++] = flag;
    argv[n] = NULL;
    return vft_exec(argv, NULL);
}

static void check_levels(const ui_case *c)
{
    vft_run normal = run_with(c->args, NULL), quiet = run_with(c->args, "--quiet"),
            verbose = run_with(c->args, "--verbose");
    cr_assert_eq(normal.status, 0, "%s: exit %d: %s", c->args[0], normal.status, normal.err);
    cr_assert_eq(quiet.status, 0, "%s --quiet: %s", c->args[0], quiet.err);
    cr_assert_eq(verbose.status, 0, "%s --verbose: %s", c->args[0], verbose.err);
    cr_expect(lines_subsequence(quiet.out, normal.out), "%s: --quiet is a subset:\n%s", c->args[0], quiet.out);
    cr_expect(lines_subsequence(normal.out, verbose.out), "%s: --verbose is a superset:\n%s", c->args[0],
              verbose.out);
    if (c->quiet_drops)
        cr_expect_lt(quiet.out_len, normal.out_len, "%s: --quiet drops the notes", c->args[0]);
    if (c->verbose_adds)
        cr_expect_gt(verbose.out_len, normal.out_len, "%s: --verbose adds detail", c->args[0]);
    cr_expect_eq(quiet.err_len, 0, "%s --quiet: nothing on stderr: %s", c->args[0], quiet.err);
    vft_run_free(&normal);
    vft_run_free(&quiet);
    vft_run_free(&verbose);
}

Test(ui, quiet_is_a_subset_and_verbose_a_superset)
{
    char *ll = src("testdata/tiny-llama"), *gpt2 = src("testdata/tiny-gpt2"),
         *lora = src("testdata/tiny-llama-lora"), *tmp = vft_tempdir(), *snap = vft_path(tmp, "s.vfsnap");
    const ui_case cases[] = {
        {{"inspect", gpt2, NULL}, true, true},
        {{"adapters", ll, NULL}, false, true},
        {{"adapters", ll, "--method", "osft", NULL}, false, true},
        {{"audit", lora, "--base", ll, NULL}, false, false},
        {{"verify", gpt2, NULL}, false, true},
        {{"estimate", ll, "--gpu", "L4", "--method", "lora", "--batch-size", "2", "--max-seq-len", "256", NULL},
         true, true},
        {{"estimate", ll, "--gpu", "L4", "--method", "all", "--batch-size", "2", "--max-seq-len", "256", NULL},
         true, false},
        {{"plan", ll, "--gpu-memory", "16GiB", NULL}, true, true},
        {{"snapshot", gpt2, "-o", snap, "--force", NULL}, false, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_levels(&cases[i]);
    vft_rmtree(tmp);
    free(snap);
    free(tmp);
    free(ll);
    free(gpt2);
    free(lora);
}

Test(ui, global_options_before_the_command_and_json_unchanged)
{
    char *ck = src("testdata/tiny-llama");
    vft_run a = vft_cli("-q", "plan", ck, "--gpu", "L4", NULL);
    vft_run b = vft_cli("plan", ck, "--gpu", "L4", "-q", NULL);
    cr_assert_eq(a.status, 0, "%s", a.err);
    cr_expect_str_eq(a.out, b.out);
    cr_expect_null(strstr(a.out, "Notes"));
    vft_run_free(&a);
    vft_run_free(&b);
    a = vft_cli("inspect", "--json", ck, NULL);
    b = vft_cli("inspect", "--json", "-v", ck, NULL);
    vft_run c = vft_cli("inspect", "--json", "--quiet", ck, NULL);
    cr_expect_str_eq(a.out, b.out, "--verbose leaves JSON alone");
    cr_expect_str_eq(a.out, c.out, "--quiet leaves JSON alone");
    vft_run_free(&a);
    vft_run_free(&b);
    vft_run_free(&c);
    a = vft_cli("inspect", ck, "--", "-q", NULL); /* after --, -q is a PATH */
    cr_expect_eq(a.status, 2, "%s", a.err);
    vft_run_free(&a);
    free(ck);
}

Test(ui, every_command_documents_quiet_and_verbose)
{
    static const char *const cmds[] = {"inspect", "adapters", "audit", "snapshot", "verify",
                                       "estimate", "plan", "gpus"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        vft_run r = vft_cli(cmds[i], "--help", NULL);
        cr_expect_eq(r.status, 0, "%s --help", cmds[i]);
        cr_expect(strstr(r.out, "-q, --quiet") && strstr(r.out, "-v, --verbose"), "%s --help", cmds[i]);
        vft_run_free(&r);
    }
}

/* ---- vramfit gpus ------------------------------------------------------------------------------ */

Test(ui, gpus_lists_names_that_estimate_accepts)
{
    vft_run r = vft_cli("gpus", NULL);
    cr_assert_eq(r.status, 0);
    cr_expect(strncmp(r.out, "A100-40GB\n", 10) == 0, "%s", r.out);
    char *ck = src("testdata/tiny-llama");
    int n = 0;
    for (char *line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n"), n++) {
        vft_run e = vft_cli("estimate", ck, "--gpu", line, "--max-tokens-per-gpu", "512", "--json", NULL);
        cr_expect_eq(e.status, 0, "--gpu %s: %s", line, e.err);
        vft_run_free(&e);
    }
    cr_expect_geq(n, 10);
    vft_run_free(&r);
    r = vft_cli("gpus", NULL);
    vft_run v = vft_cli("gpus", "--verbose", NULL);
    cr_assert_eq(v.status, 0);
    /* --verbose: the same names, in the same order, each followed by a tab and the details */
    const char *p = r.out, *q = v.out;
    for (size_t len; *p; p += len + 1, q = strchr(q, '\n') + 1) {
        len = strcspn(p, "\n");
        cr_assert(strncmp(p, q, len) == 0 && q[len] == '\t', "verbose line for %.*s: %.40s", (int)len, p, q);
    }
    vft_run_free(&v);
    vft_run_free(&r);
    r = vft_cli("gpus", "extra", NULL);
    cr_expect_eq(r.status, 2);
    cr_expect_eq(r.out_len, 0);
    vft_run_free(&r);
    free(ck);
}

Test(ui, quiet_silences_the_progress_bar_on_a_terminal)
{
    char *ck = src("testdata/tiny-gpt2");
    vft_run r = run_tty("1", "verify \"$VFT_P\" --data", ck);
    cr_assert_eq(r.status, 0, "%s", r.out);
    cr_expect(strstr(r.out, "\rverify "), "a progress bar on a terminal: %s", r.out);
    vft_run_free(&r);
    r = run_tty("1", "verify \"$VFT_P\" --data --quiet", ck);
    cr_assert_eq(r.status, 0, "%s", r.out);
    cr_expect_null(strstr(r.out, "\rverify "), "--quiet: no progress bar: %s", r.out);
    cr_expect(strstr(r.out, "Verdict     sound"));
    vft_run_free(&r);
    free(ck);
}

/* A tensor name carrying an escape sequence must not reach a terminal as one: control bytes in
 * human output become '?' there, while vramfit's own colors still work. Through a pipe the bytes are
 * left as stored (scripts get the exact name; JSON escapes it). */
Test(ui, hostile_names_cannot_drive_the_terminal)
{
    char *dir = vft_tempdir(), *f = vft_path(dir, "x.safetensors");
    size_t len;
    uint8_t *img = vft_st_image("{\"a\\u001b[31mEVIL\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, &len);
    vft_write_file(f, img, len);
    vft_run r = run_tty(NULL, "inspect --tensors \"$VFT_P\"", f);
    cr_assert_eq(r.status, 0, "%s", r.out);
    cr_expect(strstr(r.out, "a?[31mEVIL"), "%s", r.out);
    cr_expect_null(strstr(r.out, "a\033[31mEVIL"), "raw escape from a tensor name reached the terminal");
    cr_expect(strstr(r.out, "\033[1mname"), "own bold heading still colored: %s", r.out);
    vft_run_free(&r);
    const char *pipe_args[] = {"inspect", "--tensors", f, NULL};
    r = run_pipe(pipe_args);
    cr_expect(strstr(r.out, "a\033[31mEVIL"), "a pipe gets the name as stored");
    vft_run_free(&r);
    vft_rmtree(dir);
    free(dir);
    free(f);
    free(img);
}
