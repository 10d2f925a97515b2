/* test_hubhash.c - `vramfit verify --sha256`: a Hugging Face cache whose blob names are the real
 * digests of their contents (computed here by coreutils' sha256sum / sha1sum, independently of
 * vramfit: SHA-256 for the LFS shard, the git blob id for config.json), one corrupted blob, an
 * interrupted download, a link escaping the cache, a plain directory (digests as sha256sum prints
 * them), and a manifest round trip carrying SHA-256. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vf_test_support.h"

#define REV "0123456789abcdef0123456789abcdef01234567"
#define TINY VF_SOURCE_DIR "/testdata/tiny-llama"

static char *tmp;

static void setup(void)
{
    tmp = vft_tempdir();
}

static void teardown(void)
{
    vft_rmtree(tmp);
    free(tmp);
}

TestSuite(hubhash, .init = setup, .fini = teardown);

/* stdout of `sh -c script` with its trailing newline removed; the script must succeed. */
static char *sh_out(const char *script)
{
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    vft_run r = vft_exec(argv, NULL);
    cr_assert_eq(r.status, 0, "%s: %s", script, r.err);
    char *s = strdup(r.out);
    s[strcspn(s, "\n")] = '\0';
    vft_run_free(&r);
    return s;
}

static void sh(const char *script)
{
    free(sh_out(script));
}

/* A cache at tmp/hub holding acme/tiny (the tiny-llama shard and config) the way huggingface_hub
 * lays it out: blobs named by the Hub's checksums, snapshot links into them, refs/main. Returns
 * the shard's SHA-256. */
static char *make_cache(void)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "set -e; R='%s/hub/models--acme--tiny'; mkdir -p \"$R/blobs\" \"$R/refs\" \"$R/snapshots/" REV "\"; "
             "printf %%s " REV " > \"$R/refs/main\"; "
             "s=$(sha256sum '" TINY "/model.safetensors' | cut -d' ' -f1); cp '" TINY "/model.safetensors' \"$R/blobs/$s\"; "
             "ln -s \"../../blobs/$s\" \"$R/snapshots/" REV "/model.safetensors\"; "
             "n=$(wc -c < '" TINY "/config.json'); "
             "g=$( { printf 'blob %%d\\0' \"$n\"; cat '" TINY "/config.json'; } | sha1sum | cut -d' ' -f1); "
             "cp '" TINY "/config.json' \"$R/blobs/$g\"; ln -s \"../../blobs/$g\" \"$R/snapshots/" REV "/config.json\"; "
             "echo $s",
             tmp);
    return sh_out(cmd);
}

static vft_run verify_cached(const char *a, const char *b, const char *c)
{
    char *hub = vft_path(tmp, "hub");
    vft_run r = vft_cli("verify", "acme/tiny", "--hf-cache", hub, a, b, c, (char *)NULL);
    free(hub);
    return r;
}

Test(hubhash, every_file_of_an_intact_cache_matches_its_blob_name)
{
    char *sha = make_cache();
    vft_run r = verify_cached("--sha256", NULL, NULL);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "2 files in a Hugging Face cache: 2 match"), "%s", r.out);
    cr_expect(strstr(r.out, sha), "shard digest %s missing: %s", sha, r.out);
    cr_expect(strstr(r.out, "config.json (349 bytes, git-sha1 "), "%s", r.out);
    cr_expect_str_eq(r.err, "");
    vft_run_free(&r);
    free(sha);
}

Test(hubhash, a_corrupted_blob_is_a_difference_exit_5)
{
    free(make_cache());
    char cmd[1024];
    /* flip a byte in the data region (offset 100000 of 215792), not in the header */
    snprintf(cmd, sizeof cmd, "f=$(ls '%s'/hub/models--acme--tiny/blobs/*[0-9a-f] | awk 'length($0) > 100' | head -1); "
                              "printf 'X' | dd of=\"$f\" bs=1 seek=100000 conv=notrunc 2>/dev/null", tmp);
    sh(cmd);
    vft_run r = verify_cached("--sha256", NULL, NULL);
    cr_expect_eq(r.status, 5, "%s", r.err);
    cr_expect(strstr(r.out, "differs  model.safetensors: sha256 "), "%s", r.out);
    cr_expect(strstr(r.out, "1 match"), "%s", r.out);
    cr_expect(strstr(r.err, "1 file differs from the Hub's checksums"), "%s", r.err);
    cr_expect_eq(strchr(r.err, '\n'), r.err + r.err_len - 1, "one stderr line: %s", r.err);
    vft_run_free(&r);
}

Test(hubhash, data_inside_a_cache_checks_sha256_by_default)
{
    free(make_cache());
    vft_run r = verify_cached("--data", NULL, NULL);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "SHA-256     2 files"), "%s", r.out);
    vft_run_free(&r);
    r = verify_cached("--data", "--no-sha256", NULL);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect_null(strstr(r.out, "SHA-256"), "%s", r.out);
    vft_run_free(&r);
}

Test(hubhash, a_dangling_link_is_named_as_an_interrupted_download)
{
    free(make_cache());
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "ln -s ../../blobs/0000 '%s/hub/models--acme--tiny/snapshots/" REV "/tokenizer.json'", tmp);
    sh(cmd);
    vft_run r = verify_cached("--sha256", NULL, NULL);
    cr_expect_eq(r.status, 3, "%s", r.err);
    cr_expect(strstr(r.err, "tokenizer.json: dangling link: the download is incomplete"), "%s", r.err);
    cr_expect_str_eq(r.out, "");
    vft_run_free(&r);
}

Test(hubhash, a_file_that_is_not_a_link_into_the_blobs_is_refused)
{
    free(make_cache());
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "echo secret > '%s/outside'; ln -s ../../../../outside '%s/hub/models--acme--tiny/snapshots/" REV "/x.txt'",
             tmp, tmp);
    sh(cmd);
    vft_run r = verify_cached("--sha256", NULL, NULL);
    cr_expect_eq(r.status, 4, "%s", r.err);
    cr_expect(strstr(r.err, "x.txt: not a link into the cache's blobs directory"), "%s", r.err);
    cr_expect_null(strstr(r.err, "secret"));
    vft_run_free(&r);
}

Test(hubhash, a_plain_directory_lists_digests_as_sha256sum_prints_them)
{
    char *want = sh_out("cd '" TINY "' && sha256sum model.safetensors");
    vft_run r = vft_cli("verify", TINY, "--sha256", (char *)NULL);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "not in a Hugging Face cache"), "%s", r.out);
    cr_expect(strstr(r.out, want), "want '%s' in %s", want, r.out);
    vft_run_free(&r);
    free(want);
}

Test(hubhash, manifests_carry_sha256_and_against_compares_it)
{
    char *dir = vft_path(tmp, "copy"), *man = vft_path(tmp, "m.json"), cmd[2048];
    snprintf(cmd, sizeof cmd, "mkdir '%s' && cp '" TINY "'/* '%s'/", dir, dir);
    sh(cmd);
    vft_run r = vft_cli("verify", dir, "--sha256", "--manifest", man, (char *)NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    vft_run_free(&r);
    size_t len;
    char *text = vft_read_file(man, &len);
    char *want = sh_out("sha256sum '" TINY "/model.safetensors' | cut -d' ' -f1");
    char key[128];
    snprintf(key, sizeof key, "\"sha256\":\"%s\"", want);
    cr_expect(strstr(text, key), "%s not in %s", key, text);
    free(text);
    /* --against alone computes SHA-256 because the manifest has it */
    r = vft_cli("verify", TINY, "--against", man, (char *)NULL);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "SHA-256"), "%s", r.out);
    vft_run_free(&r);
    snprintf(cmd, sizeof cmd, "printf 'X' | dd of='%s/model.safetensors' bs=1 seek=100000 conv=notrunc 2>/dev/null", dir);
    sh(cmd);
    r = vft_cli("verify", dir, "--against", man, (char *)NULL);
    cr_expect_eq(r.status, 5, "%s", r.err);
    cr_expect(strstr(r.out, "differs  file model.safetensors: sha256 "), "%s", r.out);
    vft_run_free(&r);
    free(want);
    free(dir);
    free(man);
}

Test(hubhash, a_malformed_sha256_in_a_manifest_is_rejected)
{
    char *man = vft_path(tmp, "m.json"), cmd[2048];
    vft_run r = vft_cli("verify", TINY, "--sha256", "--manifest", man, (char *)NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    vft_run_free(&r);
    snprintf(cmd, sizeof cmd, "sed -i 's/\"sha256\":\"[0-9a-f]*\"/\"sha256\":\"ABC\"/' '%s'", man);
    sh(cmd);
    r = vft_cli("verify", TINY, "--against", man, (char *)NULL);
    cr_expect_eq(r.status, 4, "%s", r.err);
    cr_expect(strstr(r.err, "\"sha256\" is not 64 lower-case hex digits"), "%s", r.err);
    cr_expect_str_eq(r.out, "");
    vft_run_free(&r);
    free(man);
}

Test(hubhash, a_snapshot_has_no_files_to_hash)
{
    vft_run r = vft_cli("verify", VF_SOURCE_DIR "/testdata/snapshots/granite-3.3-2b-instruct.vfsnap", "--sha256",
                        (char *)NULL);
    cr_expect_eq(r.status, 2, "%s", r.err);
    cr_expect(strstr(r.err, "holds no tensor data"), "%s", r.err);
    vft_run_free(&r);
}

/* libcrypto is opened on first use: without a usable one only SHA-256 fails, with one clear line. */
Test(hubhash, without_libcrypto_only_sha256_fails_and_says_why)
{
    free(make_cache());
    char *hub = vft_path(tmp, "hub");
    const char *env[] = {"LD_LIBRARY_PATH=" VF_FAKE_LIBCRYPTO_DIR, NULL};
    vft_opts o = {.env = env};
    const char *sha[] = {"verify", "acme/tiny", "--hf-cache", hub, "--sha256", NULL};
    vft_run r = vft_cli_opts(&o, sha);
    cr_expect_neq(r.status, 0, "%s", r.out);
    cr_expect(strstr(r.out, "libcrypto.so.3") || strstr(r.err, "libcrypto.so.3"), "out %s err %s", r.out, r.err);
    cr_expect(strstr(r.out, "lacks the EVP digest functions") || strstr(r.err, "lacks the EVP digest functions"),
              "out %s err %s", r.out, r.err);
    vft_run_free(&r);
    const char *inspect[] = {"inspect", "acme/tiny", "--hf-cache", hub, "--json", NULL};
    r = vft_cli_opts(&o, inspect);
    cr_expect_eq(r.status, 0, "inspect needs no libcrypto: %s", r.err);
    vft_run_free(&r);
    free(hub);
}
