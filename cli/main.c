/* main.c - vramfit command dispatch. */
#include <stdio.h>
#include <string.h>

#include "vf_cli.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"inspect", vf_cmd_inspect, "summarise a checkpoint's tensors, parameters and architecture"},
    {"adapters", vf_cmd_adapters, "exact LoRA / OSFT adapter sizes, matrix by matrix"},
    {"audit", vf_cmd_audit, "check a PEFT adapter directory against its config and base"},
    {"snapshot", vf_cmd_snapshot, "write a header-only .vfsnap bundle that every command reads"},
    {"verify", vf_cmd_verify, "check integrity: per-file verdicts; --data hashes every tensor"},
    {"estimate", vf_cmd_estimate, "fine-tuning memory per GPU (Training Hub's formulas) and verdict"},
    {"plan", vf_cmd_plan, "largest tokens per GPU, fewest GPUs, LoRA rank, OSFT ratio that fit"},
    {"place", vf_cmd_place, "inference device map across GPUs, CPU, disk (accelerate's algorithm)"},
    {"gpus", vf_cmd_gpus, "the GPU names --gpu accepts, one per line"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: vramfit [-q|-v] COMMAND [options] PATH\n\n"
               "Reads only the headers of a local safetensors checkpoint (never the weights, never\n"
               "the network) and answers how big it is, what it is, and whether training fits.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
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

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (strcmp(name, commands[i].name) == 0)
            return &commands[i];
    return NULL;
}

static int unknown_command(const char *name)
{
    const char *names[COMMAND_COUNT];
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        names[i] = commands[i].name;
    const char *hit = vf_suggest(name, names, COMMAND_COUNT);
    if (hit)
        return vf_usage_error(NULL, "unknown command '%s' (did you mean '%s'? see 'vramfit --help')", name, hit);
    return vf_usage_error(NULL, "unknown command '%s' (see 'vramfit --help')", name);
}

static int run_help(const char *name)
{
    const command *c = find_command(name);
    char *argv[] = {(char *)name, (char *)"--help", NULL};
    return c ? c->run(2, argv) : unknown_command(name);
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
    const command *c = find_command(cmd);
    return c ? c->run(argc - 1, argv + 1) : unknown_command(cmd);
}

int main(int argc, char **argv)
{
    vf_stdio_init();
    vf_ui_init();
    return vf_stdout_finish(run(argc, argv));
}
