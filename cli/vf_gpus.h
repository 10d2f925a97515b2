/* vf_gpus.h - what the estimate and plan commands know about GPUs: memory SIZE strings, a built-in
 * table of common accelerators and the `nvidia-smi` query behind `--gpu auto`.
 *
 * Nothing here prints: failures come back as a one-line message in a caller-owned buffer, and the
 * caller decides the exit code. */
#ifndef VF_GPUS_H
#define VF_GPUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VF_GPU_MSG_MAX 512
#define VF_GPU_NAME_MAX 128

/* ---- SIZE strings --------------------------------------------------------------------------------
 * A SIZE is a non-negative decimal number with an optional fraction, optionally followed by spaces
 * and a unit (case-insensitive): B; KB MB GB TB (powers of 10^3); KiB MiB GiB TiB (powers of 2^10).
 * The unit is required: a bare number ("80") is refused with both readings (80 GiB? 80 GB?), bytes
 * are written 51539607552B. Examples: 48GiB = 51,539,607,552; 80GB = 80,000,000,000; 81920MiB;
 * 1.5TiB. A fractional result is truncated to whole bytes. Bare K/M/G/T are refused as
 * ambiguous (GB or GiB?). The result must be at least 1 byte and fit in 64 bits.
 * Returns true and sets *out, or returns false with a one-line reason in why[VF_GPU_MSG_MAX]. */
bool vf_parse_size(const char *s, uint64_t *out, char *why);

/* ---- built-in GPU table ------------------------------------------------------------------------- */
typedef struct vf_gpu_model {
    const char *name;    /* canonical name, e.g. "A100-80GB" */
    const char *aliases; /* other accepted spellings, comma-separated ("" when none) */
    uint64_t bytes;      /* memory per GPU in bytes: the vendor's nominal capacity */
    const char *spec;    /* the vendor's figure as printed on the data sheet, e.g. "80 GB HBM2e" */
} vf_gpu_model;

/* The table, in display order; *count set. */
const vf_gpu_model *vf_gpu_table(size_t *count);

/* Looks NAME up in the table, ignoring case, the characters ' ', '-', '_' (so "a100_80gb",
 * "A100-80GB" and "a100 80gb" are the same) and the words that do not tell GPUs apart (vendor,
 * brand, form factor, memory type: "NVIDIA H100 80GB HBM3" is H100-80GB, "AMD Instinct MI300X" is
 * MI300X), against names and aliases. NULL when unknown. */
const vf_gpu_model *vf_gpu_find(const char *name);

/* ---- nvidia-smi --------------------------------------------------------------------------------- */
typedef struct vf_gpu_probe {
    uint32_t count;             /* GPUs listed */
    uint64_t bytes;             /* memory.total of the smallest GPU, in bytes (MiB x 2^20) */
    char name[VF_GPU_NAME_MAX]; /* name of that smallest GPU */
    bool mixed;                 /* GPUs differ in memory */
    uint64_t largest;           /* memory.total of the largest GPU, in bytes */
    uint32_t listed;            /* GPUs nvidia-smi listed before CUDA_VISIBLE_DEVICES applied */
    bool filtered;              /* CUDA_VISIBLE_DEVICES was set: count is what it leaves visible */
} vf_gpu_probe;

typedef enum vf_probe_status {
    VF_PROBE_OK,
    VF_PROBE_ABSENT, /* no executable nvidia-smi on PATH */
    VF_PROBE_FAILED, /* it could not be run, failed, or printed something unexpected */
} vf_probe_status;

/* Runs `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits`, the first
 * executable `nvidia-smi` found in the directories of $PATH, and parses one "NAME, MiB" line per GPU.
 * CUDA_VISIBLE_DEVICES, when set, keeps the GPUs it lists by index as CUDA reads it (entries up to
 * the first that is not an index; "" or "-1": none). nvidia-smi numbers GPUs in PCI bus order, which
 * CUDA uses too under CUDA_DEVICE_ORDER=PCI_BUS_ID. UUID entries (GPU-..., MIG-...) are refused
 * (VF_PROBE_FAILED: name the GPU with --gpu or --gpu-memory).
 * Fills *out on VF_PROBE_OK; otherwise writes a one-line reason into why[VF_GPU_MSG_MAX]. */
vf_probe_status vf_gpu_query_nvidia_smi(vf_gpu_probe *out, char *why);

#endif
