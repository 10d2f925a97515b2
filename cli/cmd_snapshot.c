/* cmd_snapshot.c - `vramfit snapshot PATH -o OUT.vfsnap`: a header-only, compressed bundle of a
 * checkpoint that every command reads exactly like the checkpoint itself (format:
 * docs/snapshot-format.md, vramfit/vf_snapshot.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vf_cli.h"
#include "vramfit/vf_snapshot.h"

enum { OPT_OUTPUT = 1, OPT_FORCE, OPT_JSON };

static const vf_opt snapshot_table[] = {
    VF_OPT_COLUMN(21),
    {"output", 'o', "FILE", OPT_OUTPUT, "snapshot to write (by convention *.vfsnap); written to a temporary\n"
                                        "file beside it and renamed, so FILE is never half-written", VF_VALUES_FILE},
    {"force", 'f', NULL, OPT_FORCE, "overwrite FILE even when it is not a vramfit snapshot"},
    {"json", 0, NULL, OPT_JSON, "the summary as one JSON document (exact sizes)"},
    VF_OPEN_OPTS,
    VF_GLOBAL_OPTS,
    VF_OPT_END,
};

typedef struct snapshot_opts {
    const char *out;
    bool force, json;
} snapshot_opts;

static int snapshot_store(void *parsed, const vf_opt *opt, const char *val)
{
    snapshot_opts *opts = parsed;
    opts->out = opt->id == OPT_OUTPUT ? val : opts->out;
    opts->force |= opt->id == OPT_FORCE;
    opts->json |= opt->id == OPT_JSON;
    return VF_EXIT_OK;
}

/* The auxiliary files a snapshot carries beside the headers. */
static const char *const aux_names[] = {"config.json", "generation_config.json", "adapter_config.json",
                                        "model.safetensors.index.json"};

static void summary(vf_buf *b, const vf_checkpoint *cp, const char *out, size_t written)
{
    uint64_t headers = 0, tensors = 0, aux = 0;
    char c1[32], c2[32], c3[32];
    for (size_t i = 0; i < vf_checkpoint_shard_count(cp); i++) {
        size_t len;
        const vf_st_header *h = vf_checkpoint_shard(cp, i)->header;
        vf_st_header_raw(h, &len);
        headers += len;
        tensors += vf_st_header_count(h);
    }
    vf_buf_printf(b, "Snapshot    %s\n", out);
    vf_buf_printf(b, "Source      %s\n", vf_checkpoint_name(cp));
    vf_buf_printf(b, "Shards      %s (%s tensors, %s header bytes)\n",
                  vf_fmt_count(vf_checkpoint_shard_count(cp), c1), vf_fmt_count(tensors, c2),
                  vf_fmt_count(headers, c3));
    for (size_t i = 0; vf_ui_verbose() && i < vf_checkpoint_shard_count(cp); i++) {
        size_t len;
        vf_st_header_raw(vf_checkpoint_shard(cp, i)->header, &len);
        vf_buf_printf(b, "  %-40s %s header bytes\n", vf_checkpoint_shard(cp, i)->name, vf_fmt_count(len, c1));
    }
    vf_buf_printf(b, "Files       ");
    for (size_t i = 0; i < sizeof aux_names / sizeof aux_names[0]; i++) {
        size_t len;
        if (vf_checkpoint_aux(cp, aux_names[i], &len)) {
            vf_buf_printf(b, "%s%s", aux ? ", " : "", aux_names[i]);
            aux += len;
        }
    }
    vf_buf_printf(b, "%s\n", aux ? "" : "none");
    vf_buf_printf(b, "Size        %s bytes\n", vf_fmt_count(written, c1));
}

static void summary_json(vf_buf *b, const vf_checkpoint *cp, const char *out, size_t written)
{
    vf_jw j = {.b = b};
    vf_jw_doc(&j);
    vf_jw_str(&j, "snapshot", out);
    vf_jw_origin(&j, cp);
    uint64_t tensors = 0;
    vf_jw_arr(&j, "shards");
    for (size_t i = 0; i < vf_checkpoint_shard_count(cp); i++) {
        const vf_shard *s = vf_checkpoint_shard(cp, i);
        size_t len;
        vf_st_header_raw(s->header, &len);
        tensors += vf_st_header_count(s->header);
        vf_jw_obj(&j, NULL);
        vf_jw_str(&j, "name", s->name);
        vf_jw_u64(&j, "tensors", vf_st_header_count(s->header));
        vf_jw_u64(&j, "header_bytes", len);
        vf_jw_obj_end(&j);
    }
    vf_jw_arr_end(&j);
    vf_jw_u64(&j, "tensors", tensors);
    vf_jw_arr(&j, "files");
    for (size_t i = 0; i < sizeof aux_names / sizeof aux_names[0]; i++)
        if (vf_checkpoint_aux(cp, aux_names[i], NULL))
            vf_jw_str(&j, NULL, aux_names[i]);
    vf_jw_arr_end(&j);
    vf_jw_u64(&j, "size_bytes", written);
    vf_jw_obj_end(&j);
}

/* An existing regular OUT that is not a snapshot is most likely a mistake (a shard, a config). A
 * device or a FIFO is written through; a directory is refused by vf_output_prepare. */
static bool refuse_overwrite(const char *out)
{
    struct stat st;
    if (stat(out, &st) != 0 || !S_ISREG(st.st_mode))
        return false;
    return !vf_snapshot_sniff(out);
}

/* The snapshot of cp prepared as OUT (never PATH nor one of cp's files); the exit code. */
static int prepare_snapshot(const vf_checkpoint *cp, const char *path, const char *out,
                            size_t *written, vf_output **o)
{
    uint8_t *data = NULL;
    vf_error err = {0};
    if (vf_snapshot_write(cp, &data, written, &err) != VF_OK)
        return vf_cli_fail(&err);
    const char *const inputs[] = {path, NULL};
    int rc = vf_cli_output_prepare(out, cp, inputs, data, *written, o);
    free(data);
    return rc;
}

static int snapshot_run(int argc, char **argv)
{
    vf_cmdline line;
    snapshot_opts opts = {0};
    int rc = vf_cli_parse(&vf_snapshot_command, argc, argv, &line, &opts, snapshot_store);
    if (rc != VF_CLI_CONTINUE)
        return rc;
    const char *path = line.operand, *out = opts.out;
    if (!out || !*out)
        return vf_usage_error("snapshot", "missing -o OUT.vfsnap (see 'vramfit snapshot --help')");
    if (!opts.force && refuse_overwrite(out))
        return vf_usage_error("snapshot",
                              "%s exists and is not a vramfit snapshot; refusing to overwrite it "
                              "(use --force)",
                              out);
    vf_checkpoint *cp = NULL;
    vf_error err = {0};
    line.open.flags |= VF_OPEN_KEEP_HEADERS; /* a snapshot holds the header bytes */
    if (vf_checkpoint_open(path, &line.open, &cp, &err) != VF_OK)
        return vf_cli_fail(&err);
    size_t written = 0;
    vf_output *o = NULL;
    rc = prepare_snapshot(cp, path, out, &written, &o);
    if (rc != VF_EXIT_OK) {
        vf_checkpoint_free(cp);
        return rc;
    }
    vf_buf b = {0};
    if (opts.json)
        summary_json(&b, cp, out, written);
    else
        summary(&b, cp, out, written);
    vf_checkpoint_free(cp);
    rc = vf_cli_flush_commit(&b, o);
    vf_buf_free(&b);
    return rc;
}

const vf_command vf_snapshot_command = {
    .name = "snapshot",
    .summary = "write a header-only .vfsnap bundle that every command reads",
    .operand = "PATH",
    .synopsis =
        "usage: vramfit snapshot PATH -o OUT.vfsnap [--force] [--json] [--revision REV] [--hf-cache DIR]\n\n"
        "Writes a header snapshot of the checkpoint at PATH: every shard's file name, file size\n"
        "and verbatim header bytes, the index, config.json, generation_config.json and\n"
        "adapter_config.json when present, with an XXH3-128 fingerprint of each header and of\n"
        "the whole, gzip-compressed. A few kilobytes instead of gigabytes: carry it across an air\n"
        "gap and run inspect, estimate, plan, adapters or audit --base on it anywhere; output is\n"
        "byte-for-byte what the checkpoint itself gives. Tensor data is never read or stored.\n"
        "Format: docs/snapshot-format.md.\n\n",
    .options = snapshot_table,
    .footer = "\n--verbose lists every shard stored with its header size.\n\n"
              "exit codes: 0 written, 2 usage, 3 I/O error, 4 invalid checkpoint or snapshot.\n",
    .run = snapshot_run,
};
