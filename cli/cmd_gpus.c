/* cmd_gpus.c - `vramfit gpus`: the names `--gpu` accepts (the built-in table of cli/vf_gpus.c), one per
 * line, for scripts and shell completion; --verbose adds the memory in bytes, the data-sheet figure
 * and the other accepted spellings. */
#include <stdio.h>
#include <string.h>

#include "vf_cli.h"
#include "vf_gpus.h"

enum { OPT_JSON = 1 };

static const vf_opt gpus_table[] = {
    VF_OPT_COLUMN(12),
    {"json", 0, NULL, OPT_JSON, "one JSON document: \"gpus\": [{name, memory_bytes, spec, aliases}]"},
    VF_GLOBAL_OPTS,
    VF_OPT_END,
};

static void gpus_list(vf_buf *b, bool verbose)
{
    size_t n;
    const vf_gpu_model *g = vf_gpu_table(&n);
    for (size_t i = 0; i < n; i++) {
        if (verbose)
            vf_buf_printf(b, "%s\t%llu\t%s\t%s\n", g[i].name, (unsigned long long)g[i].bytes, g[i].spec,
                          g[i].aliases);
        else
            vf_buf_printf(b, "%s\n", g[i].name);
    }
}

static void gpus_json(vf_buf *b)
{
    size_t n;
    const vf_gpu_model *g = vf_gpu_table(&n);
    vf_jw j = {.b = b};
    vf_jw_doc(&j);
    vf_jw_arr(&j, "gpus");
    for (size_t i = 0; i < n; i++) {
        vf_jw_obj(&j, NULL);
        vf_jw_str(&j, "name", g[i].name);
        vf_jw_u64(&j, "memory_bytes", g[i].bytes);
        vf_jw_str(&j, "spec", g[i].spec);
        vf_jw_arr(&j, "aliases");
        for (const char *p = g[i].aliases; *p;) { /* comma-separated */
            size_t len = strcspn(p, ",");
            char alias[VF_GPU_NAME_MAX];
            snprintf(alias, sizeof alias, "%.*s", (int)len, p);
            vf_jw_str(&j, NULL, alias);
            p += len + (p[len] == ',');
        }
        vf_jw_arr_end(&j);
        vf_jw_obj_end(&j);
    }
    vf_jw_arr_end(&j);
    vf_jw_obj_end(&j);
}

static int gpus_store(void *parsed, const vf_opt *opt, const char *val)
{
    (void)val;
    *(bool *)parsed |= opt->id == OPT_JSON;
    return VF_EXIT_OK;
}

static int gpus_run(int argc, char **argv)
{
    vf_cmdline line;
    bool json = false;
    int rc = vf_cli_parse(&vf_gpus_command, argc, argv, &line, &json, gpus_store);
    if (rc != VF_CLI_CONTINUE)
        return rc;
    vf_buf b = {0};
    if (json)
        gpus_json(&b);
    else
        gpus_list(&b, vf_ui_verbose());
    rc = vf_buf_flush(&b);
    vf_buf_free(&b);
    return rc;
}

const vf_command vf_gpus_command = {
    .name = "gpus",
    .summary = "the GPU names --gpu accepts, one per line",
    .synopsis = "usage: vramfit gpus [--verbose] [--json]\n\n"
                "Lists the built-in accelerators that --gpu NAME accepts (estimate, plan), one name per\n"
                "line, in table order; 'auto' (ask nvidia-smi, else rocm-smi) is accepted too but is not\n"
                "listed. Names match ignoring case, spaces, '-' and '_'. With --verbose each line also gives\n"
                "the memory per GPU in bytes, the vendor's figure and the aliases, separated by tabs.\n\n",
    .options = gpus_table,
    .footer = "\nexit codes: 0 ok, 2 usage error.\n",
    .run = gpus_run,
};
