/* cmd_place.c - `vramfit place PATH`: the inference device map accelerate's infer_auto_device_map
 * would compute (vf_place.h), as a table or JSON, with the verdict fits on GPUs / needs CPU offload /
 * does not fit (disk offload). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_cli.h"
#include "vf_est_cli.h"
#include "vramfit/vf_place.h"

enum { OPT_GPUS = 1, OPT_GPU, OPT_GPU_MEMORY, OPT_MAX_MEMORY, OPT_HOST, OPT_DTYPE, OPT_NO_SPLIT, OPT_JSON };

static const vf_opt place_table[] = {
    {"gpus", 0, "N", OPT_GPUS, "GPUs 0..N-1 (default 1) of --gpu-memory SIZE or --gpu NAME each"},
    {"gpu-memory", 0, "SIZE", OPT_GPU_MEMORY, "memory per GPU (48GiB, 80GB, ...)"},
    {"gpu", 0, "NAME", OPT_GPU, "a built-in accelerator ('vramfit gpus')", VF_VALUES_GPU},
    {"max-memory", 0, "LIST", OPT_MAX_MEMORY, "accelerate's max_memory: 0=70GiB,1=80GiB,cpu=200GiB (instead of\n"
                                              "--gpus/--gpu-memory); without cpu=, what does not fit goes to disk"},
    {"host-memory", 0, "SIZE", OPT_HOST, "the CPU's share (max_memory['cpu']) with --gpus"},
    {"dtype", 0, "D", OPT_DTYPE, "fp32|bf16|fp16: floating weights take min(D, stored) bytes, as\n"
                                 "accelerate's dtype (default: as stored)", VF_VALUES_LIST, "fp32 bf16 fp16"},
    {"no-split", 0, "LIST", OPT_NO_SPLIT, "modules kept whole, comma-separated, '*' one name component\n"
                                          "(default: every transformer block, e.g. model.layers.*; 'none': none)"},
    {"json", 0, NULL, OPT_JSON, "JSON: device_map (accelerate's module names), devices, verdict"},
    VF_OPEN_OPTS,
    VF_GLOBAL_OPTS,
    VF_OPT_END,
};

typedef struct place_opts {
    const char *path;
    vf_open_options open;
    uint64_t gpus, gpu_memory, host;
    const char *gpu, *max_memory, *no_split;
    uint32_t dtype_bytes;
    bool json;
    vf_place_device dev[VF_PLACE_MAX_DEVICES];
    size_t ndev;
} place_opts;

static int size_opt(const char *opt, const char *val, uint64_t *out)
{
    char why[VF_GPU_MSG_MAX];
    if (vf_parse_size(val, out, why))
        return VF_EXIT_OK;
    return vf_usage_error("place", "--%s: %s", opt, why);
}

/* --dtype: the bytes of "fp32 bf16 fp16" (the table's values). */
static int dtype_opt(place_opts *opts, const vf_opt *opt, const char *val)
{
    size_t i = 0;
    int rc = vf_opt_choice("place", opt, val, &i);
    opts->dtype_bytes = i == 0 ? 4 : 2;
    return rc;
}

static int place_store(void *parsed, const vf_opt *opt, const char *val)
{
    place_opts *opts = parsed;
    switch (opt->id) {
    case OPT_GPUS:
        if (!vf_parse_u64("place", "gpus", val, &opts->gpus))
            return VF_EXIT_USAGE;
        return opts->gpus >= 1 && opts->gpus <= VF_PLACE_MAX_DEVICES - 1
                   ? VF_EXIT_OK
                   : vf_usage_error("place", "--gpus must be between 1 and %u", VF_PLACE_MAX_DEVICES - 1);
    case OPT_GPU: opts->gpu = val; return VF_EXIT_OK;
    case OPT_GPU_MEMORY: return size_opt("gpu-memory", val, &opts->gpu_memory);
    case OPT_HOST: return size_opt("host-memory", val, &opts->host);
    case OPT_MAX_MEMORY: opts->max_memory = val; return VF_EXIT_OK;
    case OPT_DTYPE: return dtype_opt(opts, opt, val);
    case OPT_NO_SPLIT: opts->no_split = strcmp(val, "none") == 0 ? "" : val; return VF_EXIT_OK;
    case OPT_JSON: opts->json = true; return VF_EXIT_OK;
    default: return VF_EXIT_OK;
    }
}

/* One "KEY=SIZE" of --max-memory: KEY a GPU ordinal or "cpu". */
static int max_memory_item(place_opts *opts, const char *s, size_t len)
{
    char item[128], why[VF_GPU_MSG_MAX];
    if (len >= sizeof item || opts->ndev >= VF_PLACE_MAX_DEVICES - 1)
        return vf_usage_error("place", "--max-memory: too long or too many devices");
    memcpy(item, s, len);
    item[len] = 0;
    char *eq = strchr(item, '=');
    if (!eq)
        return vf_usage_error("place", "--max-memory: '%s' is not KEY=SIZE (0=70GiB, cpu=200GiB)", item);
    *eq = 0;
    vf_place_device d = {VF_PLACE_CPU, 0, 0};
    if (strcmp(item, "cpu") != 0) {
        char *end;
        unsigned long v = strtoul(item, &end, 10);
        if (!*item || *end || item[0] == '-' || v >= 4096)
            return vf_usage_error("place", "--max-memory: device '%s' is neither a GPU ordinal nor cpu "
                                           "(disk is always last and unlimited)", item);
        d = (vf_place_device){VF_PLACE_GPU, (uint32_t)v, 0};
    }
    if (!vf_parse_size(eq + 1, &d.max_memory, why))
        return vf_usage_error("place", "--max-memory %s: %s", item, why);
    opts->dev[opts->ndev++] = d;
    return VF_EXIT_OK;
}

static int devices(place_opts *opts)
{
    if (opts->max_memory) {
        if (opts->gpus || opts->gpu || opts->gpu_memory || opts->host)
            return vf_usage_error("place", "--max-memory replaces --gpus, --gpu, --gpu-memory and "
                                           "--host-memory");
        for (const char *s = opts->max_memory; *s;) {
            const char *e = strchr(s, ',');
            size_t len = e ? (size_t)(e - s) : strlen(s);
            int rc = max_memory_item(opts, s, len);
            if (rc != VF_EXIT_OK)
                return rc;
            s = e ? e + 1 : s + len;
        }
        return opts->ndev ? VF_EXIT_OK : vf_usage_error("place", "--max-memory lists no device");
    }
    if (!!opts->gpu == !!opts->gpu_memory)
        return vf_usage_error("place", "give --max-memory, or --gpu-memory SIZE or --gpu NAME (one)");
    uint64_t mem = opts->gpu_memory;
    if (opts->gpu) {
        const vf_gpu_model *g = NULL;
        int rc = vf_cli_find_gpu("place", opts->gpu, &g);
        if (rc != VF_EXIT_OK)
            return rc;
        mem = g->bytes;
    }
    for (uint64_t i = 0; i < (opts->gpus ? opts->gpus : 1); i++)
        opts->dev[opts->ndev++] = (vf_place_device){VF_PLACE_GPU, (uint32_t)i, mem};
    if (opts->host)
        opts->dev[opts->ndev++] = (vf_place_device){VF_PLACE_CPU, 0, opts->host};
    return VF_EXIT_OK;
}

static int parse(int argc, char **argv, place_opts *opts)
{
    vf_cmdline line;
    int rc = vf_cli_parse(&vf_place_command, argc, argv, &line, opts, place_store);
    if (rc != VF_CLI_CONTINUE)
        return rc;
    opts->path = line.operand;
    opts->open = line.open;
    rc = devices(opts);
    return rc == VF_EXIT_OK ? -1 : rc;
}

/* ---- output ------------------------------------------------------------------------------------- */

static const char *dev_label(const vf_place_device *d, char *buf, size_t n)
{
    if (d->kind == VF_PLACE_GPU)
        snprintf(buf, n, "%u", (unsigned)d->index);
    else
        snprintf(buf, n, "%s", d->kind == VF_PLACE_CPU ? "cpu" : "disk");
    return buf;
}

static const char *verdict_text(vf_place_verdict v)
{
    return v == VF_PLACE_FITS_GPUS ? "fits on GPUs"
           : v == VF_PLACE_NEEDS_CPU ? "needs CPU offload"
                                     : "does not fit in GPU and CPU memory: disk offload";
}

static void json_out(vf_buf *b, const vf_placement *p, const vf_model *m)
{
    vf_jw j = {.b = b};
    char l[16];
    vf_jw_doc(&j);
    vf_jw_origin(&j, vf_model_checkpoint(m));
    vf_jw_obj(&j, "device_map");
    for (size_t i = 0; i < vf_placement_count(p); i++) {
        const vf_place_entry *e = vf_placement_entry(p, i);
        const vf_place_device *d = vf_placement_device(p, e->device);
        if (d->kind == VF_PLACE_GPU)
            vf_jw_u64(&j, e->module, d->index);
        else
            vf_jw_str(&j, e->module, dev_label(d, l, sizeof l));
    }
    vf_jw_obj_end(&j);
    vf_jw_arr(&j, "devices");
    for (size_t i = 0; i < vf_placement_device_count(p); i++) {
        const vf_place_device *d = vf_placement_device(p, i);
        vf_jw_obj(&j, NULL);
        vf_jw_str(&j, "device", dev_label(d, l, sizeof l));
        if (d->kind == VF_PLACE_DISK)
            vf_jw_null(&j, "max_memory_bytes");
        else
            vf_jw_u64(&j, "max_memory_bytes", d->max_memory);
        vf_jw_u64(&j, "used_bytes", vf_placement_used(p, i));
        vf_jw_obj_end(&j);
    }
    vf_jw_arr_end(&j);
    vf_jw_u64(&j, "model_bytes", vf_placement_model_bytes(p));
    vf_jw_u64(&j, "max_layer_bytes", vf_placement_max_layer(p));
    vf_jw_str(&j, "verdict", vf_placement_verdict(p) == VF_PLACE_FITS_GPUS  ? "fits_gpus"
                               : vf_placement_verdict(p) == VF_PLACE_NEEDS_CPU ? "needs_cpu"
                                                                               : "needs_disk");
    vf_jw_obj_end(&j);
    vf_buf_printf(b, "\n");
}

static void human_out(vf_buf *b, const vf_placement *p, const char *path)
{
    char l[16], g[32], n[32];
    vf_buf_printf(b, "Device map (accelerate's infer_auto_device_map) for %s\n", path);
    vf_buf_printf(b, "  model %s, largest no-split layer %s (room kept on GPU 0 and the CPU)\n\n",
                  vf_fmt_size(vf_placement_model_bytes(p), g), vf_fmt_size(vf_placement_max_layer(p), n));
    vf_buf_printf(b, "%s%-48s %-6s %17s%s\n", vf_sty(VF_STY_BOLD), "module", "device", "bytes",
                  vf_sty(VF_STY_RESET));
    for (size_t i = 0; i < vf_placement_count(p); i++) {
        const vf_place_entry *e = vf_placement_entry(p, i);
        vf_buf_printf(b, "%-48s %-6s %17s\n", *e->module ? e->module : "(whole model)",
                      dev_label(vf_placement_device(p, e->device), l, sizeof l), vf_fmt_count(e->bytes, n));
    }
    vf_buf_printf(b, "\n%sDevices%s\n", vf_sty(VF_STY_BOLD), vf_sty(VF_STY_RESET));
    for (size_t i = 0; i < vf_placement_device_count(p); i++) {
        const vf_place_device *d = vf_placement_device(p, i);
        uint64_t used = vf_placement_used(p, i);
        if (d->kind == VF_PLACE_DISK && !used)
            continue;
        vf_buf_printf(b, "  %-5s %s used", dev_label(d, l, sizeof l), vf_fmt_size(used, g));
        if (d->kind != VF_PLACE_DISK)
            vf_buf_printf(b, " of %s", vf_fmt_size(d->max_memory, n));
        vf_buf_printf(b, "\n");
    }
    vf_place_verdict v = vf_placement_verdict(p);
    vf_buf_printf(b, "\nVerdict   %s%s%s\n",
                  vf_sty(v == VF_PLACE_FITS_GPUS ? VF_STY_GREEN : v == VF_PLACE_NEEDS_CPU ? VF_STY_YELLOW
                                                                                            : VF_STY_RED),
                  verdict_text(v), vf_sty(VF_STY_RESET));
    if (!vf_ui_quiet())
        vf_buf_printf(b, "\nNotes\n  - non-persistent buffers (rotary inv_freq) are not in checkpoints: "
                         "accelerate's map also lists e.g. model.rotary_emb\n  - sizes are binary units (GiB = 2^30 "
                         "bytes)\n");
}

static int place_run(int argc, char **argv)
{
    place_opts opts = {0};
    int rc = parse(argc, argv, &opts);
    if (rc >= 0)
        return rc;
    vf_model *m = NULL;
    vf_placement *p = NULL;
    vf_error err = {0};
    vf_place_options o = VF_PLACE_OPTIONS_INIT;
    o.devices = opts.dev;
    o.device_count = opts.ndev;
    o.dtype_bytes = opts.dtype_bytes;
    o.no_split = opts.no_split;
    if (vf_model_open(opts.path, &opts.open, &m, &err) != VF_OK || vf_place(m, &o, &p, &err) != VF_OK) {
        rc = vf_cli_fail(&err);
    } else {
        vf_buf b = {0};
        if (opts.json)
            json_out(&b, p, m);
        else
            human_out(&b, p, vf_checkpoint_dir(vf_model_checkpoint(m)));
        rc = vf_buf_flush(&b);
        vf_buf_free(&b);
    }
    vf_placement_free(p);
    vf_model_free(m);
    return rc;
}

const vf_command vf_place_command = {
    .name = "place",
    .summary = "inference device map across GPUs, CPU, disk (accelerate's algorithm)",
    .operand = "PATH",
    .synopsis =
        "usage: vramfit place PATH (--gpus N (--gpu-memory SIZE | --gpu NAME) | --max-memory LIST)\n"
        "                     [--host-memory SIZE] [--dtype fp32|bf16|fp16] [--no-split LIST] [--json]\n\n"
        "The inference device map accelerate's infer_auto_device_map computes for the checkpoint:\n"
        "modules in order onto GPU 0, 1, ..., then the CPU, then disk, no-split blocks kept whole,\n"
        "room kept on GPU 0 and the CPU for the largest layer an offloaded module brings back\n"
        "(accelerate utils/modeling.py, reproduced from the headers). Prints each module of the\n"
        "map with its device and size, the memory used per device, and the verdict: fits on GPUs /\n"
        "needs CPU offload / does not fit (disk offload).\n\n",
    .options = place_table,
    .footer = "\nexit codes: 0 ok, 2 usage error, 3 file missing or unreadable, 4 malformed checkpoint.\n"
              "example: vramfit place ./Mixtral-8x7B --max-memory 0=40GiB,1=40GiB,cpu=64GiB --dtype bf16\n",
    .run = place_run,
};
