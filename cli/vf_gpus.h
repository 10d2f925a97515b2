/* vf_gpus.h - what the estimate and plan commands know about GPUs: memory SIZE strings, a built-in
 * table of common accelerators and the `nvidia-smi` / `rocm-smi` queries behind `--gpu auto`.
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

/* ---- --gpu auto: nvidia-smi, then rocm-smi ----------------------------------------------------- */
typedef struct vf_gpu_probe {
    const char *tool;           /* "nvidia-smi" or "rocm-smi": the tool that answered */
    uint32_t count;             /* GPUs visible */
    uint64_t bytes;             /* memory of the smallest of them, in bytes */
    char name[VF_GPU_NAME_MAX]; /* name of that smallest GPU, as the tool prints it */
    bool mixed;                 /* GPUs differ in memory */
    uint64_t largest;           /* memory of the largest GPU, in bytes */
    uint32_t listed;            /* GPUs the tool listed before the *_VISIBLE_DEVICES variables applied */
    bool filtered;              /* a *_VISIBLE_DEVICES variable was set: count is what it leaves visible */
    char visible[96];           /* the variables that applied ("CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES
                                 * then HIP_VISIBLE_DEVICES") */
    const char *order;          /* how their indices count the GPUs, for a note */
} vf_gpu_probe;

typedef enum vf_probe_status {
    VF_PROBE_OK,
    VF_PROBE_ABSENT, /* neither tool is an executable on PATH */
    VF_PROBE_FAILED, /* a tool could not be run, failed, or printed something unexpected */
} vf_probe_status;

/* The GPUs of this machine, asked of the first executable of each name in the directories of $PATH,
 * each run without a shell, stdin/stderr on /dev/null, its output bounded to 64 KiB and its run to
 * $VRAMFIT_GPU_PROBE_TIMEOUT seconds (default 10; killed with its process group after):
 *
 * nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits: one "NAME, MiB" line per
 * GPU. CUDA_VISIBLE_DEVICES, when set, keeps the GPUs it lists by index as CUDA reads it (entries up
 * to the first that is not an index; "" or "-1": none). nvidia-smi numbers GPUs in PCI bus order,
 * which CUDA uses too under CUDA_DEVICE_ORDER=PCI_BUS_ID. UUID entries (GPU-..., MIG-...) are
 * refused (name the GPU with --gpu or --gpu-memory).
 *
 * rocm-smi --showproductname --showmeminfo vram --showuniqueid --json, asked when nvidia-smi is
 * absent, fails or lists no GPU: "Card Series" and "VRAM Total Memory (B)" (bytes) of each
 * "cardN". ROCR_VISIBLE_DEVICES keeps the GPUs it lists by index in rocm-smi's order or by UUID
 * ("GPU-" and the 16 hex digits of rocm-smi's Unique ID, as rocminfo shows them); then
 * HIP_VISIBLE_DEVICES (or CUDA_VISIBLE_DEVICES when it is unset: HIP reads both) keeps, among
 * those, the ones it lists by their index there or by UUID. Same entry rules as CUDA's.
 *
 * Fills *out on VF_PROBE_OK; otherwise writes a one-line reason, starting "--gpu auto: ", into
 * why[VF_GPU_MSG_MAX]. */
vf_probe_status vf_gpu_query_auto(vf_gpu_probe *out, char *why);

#endif
