/* main.c - vramfit command dispatch. */
#include <stdio.h>
#include <string.h>

#include "vf_cli.h"

static const vf_command *const commands[] = {
    &vf_inspect_command, &vf_adapters_command, &vf_audit_command,
    &vf_snapshot_command, &vf_verify_command, &vf_estimate_command,
    &vf_plan_command, &vf_place_command, &vf_gpus_command,
};

/* The options before a command name, for `vramfit __options` (the completions). */
static const vf_opt main_options[] = {
    {"help", 'h', NULL, 0, NULL}, {"version", 'V', NULL, 0, NULL}, {"quiet", 'q', NULL, 0, NULL},
    {"verbose", 'v', NULL, 0, NULL}, VF_OPT_END,
};

static void usage(FILE *f)
{
    fprintf(f, "usage: vramfit [-q|-v] COMMAND [options] PATH\n\n"
               "Reads only the headers of a local safetensors checkpoint (never the weights, never\n"
               "the network) and answers how big it is, what it is, and whether training fits.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f,
            "\nPATH: a checkpoint directory (model.safetensors.index.json, model.safetensors or a set of\n"
            "*.safetensors), one .safetensors file, an index file, a .vfsnap snapshot, or a Hugging Face\n"
            "id ORG/NAME (or NAME) looked up offline in the local cache ($HF_HUB_CACHE, else\n"
            "$HUGGINGFACE_HUB_CACHE, $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub,\n"
            "~/.cache/huggingface/hub; --revision picks a branch, tag or commit other than main).\n"
            "Files of other formats (GGUF, PyTorch, NumPy, ONNX, HDF5, JSON) are named with what to do.\n\n"
            "options of every command:\n"
            "  -q, --quiet    results only: no notes, findings or progress on stderr\n"
            "  -v, --verbose  more detail (files, target family, formulas)\n"
            "  -h, --help     the command's help;  -V, --version  the version\n"
            "Human output is colored only when stdout is a terminal and NO_COLOR is unset or empty;\n"
            "JSON and CSV never are.\n\n"
            "exit codes:\n"
            "  0  success\n"
            "  1  internal error (out of memory)\n"
            "  2  usage error (bad command line)\n"
            "  3  I/O error: a file is missing or unreadable\n"
            "  4  invalid input: a file is malformed (the message names file and tensor)\n"
            "  5  differences found (audit, verify --against)\n"
            " 10  estimate --check: may work but isn't recommended\n"
            " 11  estimate --check: impossible\n\n"
            "Run 'vramfit help COMMAND' or 'vramfit COMMAND --help' for a command's options.\n");
}

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static const vf_command *find_command(const char *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (strcmp(name, commands[i]->name) == 0)
            return commands[i];
    return NULL;
}

static int unknown_command(const char *name)
{
    const char *names[COMMAND_COUNT];
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        names[i] = commands[i]->name;
    const char *hit = vf_suggest(name, names, COMMAND_COUNT);
    if (hit)
        return vf_usage_error(NULL, "unknown command '%s' (did you mean '%s'? see 'vramfit --help')", name, hit);
    return vf_usage_error(NULL, "unknown command '%s' (see 'vramfit --help')", name);
}

static int run_help(const char *name)
{
    const vf_command *c = find_command(name);
    char *argv[] = {(char *)name, (char *)"--help", NULL};
    return c ? c->run(2, argv) : unknown_command(name);
}

/* Hidden, for the completions and the tests: `__commands` lists NAME, OPERAND (or "-") and SUMMARY
 * tab-separated, `__options [CMD]` the option table of CMD (of vramfit itself without CMD) as
 * vf_cli_list_options prints it. */
static int list_table(int argc, char **argv)
{
    if (strcmp(argv[1], "__commands") == 0) {
        for (size_t i = 0; i < COMMAND_COUNT; i++)
            printf("%s\t%s\t%s\n", commands[i]->name, commands[i]->operand ? commands[i]->operand : "-",
                   commands[i]->summary);
        return VF_EXIT_OK;
    }
    const vf_command *c = argc > 2 ? find_command(argv[2]) : NULL;
    if (argc > 2 && !c)
        return unknown_command(argv[2]);
    vf_cli_list_options(c ? c->options : main_options);
    return VF_EXIT_OK;
}

static int run(int argc, char **argv)
{
    int first = 1; /* -q/-v may come before the command too */
    while (first < argc && vf_ui_global_opt(argv[first]))
        first++;
    if (first >= argc) {
        usage(stderr);
        return VF_EXIT_USAGE;
    }
    argv += first - 1;
    argc -= first - 1;
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 && argc > 2) /* vramfit help CMD: the command's own help */
        return run_help(argv[2]);
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return VF_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("vramfit %s\n", VF_VERSION_STRING);
        return VF_EXIT_OK;
    }
    if (strcmp(cmd, "__commands") == 0 || strcmp(cmd, "__options") == 0)
        return list_table(argc, argv);
    const vf_command *c = find_command(cmd);
    return c ? c->run(argc - 1, argv + 1) : unknown_command(cmd);
}

int main(int argc, char **argv)
{
    vf_stdio_init();
    vf_ui_init();
    return vf_stdout_finish(run(argc, argv));
}
