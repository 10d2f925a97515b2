/* test_hfcache.c - model ids resolved offline in the Hugging Face cache as huggingface_hub finds and
 * lays it out (constants.py: HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, HF_HOME, XDG_CACHE_HOME, ~;
 * ~ and $VAR expanded), org-less ids, revisions by branch, tag, full and short commit, the cached
 * refs listed when one is missing, the HF_HOME-for-hub hint, interrupted downloads, the
 * ORG/NAME@REVISION name in reports and snapshots, and snapshots that read the same anywhere. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vf_test_support.h"
#include "vramfit/vf_parser.h"

#define H_MAIN "0123456789abcdef0123456789abcdef01234567"
#define H_TAG "fedcba9876543210fedcba9876543210fedcba98"
#define H_NEAR "fedcb00000000000000000000000000000000000"

static char *dir; /* plays $HOME; the hub cache is DIR/hf/hub */
static const char *const cache_vars[] = {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME",
                                         "XDG_CACHE_HOME", NULL};

/* ROOT/models--FOLDER with refs/main -> H_MAIN (tiny-llama) and refs/v1.0 -> H_TAG (tiny-gpt2). */
static void make_repo(const char *root, const char *folder)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "R='%s/%s' && mkdir -p \"$R/refs\" \"$R/blobs\" \"$R/snapshots/" H_MAIN "\" \"$R/snapshots/" H_TAG
             "\" && printf " H_MAIN " > \"$R/refs/main\" && printf '" H_TAG "\\n' > \"$R/refs/v1.0\" && "
             "cp '%s'/testdata/tiny-llama/* \"$R/snapshots/" H_MAIN "/\" && "
             "cp '%s'/testdata/tiny-gpt2/* \"$R/snapshots/" H_TAG "/\"",
             root, folder, VF_SOURCE_DIR, VF_SOURCE_DIR);
    cr_assert_eq(system(cmd), 0);
}

static void setup(void)
{
    dir = vft_tempdir();
    for (size_t i = 0; cache_vars[i]; i++)
        unsetenv(cache_vars[i]);
    setenv("HOME", dir, 1);
    char *hub = vft_path(dir, "hf/hub");
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", hub);
    cr_assert_eq(system(cmd), 0);
    make_repo(hub, "models--org--tiny");
    make_repo(hub, "models--gpt2");
    free(hub);
}

static void teardown(void)
{
    vft_rmtree(dir);
    free(dir);
}
TestSuite(hfcache, .init = setup, .fini = teardown);

/* Opens id with the environment as it is; returns the status, the checkpoint (or NULL) in *out. */
static int open_id(const char *id, const char *revision, const char *hf_cache, vf_checkpoint **out,
                   vf_error *err)
{
    vf_open_options o = VF_OPEN_OPTIONS_INIT;
    o.revision = revision;
    o.hf_cache = hf_cache;
    return vf_checkpoint_open(id, &o, out, err);
}

static void expect_resolves(const char *why)
{
    vf_checkpoint *cp = NULL;
    vf_error err = {0};
    cr_expect_eq(open_id("org/tiny", NULL, NULL, &cp, &err), VF_OK, "%s: %s", why, err.message);
    if (cp)
        cr_expect_str_eq(vf_checkpoint_name(cp), "org/tiny@main", "%s", why);
    vf_checkpoint_free(cp);
}

static void expect_missing(const char *why, const char *root_in_message)
{
    vf_checkpoint *cp = NULL;
    vf_error err = {0};
    cr_expect_eq(open_id("org/tiny", NULL, NULL, &cp, &err), VF_ERR_NOT_FOUND, "%s", why);
    cr_expect(strstr(err.message, root_in_message), "%s: want '%s' in: %s", why, root_in_message, err.message);
    cr_expect(strncmp(err.message, "not a local path and not in the Hugging Face cache at ", 54) == 0,
              "%s: a PATH naming neither a file nor a cached model says both: %s", why, err.message);
    vf_checkpoint_free(cp);
}

Test(hfcache, every_cache_variable_in_huggingface_hub_order)
{
    char *hf = vft_path(dir, "hf"), *hub = vft_path(hf, "hub"), *nowhere = vft_path(dir, "nowhere");
    /* default: ~/.cache/huggingface/hub */
    expect_missing("default", ".cache/huggingface/hub (from the default");
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/.cache/huggingface' && ln -s '%s' '%s/.cache/huggingface/hub'",
             dir, hub, dir);
    cr_assert_eq(system(cmd), 0);
    expect_resolves("~/.cache/huggingface/hub");
    /* XDG_CACHE_HOME/huggingface/hub beats the default */
    setenv("XDG_CACHE_HOME", nowhere, 1);
    expect_missing("XDG_CACHE_HOME", "nowhere/huggingface/hub (from XDG_CACHE_HOME");
    setenv("XDG_CACHE_HOME", dir, 1);
    snprintf(cmd, sizeof cmd, "ln -s '%s' '%s/huggingface'", hf, dir);
    cr_assert_eq(system(cmd), 0);
    expect_resolves("XDG_CACHE_HOME");
    /* HF_HOME/hub beats XDG_CACHE_HOME; "~" is expanded */
    setenv("HF_HOME", "~/nowhere", 1);
    expect_missing("HF_HOME", "nowhere/hub (from HF_HOME");
    setenv("HF_HOME", "~/hf", 1);
    expect_resolves("HF_HOME with ~");
    /* the legacy HUGGINGFACE_HUB_CACHE beats HF_HOME */
    setenv("HUGGINGFACE_HUB_CACHE", nowhere, 1);
    expect_missing("HUGGINGFACE_HUB_CACHE", "(from HUGGINGFACE_HUB_CACHE");
    setenv("HUGGINGFACE_HUB_CACHE", hub, 1);
    expect_resolves("HUGGINGFACE_HUB_CACHE");
    /* HF_HUB_CACHE beats everything; $VAR and ${VAR} are expanded, an unknown $VAR is kept */
    setenv("HF_HUB_CACHE", "$VFT_UNSET_VARIABLE/hub", 1);
    expect_missing("HF_HUB_CACHE", "$VFT_UNSET_VARIABLE/hub (from HF_HUB_CACHE");
    setenv("VFT_ROOT", dir, 1);
    setenv("HF_HUB_CACHE", "${VFT_ROOT}/hf/hub", 1);
    expect_resolves("HF_HUB_CACHE with ${VAR}");
    setenv("HF_HUB_CACHE", "$VFT_ROOT/hf/hub", 1);
    expect_resolves("HF_HUB_CACHE with $VAR");
    /* an empty variable counts as unset */
    setenv("HF_HUB_CACHE", "", 1);
    expect_resolves("empty HF_HUB_CACHE: HUGGINGFACE_HUB_CACHE applies");
    for (size_t i = 0; cache_vars[i]; i++)
        unsetenv(cache_vars[i]);
    unsetenv("VFT_ROOT");
    free(hf), free(hub), free(nowhere);
}

Test(hfcache, ids_with_and_without_organisation)
{
    char *hub = vft_path(dir, "hf/hub");
    vf_checkpoint *cp = NULL;
    vf_error err = {0};
    cr_assert_eq(open_id("gpt2", NULL, hub, &cp, &err), VF_OK, "%s", err.message);
    cr_expect(strstr(vf_checkpoint_dir(cp), "models--gpt2/snapshots/" H_MAIN), "%s", vf_checkpoint_dir(cp));
    cr_expect_str_eq(vf_checkpoint_repo_id(cp), "gpt2");
    cr_expect_str_eq(vf_checkpoint_name(cp), "gpt2@main");
    vf_checkpoint_free(cp);
    cr_expect(vf_hf_is_model_id("org/tiny") && vf_hf_is_model_id("gpt2") && vf_hf_is_model_id("a.b_c-d"));
    cr_expect(!vf_hf_is_model_id("a/b/c") && !vf_hf_is_model_id("a--b") && !vf_hf_is_model_id("../x") &&
              !vf_hf_is_model_id("-x") && !vf_hf_is_model_id("model.safetensors") && !vf_hf_is_model_id(""));
    free(hub);
}

Test(hfcache, revisions_by_branch_tag_and_commit)
{
    char *hub = vft_path(dir, "hf/hub");
    static const struct {
        const char *rev, *name;
    } ok[] = {{"main", "org/tiny@main"}, {"v1.0", "org/tiny@v1.0"}, {H_TAG, "org/tiny@" H_TAG},
              {"0123456", "org/tiny@0123456"}, {"01234", "org/tiny@01234"}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        vf_checkpoint *cp = NULL;
        vf_error err = {0};
        cr_assert_eq(open_id("org/tiny", ok[i].rev, hub, &cp, &err), VF_OK, "%s: %s", ok[i].rev, err.message);
        cr_expect_str_eq(vf_checkpoint_name(cp), ok[i].name);
        cr_expect_str_eq(vf_checkpoint_revision(cp), ok[i].rev);
        vf_checkpoint_free(cp);
    }
    vf_checkpoint *cp = NULL;
    vf_error err = {0};
    /* a revision that is not cached lists what is */
    cr_expect_eq(open_id("org/tiny", "v2.0", hub, &cp, &err), VF_ERR_NOT_FOUND);
    cr_expect(strstr(err.message, "revision 'v2.0' is not in the local cache; cached refs: ") &&
                  strstr(err.message, "main") && strstr(err.message, "v1.0") &&
                  strstr(err.message, "0123456789ab") && strstr(err.message, "fedcba987654"),
              "%s", err.message);
    /* too short to be a commit (fewer than 5 digits), and ambiguous prefixes */
    cr_expect_eq(open_id("org/tiny", "0123", hub, &cp, &err), VF_ERR_NOT_FOUND, "%s", err.message);
    char *near = vft_path(hub, "models--org--tiny/snapshots/" H_NEAR);
    cr_assert_eq(mkdir(near, 0755), 0);
    cr_expect_eq(open_id("org/tiny", "fedcb", hub, &cp, &err), VF_ERR_USAGE);
    cr_expect(strstr(err.message, "matches 2 cached commits"), "%s", err.message);
    cr_expect_eq(open_id("org/tiny", "fedcba", hub, &cp, &err), VF_OK, "%s", err.message);
    vf_checkpoint_free(cp);
    free(near), free(hub);
}

Test(hfcache, hf_home_given_for_the_hub_directory_gets_a_hint)
{
    char *hf = vft_path(dir, "hf");
    vf_checkpoint *cp = NULL;
    vf_error err = {0};
    cr_expect_eq(open_id("org/tiny", NULL, hf, &cp, &err), VF_ERR_NOT_FOUND);
    cr_expect(strstr(err.message, "that is HF_HOME; the hub cache is its hub/ directory (--hf-cache "),
              "%s", err.message);
    free(hf);
}

Test(hfcache, interrupted_download_names_the_command_that_completes_it)
{
    char *hub = vft_path(dir, "hf/hub"), env[4200];
    char *blob = vft_path(hub, "models--org--tiny/blobs/0a1b2c.incomplete");
    char *shard = vft_path(hub, "models--org--tiny/snapshots/" H_TAG "/model-00002-of-00002.safetensors");
    vft_write_file(blob, "partial", 7);
    cr_assert_eq(unlink(shard), 0);
    snprintf(env, sizeof env, "HF_HUB_CACHE=%s", hub);
    const char *const envs[] = {env, NULL};
    const char *argv[] = {VF_CLI, "inspect", "org/tiny", "--revision", "v1.0", NULL};
    vft_run r = vft_exec(argv, envs);
    cr_expect_eq(r.status, 3, "%s", r.err);
    cr_expect(strstr(r.err, "model-00002-of-00002.safetensors: no such file; an interrupted download of "
                            "org/tiny (.incomplete blobs in the cache): complete it with "
                            "'huggingface-cli download org/tiny --revision v1.0' (or 'hf download org/tiny "
                            "--revision v1.0')"),
              "%s", r.err);
    cr_expect_eq(r.out_len, 0);
    vft_run_free(&r);
    /* a snapshot directory with nothing downloaded yet */
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -f '%s'/models--org--tiny/snapshots/" H_MAIN "/*", hub);
    cr_assert_eq(system(cmd), 0);
    const char *argv2[] = {VF_CLI, "inspect", "org/tiny", NULL};
    r = vft_exec(argv2, envs);
    cr_expect_eq(r.status, 4, "%s", r.err);
    cr_expect(strstr(r.err, "complete it with 'huggingface-cli download org/tiny'"), "%s", r.err);
    vft_run_free(&r);
    free(blob), free(shard), free(hub);
}

/* Runs vramfit with HF_HUB_CACHE set to the test cache, in working directory cwd (NULL: as is). */
static vft_run cli_in(const char *cwd, const char *const *args)
{
    static char env[4200];
    char *hub = vft_path(dir, "hf/hub");
    snprintf(env, sizeof env, "HF_HUB_CACHE=%s", hub);
    free(hub);
    const char *argv[32] = {"/usr/bin/env", "-C", cwd ? cwd : ".", env, VF_CLI};
    size_t n = 5;
    for (size_t i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    return vft_exec(argv, NULL);
}

Test(hfcache, reports_name_the_model_id_at_revision)
{
    const char *text[] = {"inspect", "org/tiny", "--revision", "v1.0", NULL};
    vft_run r = cli_in(NULL, text);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "Checkpoint    org/tiny@v1.0\n"), "%s", r.out);
    cr_expect(!strstr(r.out, "snapshots/"), "no snapshot path in the text: %s", r.out);
    vft_run_free(&r);
    const char *json[] = {"inspect", "org/tiny", "--json", NULL};
    r = cli_in(NULL, json);
    cJSON *d = cJSON_Parse(r.out);
    cr_assert_not_null(d, "%s", r.out);
    cr_expect_str_eq(cJSON_GetObjectItem(d, "schema")->valuestring, "vramfit/1");
    cr_expect_str_eq(cJSON_GetObjectItem(d, "model")->valuestring, "org/tiny@main");
    cr_expect_str_eq(cJSON_GetObjectItem(d, "repo_id")->valuestring, "org/tiny");
    cr_expect_str_eq(cJSON_GetObjectItem(d, "revision")->valuestring, "main");
    cr_expect(strstr(cJSON_GetObjectItem(d, "path")->valuestring, "models--org--tiny/snapshots/" H_MAIN));
    cJSON_Delete(d);
    vft_run_free(&r);
    const char *est[] = {"estimate", "org/tiny", "--method", "lora", "--gpu-memory", "24GiB",
                         "--batch-size", "1", "--max-seq-len", "512", NULL};
    r = cli_in(NULL, est);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "LoRA memory estimate for org/tiny@main"), "%s", r.out);
    vft_run_free(&r);
}

/* A snapshot of a cached model keeps its name; a snapshot made in one directory and read from
 * another (by another relative path) prints exactly the same. */
Test(hfcache, snapshots_are_the_same_wherever_they_are_made_and_read)
{
    char *a = vft_path(dir, "made here"), *b = vft_path(dir, "read there");
    cr_assert_eq(mkdir(a, 0755), 0);
    cr_assert_eq(mkdir(b, 0755), 0);
    const char *snap_id[] = {"snapshot", "org/tiny", "-o", "id.vfsnap", NULL};
    vft_run r = cli_in(a, snap_id);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "Source      org/tiny@main\n"), "%s", r.out);
    vft_run_free(&r);
    char cmd[8400];
    snprintf(cmd, sizeof cmd, "cp -r '%s/testdata/tiny-llama' '%s/' && mv '%s/id.vfsnap' '%s/'", VF_SOURCE_DIR,
             a, a, b);
    cr_assert_eq(system(cmd), 0);
    const char *snap_dir[] = {"snapshot", "tiny-llama", "-o", "../read there/dir.vfsnap", NULL};
    r = cli_in(a, snap_dir);
    cr_assert_eq(r.status, 0, "%s", r.err);
    vft_run_free(&r);
    const char *cmds[][8] = {{"inspect", "{}", NULL},
                             {"inspect", "{}", "--json", NULL},
                             {"adapters", "{}", NULL},
                             {"estimate", "{}", "--gpu-memory", "24GiB", "--max-tokens-per-gpu", "1024", NULL}};
    for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
        const char *from_dir[8], *from_snap[8], *from_id_snap[8];
        for (size_t k = 0; k < 8; k++) {
            bool ph = cmds[c][k] && strcmp(cmds[c][k], "{}") == 0;
            from_dir[k] = ph ? "tiny-llama" : cmds[c][k];
            from_snap[k] = ph ? "dir.vfsnap" : cmds[c][k];
            from_id_snap[k] = ph ? "id.vfsnap" : cmds[c][k];
        }
        vft_run x = cli_in(a, from_dir), y = cli_in(b, from_snap), z = cli_in(b, from_id_snap);
        cr_assert_eq(x.status, 0, "%s", x.err);
        cr_assert_eq(y.status, 0, "%s", y.err);
        cr_assert_eq(z.status, 0, "%s", z.err);
        if (c == 1) { /* JSON "path": the directory read vs the name the snapshot stores */
            cJSON *dx = cJSON_Parse(x.out), *dy = cJSON_Parse(y.out), *dz = cJSON_Parse(z.out);
            cr_expect_str_eq(cJSON_GetObjectItem(dx, "path")->valuestring, "tiny-llama");
            cr_expect_str_eq(cJSON_GetObjectItem(dy, "path")->valuestring, "tiny-llama");
            cr_expect_str_eq(cJSON_GetObjectItem(dz, "model")->valuestring, "org/tiny@main");
            cr_expect_str_eq(cJSON_GetObjectItem(dz, "repo_id")->valuestring, "org/tiny");
            cJSON_Delete(dx), cJSON_Delete(dy), cJSON_Delete(dz);
        } else {
            cr_expect_str_eq(x.out, y.out, "%s: the directory and its snapshot read elsewhere", cmds[c][0]);
        }
        cr_expect(!strstr(z.out, dir), "no path of the machine that made it: %s", z.out);
        vft_run_free(&x), vft_run_free(&y), vft_run_free(&z);
    }
    free(a), free(b);
}
