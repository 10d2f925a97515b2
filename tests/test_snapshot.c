/* test_snapshot.c - `vramfit snapshot` and the .vfsnap reader: byte-for-byte identical output of every
 * command on a snapshot and on its checkpoint, the committed testdata/snapshots against published
 * parameter counts, and rejection of corrupt or hostile snapshots, each with its own message. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zlib.h>

#include "vf_test_quant.h"
#include "vf_test_support.h"
#include "vramfit/vf_snapshot.h"

/* ---- round trips --------------------------------------------------------------------------------- */

/* Command lines whose output must be identical on a snapshot and on its checkpoint; "{}" is
 * replaced by the path. One line per command line. */
static const char *const roundtrip_cmds[][12] = {
    {"inspect", "{}", NULL},
    {"inspect", "{}", "--json", NULL},
    {"inspect", "{}", "--tensors", "--by-layer", NULL},
    {"inspect", "{}", "--json", "--tensors", "--by-layer", NULL},
    {"adapters", "{}", NULL},
    {"adapters", "{}", "--json", NULL},
    {"adapters", "{}", "--method", "osft", "--csv", NULL},
    {"estimate", "{}", "--method", "all", "--gpu-memory", "24GiB", "--batch-size", "4", "--max-seq-len",
     "2048", NULL},
    {"estimate", "{}", "--json", "--gpu", "A100-80GB", "--max-tokens-per-gpu", "4096", NULL},
    {"plan", "{}", "--gpu-memory", "80GiB", NULL},
    {"plan", "{}", "--json", "--gpu-memory", "80GiB", NULL},
    {"audit", VF_SOURCE_DIR "/testdata/tiny-llama-lora", "--base", "{}", NULL},
};

static vft_run run_with_path(const char *const *cmd, const char *path)
{
    const char *argv[16] = {VF_CLI};
    size_t n = 1;
    for (size_t i = 0; cmd[i] && n < 15; i++)
        argv[n++] = strcmp(cmd[i], "{}") == 0 ? path : cmd[i];
    argv[n] = NULL;
    return vft_exec(argv, NULL);
}

/* JSON "path" is where this run read the files (a directory, or the name a snapshot stores), the
 * one member that differs between a checkpoint and its snapshot (issue 11: snapshots keep no path);
 * it is removed from JSON documents before they are compared, every other byte is. */
static void drop_path(vft_run *r)
{
    cJSON *d = r->out_len && r->out[0] == '{' ? cJSON_Parse(r->out) : NULL;
    if (!d)
        return;
    cr_assert(cJSON_IsString(cJSON_GetObjectItem(d, "path")), "JSON carries the path: %.200s", r->out);
    cJSON_DeleteItemFromObject(d, "path");
    char *s = cJSON_PrintUnformatted(d);
    free(r->out);
    r->out = s;
    r->out_len = strlen(s);
    cJSON_Delete(d);
}

/* Runs every roundtrip command on `ckpt` and on `snap` and asserts identical status and output. */
static void assert_roundtrip(const char *ckpt, const char *snap)
{
    for (size_t c = 0; c < sizeof roundtrip_cmds / sizeof roundtrip_cmds[0]; c++) {
        vft_run a = run_with_path(roundtrip_cmds[c], ckpt);
        vft_run b = run_with_path(roundtrip_cmds[c], snap);
        if (strcmp(roundtrip_cmds[c][0], "audit") != 0) /* audit may rightly report differences */
            cr_assert_eq(a.status, 0, "%s %s: status %d: %s", roundtrip_cmds[c][0], ckpt, a.status, a.err);
        cr_assert_eq(a.status, b.status, "%s: status %d vs %d (%s)", roundtrip_cmds[c][0], a.status,
                     b.status, b.err);
        drop_path(&a);
        drop_path(&b);
        cr_assert_eq(a.out_len, b.out_len, "%s %s: stdout lengths differ", roundtrip_cmds[c][0], ckpt);
        cr_assert(memcmp(a.out, b.out, a.out_len) == 0, "%s %s: stdout differs", roundtrip_cmds[c][0],
                  ckpt);
        cr_assert_str_eq(a.err, b.err);
        vft_run_free(&a);
        vft_run_free(&b);
    }
}

static char *make_snapshot(const char *dir, const char *src, const char *name)
{
    char *out = vft_path(dir, name);
    vft_run r = vft_cli("snapshot", src, "-o", out, NULL);
    cr_assert_eq(r.status, 0, "snapshot %s: %s", src, r.err);
    cr_assert(strstr(r.out, "Snapshot    ") != NULL);
    vft_run_free(&r);
    return out;
}

static void roundtrip(const char *src)
{
    char *tmp = vft_tempdir();
    char *snap = make_snapshot(tmp, src, "x.vfsnap");
    assert_roundtrip(src, snap);
    free(snap);
    vft_rmtree(tmp);
    free(tmp);
}

/* A PEFT adapter and its snapshot: audit gives the same output on both; the model commands refuse
 * both alike, pointing to audit (issue 11). */
static void adapter_roundtrip(const char *src)
{
    static const char *const audit[][4] = {{"audit", "{}", NULL}, {"audit", "{}", "--json", NULL}};
    static const char *const inspect[] = {"inspect", "{}", NULL};
    char *tmp = vft_tempdir();
    char *snap = make_snapshot(tmp, src, "x.vfsnap");
    for (size_t c = 0; c < 2; c++) {
        vft_run a = run_with_path(audit[c], src), b = run_with_path(audit[c], snap);
        cr_assert_eq(a.status, 0, "%s", a.err);
        cr_assert_eq(b.status, 0, "%s", b.err);
        /* the adapter file is named where it was read (first line, or "adapter"): the rest is equal */
        cJSON *ja = cJSON_Parse(a.out), *jb = cJSON_Parse(b.out);
        if (ja && jb) {
            cJSON_DeleteItemFromObject(ja, "adapter");
            cJSON_DeleteItemFromObject(jb, "adapter");
            cr_assert(cJSON_Compare(ja, jb, true), "audit --json differs: %s vs %s", a.out, b.out);
        } else {
            cr_assert(strchr(a.out, '\n') && strchr(b.out, '\n'));
            cr_assert_str_eq(strchr(a.out, '\n'), strchr(b.out, '\n'));
        }
        cJSON_Delete(ja);
        cJSON_Delete(jb);
        vft_run_free(&a);
        vft_run_free(&b);
    }
    for (int k = 0; k < 2; k++) {
        vft_run r = run_with_path(inspect, k ? snap : src);
        cr_assert_eq(r.status, 4, "%s", r.err);
        cr_assert(strstr(r.err, "PEFT adapter") && strstr(r.err, "vramfit audit"), "%s", r.err);
        cr_assert_eq(r.out_len, 0);
        vft_run_free(&r);
    }
    free(snap);
    vft_rmtree(tmp);
    free(tmp);
}

Test(snapshot, roundtrip_real_bytes_testdata)
{
    roundtrip(VF_SOURCE_DIR "/testdata/tiny-llama");
    roundtrip(VF_SOURCE_DIR "/testdata/tiny-gpt2");
    adapter_roundtrip(VF_SOURCE_DIR "/testdata/tiny-llama-lora");
}

Test(snapshot, roundtrip_single_file_and_index_paths)
{
    roundtrip(VF_SOURCE_DIR "/testdata/tiny-llama/model.safetensors");
    roundtrip(VF_SOURCE_DIR "/testdata/tiny-gpt2/model.safetensors.index.json");
    roundtrip(VF_SOURCE_DIR "/testdata/tiny-gpt2/model-00002-of-00002.safetensors");
}

static const char *const gen_models[] = {
    "granite-3.3-2b-instruct", "llama-2-7b", "llama-3.1-8b", "llama-3.1-70b", "mistral-7b-v0.1",
    "mixtral-8x7b", "phi-3-mini-4k", "qwen2.5-7b", "gpt2",
};

Test(snapshot, roundtrip_generated_architectures)
{
    for (size_t i = 0; i < sizeof gen_models / sizeof gen_models[0]; i++) {
        char *src = vft_gen(gen_models[i]);
        roundtrip(src);
        free(src);
    }
}

/* Pre-quantized checkpoints (tests/support/vf_test_quant.c): the bitsandbytes quant states and
 * compressed-tensors weight_shape travel in format 2, every command reads the same from them. */
Test(snapshot, roundtrip_quantized_checkpoints)
{
    for (int s = 0; s < VFT_QSCHEME_COUNT; s++) {
        char *dir = vft_tempdir();
        vft_quant_model(dir, (vft_qscheme)s, NULL, 0);
        roundtrip(dir);
        vft_rmtree(dir);
        free(dir);
    }
}

Test(snapshot, snapshot_of_snapshot_is_identical)
{
    char *tmp = vft_tempdir();
    char *a = make_snapshot(tmp, VF_SOURCE_DIR "/testdata/tiny-gpt2", "a.vfsnap");
    char *b = make_snapshot(tmp, a, "b.vfsnap");
    size_t la, lb;
    char *da = vft_read_file(a, &la), *db = vft_read_file(b, &lb);
    cr_assert(la == lb && memcmp(da, db, la) == 0, "re-snapshotting changed the bytes");
    free(da);
    free(db);
    free(a);
    free(b);
    vft_rmtree(tmp);
    free(tmp);
}

/* ---- committed snapshots ------------------------------------------------------------------------ */

typedef struct published {
    const char *name;
    uint64_t parameters;
} published;

static const published committed[] = {
    {"granite-3.3-2b-instruct", 2533539840ull}, {"llama-3.1-8b", 8030261248ull},
    {"mistral-7b-v0.1", 7241732096ull},         {"mixtral-8x7b", 46702792704ull},
    {"phi-3-mini-4k", 3821079552ull},           {"qwen2.5-7b", 7615616512ull},
    {"gpt2", 124439808ull},
};

static uint64_t json_u64_member(const char *json, const char *key)
{
    cJSON *j = cJSON_Parse(json);
    cr_assert_not_null(j);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    cr_assert(cJSON_IsNumber(v));
    uint64_t x = (uint64_t)v->valuedouble;
    cJSON_Delete(j);
    return x;
}

Test(snapshot, committed_snapshots_match_published_parameter_counts)
{
    for (size_t i = 0; i < sizeof committed / sizeof committed[0]; i++) {
        char file[512];
        snprintf(file, sizeof file, "%s/testdata/snapshots/%s.vfsnap", VF_SOURCE_DIR, committed[i].name);
        vft_run r = vft_cli("inspect", file, "--json", NULL);
        cr_assert_eq(r.status, 0, "%s: %s", file, r.err);
        cr_assert_eq(json_u64_member(r.out, "parameters"), committed[i].parameters, "%s",
                     committed[i].name);
        vft_run_free(&r);
    }
}

/* The committed snapshots were made with `cd GEN && vramfit snapshot NAME -o ...`: from the generated
 * directory, opened by the same relative name, every command gives the same output. */
Test(snapshot, committed_snapshots_match_the_generator)
{
    cr_assert_eq(chdir(VF_GEN_DIR), 0);
    for (size_t i = 0; i < sizeof committed / sizeof committed[0]; i++) {
        char file[512];
        snprintf(file, sizeof file, "%s/testdata/snapshots/%s.vfsnap", VF_SOURCE_DIR, committed[i].name);
        assert_roundtrip(committed[i].name, file);
    }
}

/* ---- corrupt snapshots -------------------------------------------------------------------------- */

typedef struct fixture {
    char *dir, *snap;
    uint8_t *bytes;
    size_t len;
} fixture;

static fixture good_snapshot(void)
{
    fixture f = {vft_tempdir(), NULL, NULL, 0};
    f.snap = make_snapshot(f.dir, VF_SOURCE_DIR "/testdata/tiny-gpt2", "good.vfsnap");
    f.bytes = (uint8_t *)vft_read_file(f.snap, &f.len);
    cr_assert(f.len > VF_SNAPSHOT_HEADER_BYTES);
    return f;
}

static void fixture_free(fixture *f)
{
    free(f->bytes);
    free(f->snap);
    vft_rmtree(f->dir);
    free(f->dir);
}

/* Writes bytes to DIR/name, runs inspect on it, expects exit 4, empty stdout and `msg` on stderr. */
static void expect_rejected(const fixture *f, const char *name, const uint8_t *bytes, size_t len,
                            const char *msg)
{
    char *p = vft_path(f->dir, name);
    vft_write_file(p, bytes, len);
    vft_run r = vft_cli("inspect", p, NULL);
    cr_assert_eq(r.status, 4, "%s: status %d, stderr %s", name, r.status, r.err);
    cr_assert_eq(r.out_len, 0, "%s: stdout not empty", name);
    cr_assert(strstr(r.err, msg) != NULL, "%s: expected '%s' in: %s", name, msg, r.err);
    cr_assert(strstr(r.err, name) != NULL, "%s: error does not name the file: %s", name, r.err);
    cr_assert(strchr(r.err, '\n') == r.err + r.err_len - 1, "not one line: %s", r.err);
    vft_run_free(&r);
    free(p);
}

Test(snapshot, flipped_byte_in_compressed_stream)
{
    fixture f = good_snapshot();
    size_t at = VF_SNAPSHOT_HEADER_BYTES + (f.len - VF_SNAPSHOT_HEADER_BYTES) / 2;
    f.bytes[at] ^= 0x10;
    expect_rejected(&f, "flip.vfsnap", f.bytes, f.len, "corrupt compressed data");
    fixture_free(&f);
}

Test(snapshot, truncated)
{
    fixture f = good_snapshot();
    expect_rejected(&f, "trunc.vfsnap", f.bytes, f.len - 7, "truncated: header declares");
    expect_rejected(&f, "short.vfsnap", f.bytes, 20, "shorter than the 48-byte snapshot header");
    fixture_free(&f);
}

Test(snapshot, trailing_bytes)
{
    fixture f = good_snapshot();
    uint8_t *b = malloc(f.len + 3);
    memcpy(b, f.bytes, f.len);
    memcpy(b + f.len, "xyz", 3);
    expect_rejected(&f, "tail.vfsnap", b, f.len + 3, "unexpected bytes after the compressed data");
    free(b);
    fixture_free(&f);
}

Test(snapshot, wrong_snapshot_fingerprint)
{
    fixture f = good_snapshot();
    f.bytes[40] ^= 0x01;
    expect_rejected(&f, "fp.vfsnap", f.bytes, f.len, "snapshot fingerprint mismatch");
    fixture_free(&f);
}

Test(snapshot, wrong_magic_and_version)
{
    fixture f = good_snapshot();
    f.bytes[1] = 'X';
    expect_rejected(&f, "magic.vfsnap", f.bytes, f.len, "not a vramfit snapshot (wrong magic bytes)");
    f.bytes[1] = 'V';
    f.bytes[8] = 3; /* format 2 is read since the tensor data section (issue 10) */
    expect_rejected(&f, "version.vfsnap", f.bytes, f.len, "snapshot format version 3 is not supported");
    f.bytes[8] = 0;
    expect_rejected(&f, "version0.vfsnap", f.bytes, f.len, "snapshot format version 0 is not supported");
    fixture_free(&f);
}

/* Decompresses the payload, lets `edit` change it, then re-wraps it with a correct outer header and
 * snapshot fingerprint: how a per-header fingerprint or a payload field is corrupted on purpose. */
static uint8_t *rewrap(const fixture *f, void (*edit)(uint8_t *payload, size_t len), size_t *out_len)
{
    uint64_t plen = 0;
    for (int i = 7; i >= 0; i--)
        plen = plen << 8 | f->bytes[16 + i];
    uint8_t *payload = malloc(plen);
    z_stream z = {0};
    cr_assert_eq(inflateInit2(&z, 31), Z_OK);
    z.next_in = f->bytes + VF_SNAPSHOT_HEADER_BYTES;
    z.avail_in = (uInt)(f->len - VF_SNAPSHOT_HEADER_BYTES);
    z.next_out = payload;
    z.avail_out = (uInt)plen;
    cr_assert_eq(inflate(&z, Z_FINISH), Z_STREAM_END);
    inflateEnd(&z);
    edit(payload, plen);
    uLong bound = compressBound(plen) + 64;
    uint8_t *out = malloc(VF_SNAPSHOT_HEADER_BYTES + bound);
    memcpy(out, f->bytes, 32);
    z_stream d = {0};
    cr_assert_eq(deflateInit2(&d, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY), Z_OK);
    d.next_in = payload;
    d.avail_in = (uInt)plen;
    d.next_out = out + VF_SNAPSHOT_HEADER_BYTES;
    d.avail_out = (uInt)bound;
    cr_assert_eq(deflate(&d, Z_FINISH), Z_STREAM_END);
    size_t clen = d.total_out;
    deflateEnd(&d);
    for (int i = 0; i < 8; i++)
        out[24 + i] = (uint8_t)((uint64_t)clen >> (8 * i));
    XXH3_state_t *st = XXH3_createState();
    XXH3_128bits_reset(st);
    XXH3_128bits_update(st, out, 32);
    XXH3_128bits_update(st, payload, plen);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
    XXH3_freeState(st);
    memcpy(out + 32, c.digest, 16);
    free(payload);
    *out_len = VF_SNAPSHOT_HEADER_BYTES + clen;
    return out;
}

/* payload: u32 origin_len, origin, u32 shard count, u16 name_len, name, u64 size, u32 hlen, fp... */
static size_t first_shard_fp_offset(const uint8_t *p)
{
    size_t at = 4 + (p[0] | p[1] << 8 | p[2] << 16 | (size_t)p[3] << 24) + 4;
    size_t nlen = p[at] | p[at + 1] << 8;
    return at + 2 + nlen + 8 + 4;
}

static void flip_header_fp(uint8_t *p, size_t len)
{
    size_t at = first_shard_fp_offset(p);
    cr_assert(at < len);
    p[at] ^= 0x80;
}

static void flip_header_byte(uint8_t *p, size_t len)
{
    size_t at = first_shard_fp_offset(p) + 16 + 1; /* second byte of the header JSON */
    cr_assert(at < len);
    p[at] = '!';
}

Test(snapshot, wrong_header_fingerprint)
{
    fixture f = good_snapshot();
    size_t len;
    uint8_t *b = rewrap(&f, flip_header_fp, &len);
    expect_rejected(&f, "hfp.vfsnap", b, len, "header fingerprint mismatch");
    free(b);
    b = rewrap(&f, flip_header_byte, &len);
    expect_rejected(&f, "hbyte.vfsnap", b, len, "header fingerprint mismatch");
    free(b);
    fixture_free(&f);
}

/* ---- hostile contents, built with the encoder (which encodes whatever it is given) --------------- */

#define GOOD_HEADER "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}"

static uint8_t *encode_one(const char *origin, const char *shard, const char *header, uint64_t size,
                           const vf_snapshot_file *aux, size_t naux, size_t *len)
{
    vf_snapshot_file s = {shard, size, (const uint8_t *)header, strlen(header)};
    uint8_t *out = NULL;
    vf_error err = {0};
    cr_assert_eq(vf_snapshot_encode(origin, &s, 1, aux, naux, &out, len, &err), VF_OK, "%s",
                 err.message);
    return out;
}

static void expect_encoded_rejected(const fixture *f, const char *name, const char *origin,
                                    const char *shard, const char *header, uint64_t size,
                                    const vf_snapshot_file *aux, size_t naux, int code, const char *msg)
{
    size_t len;
    uint8_t *b = encode_one(origin, shard, header, size, aux, naux, &len);
    vf_checkpoint *cp = (vf_checkpoint *)1;
    vf_error err = {0};
    cr_assert_eq(vf_snapshot_parse(b, len, name, &cp, &err), code, "%s: %s (%s)", name,
                 vf_status_name(err.code), err.message);
    cr_assert_null(cp);
    expect_rejected(f, name, b, len, msg);
    free(b);
}

Test(snapshot, hostile_file_names)
{
    fixture f = good_snapshot();
    uint64_t size = 8 + strlen(GOOD_HEADER) + 8;
    const char *bad[] = {"../evil.safetensors", "a/b.safetensors", "..", ".", "/etc/passwd",
                         "back\\slash.safetensors", "esc\x1b[31m.safetensors"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "name%zu.vfsnap", i);
        expect_encoded_rejected(&f, name, "/models/x", bad[i], GOOD_HEADER, size, NULL, 0,
                                VF_ERR_UNSAFE_PATH, "is not a plain file name");
    }
    vf_snapshot_file aux = {"../config.json", 0, (const uint8_t *)"{}", 2};
    expect_encoded_rejected(&f, "aux.vfsnap", "/models/x", "model.safetensors", GOOD_HEADER, size,
                            &aux, 1, VF_ERR_UNSAFE_PATH, "is not a plain file name");
    aux.name = "passwd";
    expect_encoded_rejected(&f, "aux2.vfsnap", "/models/x", "model.safetensors", GOOD_HEADER, size,
                            &aux, 1, VF_ERR_SNAPSHOT, "not an auxiliary file a snapshot may hold");
    expect_encoded_rejected(&f, "origin.vfsnap", "/models/\x1b]0;x\x07", "model.safetensors",
                            GOOD_HEADER, size, NULL, 0, VF_ERR_SNAPSHOT, "control characters");
    fixture_free(&f);
}

Test(snapshot, header_failing_parser_checks_names_snapshot_and_shard)
{
    fixture f = good_snapshot();
    const char *h = "{\"t\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}";
    expect_encoded_rejected(&f, "info.vfsnap", "/models/x", "model.safetensors", h,
                            8 + strlen(h) + 8, NULL, 0, VF_ERR_TENSOR_INFO,
                            "info.vfsnap:model.safetensors: tensor 't'");
    /* the declared file size must match the data the header describes */
    expect_encoded_rejected(&f, "size.vfsnap", "/models/x", "model.safetensors", GOOD_HEADER,
                            8 + strlen(GOOD_HEADER) + 12, NULL, 0, VF_ERR_INCOMPLETE,
                            "size.vfsnap:model.safetensors");
    fixture_free(&f);
}

Test(snapshot, origin_is_a_label_never_opened)
{
    fixture f = good_snapshot();
    size_t len;
    uint8_t *b = encode_one("/nonexistent/place/model", "model.safetensors", GOOD_HEADER,
                            8 + strlen(GOOD_HEADER) + 8, NULL, 0, &len);
    char *p = vft_path(f.dir, "origin.vfsnap");
    vft_write_file(p, b, len);
    vft_run r = vft_cli("inspect", p, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    /* issue 11: a path stored by an older snapshot is shown by its base name only */
    cr_assert(strstr(r.out, "Checkpoint    model\n") != NULL, "%s", r.out);
    cr_assert(strstr(r.out, "/nonexistent") == NULL, "%s", r.out);
    vft_run_free(&r);
    free(p);
    free(b);
    fixture_free(&f);
}

/* Every truncation and every single-byte change of a valid snapshot is rejected cleanly or, for the
 * few gzip header bytes nothing covers (mtime, OS), still gives the very same checkpoint. */
Test(snapshot, every_truncation_and_byte_flip_is_handled)
{
    fixture f = good_snapshot();
    vf_error err;
    for (size_t n = 0; n < f.len; n++) {
        vf_checkpoint *cp = NULL;
        cr_assert_neq(vf_snapshot_parse(f.bytes, n, "t", &cp, &err), VF_OK, "prefix %zu accepted", n);
    }
    for (size_t i = 0; i < f.len; i++) {
        vf_checkpoint *cp = NULL;
        f.bytes[i] ^= 0x5a;
        int rc = vf_snapshot_parse(f.bytes, f.len, "t", &cp, &err);
        f.bytes[i] ^= 0x5a;
        if (rc == VF_OK) {
            cr_assert(i >= VF_SNAPSHOT_HEADER_BYTES + 4 && i < VF_SNAPSHOT_HEADER_BYTES + 10,
                      "flip at %zu accepted", i);
            cr_assert_eq(vf_checkpoint_shard_count(cp), 2);
        }
        vf_checkpoint_free(cp);
    }
    fixture_free(&f);
}

/* ---- the command itself ------------------------------------------------------------------------- */

Test(snapshot, output_is_atomic_and_never_clobbers_other_files)
{
    char *tmp = vft_tempdir();
    char *notes = vft_path(tmp, "notes.txt");
    vft_write_file(notes, "keep me", 7);
    vft_run r = vft_cli("snapshot", VF_SOURCE_DIR "/testdata/tiny-llama", "-o", notes, NULL);
    cr_assert_eq(r.status, 2, "%s", r.err);
    cr_assert(strstr(r.err, "refusing to overwrite") != NULL);
    size_t len;
    char *d = vft_read_file(notes, &len);
    cr_assert(len == 7 && memcmp(d, "keep me", 7) == 0);
    free(d);
    vft_run_free(&r);

    char *missing = vft_path(tmp, "no/such/dir/x.vfsnap");
    r = vft_cli("snapshot", VF_SOURCE_DIR "/testdata/tiny-llama", "-o", missing, NULL);
    cr_assert_eq(r.status, 3, "%s", r.err);
    cr_assert_eq(r.out_len, 0);
    vft_run_free(&r);

    char *out = vft_path(tmp, "bad.vfsnap");
    char *bad = vft_path(tmp, "bad.safetensors");
    vft_write_file(bad, "\x02\0\0\0\0\0\0\0{}x", 11);
    r = vft_cli("snapshot", bad, "-o", out, NULL);
    cr_assert_eq(r.status, 4, "%s", r.err);
    cr_assert_eq(r.out_len, 0);
    struct stat st;
    cr_assert_neq(stat(out, &st), 0, "output written for a bad checkpoint");
    vft_run_free(&r);

    r = vft_cli("snapshot", VF_SOURCE_DIR "/testdata/tiny-llama", NULL);
    cr_assert_eq(r.status, 2);
    vft_run_free(&r);
    r = vft_cli("snapshot", "--help", NULL);
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "--output") != NULL && strstr(r.out, "--force") != NULL);
    vft_run_free(&r);
    free(notes);
    free(missing);
    free(out);
    free(bad);
    vft_rmtree(tmp);
    free(tmp);
}
