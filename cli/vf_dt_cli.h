/* vf_dt_cli.h - `vramfit estimate --estimator detailed`: its options (the levers of vf_detailed.h
 * and the adapter options of `adapters`), and the report (human, JSON). Option ids live in
 * [2100, 2200). The model lives in the library; this file only parses and prints. */
#ifndef VF_DT_CLI_H
#define VF_DT_CLI_H

#include <stdbool.h>

#include "vf_est_cli.h"
#include "vramfit/vf_detailed.h"

enum {
    VF_DOPT_ESTIMATOR = 2100,
    VF_DOPT_DTYPE,
    VF_DOPT_AMP,
    VF_DOPT_OPTIMIZER,
    VF_DOPT_OPT_IN_BWD,
    VF_DOPT_CKPT,
    VF_DOPT_ACT_OFFLOAD,
    VF_DOPT_COMPILE,
    VF_DOPT_ATTENTION,
    VF_DOPT_LOSS,
    VF_DOPT_SHARDING,
    VF_DOPT_NODES,
    VF_DOPT_OFFLOAD,
    VF_DOPT_GRAD_ACCUM,
    VF_DOPT_DORA,
    VF_DOPT_ADAPTER_DTYPE,
    VF_DOPT_SAVE,
    VF_DOPT_QUANT_BLOCK,
    VF_DOPT_NO_DOUBLE_QUANT,
    VF_DOPT_LOSS_CHUNKS,
    VF_DOPT_HOST_MEMORY,
    VF_DOPT_SHARDED_STATE_DICT,
};

#define VF_DT_OPTS                                                                                  \
    {"estimator", 0, true, VF_DOPT_ESTIMATOR}, {"dtype", 0, true, VF_DOPT_DTYPE},                   \
        {"amp", 0, true, VF_DOPT_AMP}, {"optimizer", 0, true, VF_DOPT_OPTIMIZER},                   \
        {"optimizer-in-backward", 0, false, VF_DOPT_OPT_IN_BWD},                                   \
        {"gradient-checkpointing", 0, true, VF_DOPT_CKPT},                                         \
        {"activation-offload", 0, false, VF_DOPT_ACT_OFFLOAD}, {"compile", 0, false, VF_DOPT_COMPILE}, \
        {"attention", 0, true, VF_DOPT_ATTENTION}, {"loss", 0, true, VF_DOPT_LOSS},                 \
        {"sharding", 0, true, VF_DOPT_SHARDING}, {"nodes", 0, true, VF_DOPT_NODES},                 \
        {"offload", 0, true, VF_DOPT_OFFLOAD}, {"grad-accum", 0, true, VF_DOPT_GRAD_ACCUM},         \
        {"use-dora", 0, false, VF_DOPT_DORA}, {"adapter-dtype", 0, true, VF_DOPT_ADAPTER_DTYPE},    \
        {"modules-to-save", 0, true, VF_DOPT_SAVE},                                                \
        {"quant-block-size", 0, true, VF_DOPT_QUANT_BLOCK},                                        \
        {"no-double-quant", 0, false, VF_DOPT_NO_DOUBLE_QUANT},                                    \
        {"loss-chunks", 0, true, VF_DOPT_LOSS_CHUNKS}, {"host-memory", 0, true, VF_DOPT_HOST_MEMORY}, \
        {"sharded-state-dict", 0, false, VF_DOPT_SHARDED_STATE_DICT}

/* Prints the --help text of the options above on stdout. */
void vf_dt_print_help(void);

typedef struct vf_dt_cli {
    bool detailed;              /* --estimator detailed */
    const char *first_lever;    /* first lever option given (for "needs --estimator detailed") */
    vf_dt_options o;            /* the levers; gpus/memory/batch/seq are filled from vf_est_opts */
    bool use_dora;
    const char *modules_to_save;
} vf_dt_cli;

void vf_dt_cli_init(vf_dt_cli *d);

/* Stores option `id`; returns 1 when stored, 0 when not a detailed option, -1 on a bad value (the
 * message is on stderr). */
int vf_dt_cli_opt(vf_dt_cli *d, int id, const char *name, const char *val);

/* Runs the detailed estimate for the parsed options and prints it; returns the exit code. */
int vf_dt_cli_run(const vf_dt_cli *d, const vf_est_opts *o, vf_method method, bool json, bool check,
                  const char *svg);

#endif
