/* vf_parser.h - strict safetensors header parser, shard index parser and checkpoint loader.
 *
 * Layer 1 of vramfit (parser -> tensors -> estimator -> cli). Reads only the 8-byte length prefix and
 * the JSON header of each .safetensors file, never tensor data. Every input is treated as hostile: all
 * sizes are checked with overflow-safe 64-bit arithmetic and allocations are bounded by the bytes the
 * file really holds. Errors: negative vf_status plus a caller-owned vf_error (vf_error.h). */
#ifndef VRAMFIT_VF_PARSER_H
#define VRAMFIT_VF_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vf_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- dtypes ------------------------------------------------------------------------------------ */

/* X(name, bits): every dtype of the current safetensors format. */
#define VF_DTYPE_LIST(X)                                                                             \
    X(BOOL, 8) X(F4, 4) X(F6_E2M3, 6) X(F6_E3M2, 6) X(U8, 8) X(I8, 8) X(F8_E5M2, 8) X(F8_E4M3, 8)    \
    X(F8_E8M0, 8) X(I16, 16) X(U16, 16) X(F16, 16) X(BF16, 16) X(I32, 32) X(U32, 32) X(F32, 32)      \
    X(C64, 64) X(F64, 64) X(I64, 64) X(U64, 64)

typedef enum vf_dtype {
#define VF_X_DTYPE(name, bits) VF_DTYPE_##name,
    VF_DTYPE_LIST(VF_X_DTYPE)
#undef VF_X_DTYPE
    VF_DTYPE_COUNT
} vf_dtype;

const char *vf_dtype_name(vf_dtype dt);  /* "BF16"; "?" when out of range */
unsigned vf_dtype_bits(vf_dtype dt);     /* bits per element; 0 when out of range */
/* Exact, case-sensitive lookup of a dtype name of `len` bytes; returns false when unknown. */
bool vf_dtype_from_name(const char *name, size_t len, vf_dtype *out);
/* Bytes of `numel` elements of `dt`: false on 64-bit overflow or when the bit count is not a whole
 * number of bytes (sub-byte dtypes), with *misaligned telling which. */
bool vf_dtype_bytes(vf_dtype dt, uint64_t numel, uint64_t *out, bool *misaligned);

/* ---- one safetensors header -------------------------------------------------------------------- */

#define VF_ST_PREFIX_BYTES 8u
#define VF_ST_MAX_HEADER 100000000u

typedef struct vf_st_tensor {
    const char *name;      /* NUL-terminated, owned by the header */
    vf_dtype dtype;
    uint32_t ndim;
    const uint64_t *shape; /* ndim entries, owned by the header; NULL when ndim == 0 */
    uint64_t numel;        /* product of shape (1 for a scalar) */
    uint64_t nbytes;       /* end - begin */
    uint64_t begin, end;   /* data_offsets, relative to the start of the data region */
} vf_st_tensor;

typedef struct vf_st_meta {
    const char *key, *value;
} vf_st_meta;

typedef struct vf_st_header vf_st_header;

/* Validates the length prefix of a file of `file_size` bytes whose first min(8, file_size) bytes are
 * in `prefix`, in the reference order: >= 8 bytes, N <= VF_ST_MAX_HEADER, 8+N <= file_size.
 * Stores N in *header_len. `file` names the file in errors. */
int vf_st_check_prefix(const uint8_t *prefix, size_t prefix_len, uint64_t file_size, const char *file,
                       uint64_t *header_len, vf_error *err);

/* Parses and validates the N header bytes `json` (without the 8-byte prefix) of a file of `file_size`
 * bytes: UTF-8, JSON object, entries, dtypes, shapes, overflow, sizes, contiguous offsets covering the
 * data region exactly, unique names, string metadata. Leading/trailing whitespace is accepted.
 * On success *out owns a copy of the raw header bytes and all strings. */
int vf_st_parse_header(const uint8_t *json, size_t len, uint64_t file_size, const char *file,
                       vf_st_header **out, vf_error *err);

/* Whole file already in memory (tests, fuzzing): prefix check then header parse. */
int vf_st_parse_buffer(const uint8_t *buf, size_t len, const char *file, vf_st_header **out,
                       vf_error *err);

/* Opens `path`, reads the prefix and the header (one read each) and parses them. `display` names the
 * file in errors (NULL: path). Fails with VF_ERR_IO if the file shrinks while being read. */
int vf_st_read_file(const char *path, const char *display, vf_st_header **out, vf_error *err);

void vf_st_header_free(vf_st_header *h); /* NULL is a no-op */

size_t vf_st_header_count(const vf_st_header *h);
/* Tensors in data-offset order; borrowed, valid until vf_st_header_free. */
const vf_st_tensor *vf_st_header_tensor(const vf_st_header *h, size_t i);
/* Index of the tensor named `name`, or -1 (binary search over a sorted name index). */
long vf_st_header_find(const vf_st_header *h, const char *name);
size_t vf_st_header_meta_count(const vf_st_header *h);
const vf_st_meta *vf_st_header_meta(const vf_st_header *h, size_t i);
uint64_t vf_st_header_file_size(const vf_st_header *h);
/* The verbatim N header bytes as read (for snapshots and fingerprints); *len is N. The bytes are
 * kept by headers parsed from memory, read by vf_st_read_file, or read by vf_checkpoint_open with
 * VF_OPEN_KEEP_HEADERS; otherwise the result is NULL (the tables hold everything else). */
const uint8_t *vf_st_header_raw(const vf_st_header *h, size_t *len);
/* Offset of the data region in the file: 8 + N. */
uint64_t vf_st_header_data_start(const vf_st_header *h);

/* ---- file formats ------------------------------------------------------------------------------ */

/* What a file is, from its first bytes (vf_format_sniff): checked before the safetensors parser so
 * that a file of another format is named with the next step to take. */
typedef enum vf_format {
    VF_FORMAT_UNKNOWN,        /* none of the below: the safetensors parser names the fault */
    VF_FORMAT_SAFETENSORS,    /* 8-byte length that fits the file, then a JSON object */
    VF_FORMAT_VFSNAP,
    VF_FORMAT_EMPTY,
    VF_FORMAT_GGUF,
    VF_FORMAT_PYTORCH_ZIP,    /* torch.save >= 1.6 */
    VF_FORMAT_PYTORCH_LEGACY, /* torch.save < 1.6 (pickle with torch's magic number) */
    VF_FORMAT_PICKLE,
    VF_FORMAT_NPY,
    VF_FORMAT_NPZ,
    VF_FORMAT_KERAS,
    VF_FORMAT_ZIP,
    VF_FORMAT_ONNX,
    VF_FORMAT_HDF5,
    VF_FORMAT_JSON,
    VF_FORMAT_COUNT
} vf_format;

/* The format of a file of file_size bytes whose first len bytes (up to 520 used) are head. */
vf_format vf_format_sniff(const uint8_t *head, size_t len, uint64_t file_size);
/* Opens path as a regular file (errors name display) and sniffs its first bytes. */
int vf_format_of_file(const char *path, const char *display, vf_format *out, vf_error *err);
/* "a GGUF file (llama.cpp)"; "unknown" out of range. */
const char *vf_format_name(vf_format f);
/* What to do with such a file instead, one clause ("" for safetensors, snapshots, unknown). */
const char *vf_format_next_step(vf_format f);
/* True for a recognised format vramfit does not read (not unknown, safetensors or a snapshot). */
bool vf_format_is_foreign(vf_format f);
/* Sets VF_ERR_FORMAT: "FILE: <name>, not safetensors: <next step>". */
int vf_format_error(vf_format f, const char *file, vf_error *err);

/* ---- findings ---------------------------------------------------------------------------------- */

typedef enum vf_severity { VF_SEV_INFO = 0, VF_SEV_WARNING = 1 } vf_severity;

typedef struct vf_finding {
    vf_severity severity;
    const char *message; /* one line, owned by the list */
} vf_finding;

typedef struct vf_findings vf_findings;
vf_findings *vf_findings_new(void);
void vf_findings_free(vf_findings *f); /* NULL is a no-op */
/* Appends a finding; returns VF_OK or VF_ERR_NOMEM. */
int vf_findings_add(vf_findings *f, vf_severity sev, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
size_t vf_findings_count(const vf_findings *f);
const vf_finding *vf_findings_get(const vf_findings *f, size_t i);

/* ---- output files ------------------------------------------------------------------------------
 * An output is written only when the command has succeeded, and never onto an input. Prepare it
 * with the bytes (before anything reaches stdout), commit it after stdout has been written, free it
 * in every case: a prepared output that is not committed leaves nothing behind.
 *   - path absent, or a regular file (through symlinks: the link's target is replaced, the link
 *     kept): the bytes go to a temporary file ".vramfit-XXXXXX" beside the target (short, so a name
 *     at the file system's limit works), synced; commit renames it onto the target, which keeps its
 *     permissions (a new file is 0644).
 *   - a character device or a FIFO (/dev/null, /dev/stdout, a named pipe with a reader): opened
 *     at prepare (a FIFO without a reader is VF_ERR_IO at once, no wait) and written through at
 *     commit (ENOSPC on /dev/full is VF_ERR_IO).
 *   - refused with VF_ERR_USAGE: a directory, socket or block device, a symlink leading nowhere,
 *     and any path that is (same device and inode, hard links and symlinks included) one of the
 *     files cp was read from (shards, auxiliary files, its snapshot) or one of the NULL-terminated
 *     paths `inputs` (cp and inputs may be NULL). */
typedef struct vf_output vf_output;
typedef struct vf_checkpoint vf_checkpoint;
int vf_output_prepare(const char *path, const vf_checkpoint *cp, const char *const *inputs,
                      const void *data, size_t len, vf_output **out, vf_error *err);
int vf_output_commit(vf_output *o, vf_error *err);
void vf_output_free(vf_output *o); /* NULL is a no-op; removes an uncommitted temporary file */

/* ---- checkpoint: a set of shards, optionally indexed -------------------------------------------- */

typedef struct vf_shard {
    const char *name;            /* file name relative to the checkpoint directory */
    const vf_st_header *header;  /* parsed, validated header */
} vf_shard;

typedef struct vf_checkpoint vf_checkpoint;

/* Version 2 added `flags`; a version-1 struct (without it) is read as flags 0. */
#define VF_OPEN_OPTIONS_VERSION 2
typedef struct vf_open_options {
    unsigned version;       /* VF_OPEN_OPTIONS_VERSION */
    const char *revision;   /* HF cache: snapshot to use instead of refs/main (branch, tag or hash) */
    const char *hf_cache;   /* HF cache root overriding $HF_HUB_CACHE / $HF_HOME/hub / ~/.cache/... */
    unsigned flags;         /* VF_OPEN_* */
} vf_open_options;
#define VF_OPEN_OPTIONS_INIT {VF_OPEN_OPTIONS_VERSION, NULL, NULL, 0}
/* Keep every shard's header bytes (vf_st_header_raw) and the index's (vf_checkpoint_aux): what
 * snapshots and header fingerprints need. Without it the bytes are read, parsed and dropped, and the
 * checkpoint holds only its tables. */
#define VF_OPEN_KEEP_HEADERS 1u

/* ---- Hugging Face cache (offline): see parser/vf_hfcache.c for the rules and their sources ------ */

/* Where a model id resolved to. All strings malloc'd; free with vf_hf_location_free. */
typedef struct vf_hf_location {
    char *repo_id;      /* as given: "ORG/NAME" or "NAME" */
    char *revision;     /* as asked: "main", a tag, a (short) commit */
    char *commit;       /* the 40-hex commit of the snapshot */
    char *snapshot_dir; /* ROOT/models--ORG--NAME/snapshots/COMMIT */
    char *repo_dir;     /* ROOT/models--ORG--NAME */
    char *cache_root;
} vf_hf_location;

/* The hub cache root: opts->hf_cache, else $HF_HUB_CACHE, $HUGGINGFACE_HUB_CACHE, $HF_HOME/hub,
 * $XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub, with ~ and $VAR expanded. *source
 * (may be NULL) names where it came from ("HF_HOME", ...). malloc'd; NULL when out of memory. */
char *vf_hf_cache_root(const vf_open_options *opts, const char **source);
/* True when s has the form of a Hub model id: [ORG/]NAME (huggingface_hub's validate_repo_id). */
bool vf_hf_is_model_id(const char *s);
/* Resolves id at opts->revision (default "main": a branch, tag, full or >= 5-digit commit) in the
 * cache. Errors: VF_ERR_USAGE (bad id or revision), VF_ERR_NOT_FOUND (not cached: the message names
 * the cache root and where it came from, lists the cached refs for a missing revision, hints at
 * HF_HOME given for the hub directory). opts may be NULL. */
int vf_hf_resolve(const char *id, const vf_open_options *opts, vf_hf_location *loc, vf_error *err);
void vf_hf_location_free(vf_hf_location *loc); /* NULL is a no-op; zeroes *loc */

/* Opens PATH: a checkpoint directory (index file, model.safetensors or a set of *.safetensors), one
 * .safetensors file, a model.safetensors.index.json, or a Hugging Face id ORG/NAME resolved offline in
 * the local cache. Reads every shard header, cross-checks the index (shards exist, tensor<->shard
 * agreement, no tensor in two shards; total_size mismatch is a finding, not an error) and keeps the
 * raw bytes of config.json, generation_config.json and adapter_config.json when present.
 * opts may be NULL. */
int vf_checkpoint_open(const char *path, const vf_open_options *opts, vf_checkpoint **out,
                       vf_error *err);
void vf_checkpoint_free(vf_checkpoint *cp); /* NULL is a no-op */

/* The directory the shards live in (resolved HF snapshot directory for a model id). */
const char *vf_checkpoint_dir(const vf_checkpoint *cp);
/* How reports name the checkpoint, the same on every machine: "ORG/NAME@REVISION" when it came
 * from the Hugging Face cache (or a snapshot of such a checkpoint), else the base name of its
 * directory (never an absolute path). */
const char *vf_checkpoint_name(const vf_checkpoint *cp);
/* The Hub id and revision asked for when the checkpoint came from the cache; NULL otherwise. */
const char *vf_checkpoint_repo_id(const vf_checkpoint *cp);
const char *vf_checkpoint_revision(const vf_checkpoint *cp);
size_t vf_checkpoint_shard_count(const vf_checkpoint *cp);
const vf_shard *vf_checkpoint_shard(const vf_checkpoint *cp, size_t i); /* sorted by name */
bool vf_checkpoint_has_index(const vf_checkpoint *cp);
/* metadata.total_size of the index; false when absent. */
bool vf_checkpoint_index_total_size(const vf_checkpoint *cp, uint64_t *out);
/* True when there is no index, or the index's total_size equals the sum of tensor bytes. */
bool vf_checkpoint_index_consistent(const vf_checkpoint *cp);
/* Raw bytes of an auxiliary JSON file ("config.json", "generation_config.json",
 * "adapter_config.json", "model.safetensors.index.json") or NULL when absent. The index's bytes are
 * kept only with VF_OPEN_KEEP_HEADERS (vf_checkpoint_has_index and the total size stay known). */
const uint8_t *vf_checkpoint_aux(const vf_checkpoint *cp, const char *name, size_t *len);
const vf_findings *vf_checkpoint_findings(const vf_checkpoint *cp);
/* True for a PEFT adapter directory: adapter_config.json beside adapter_model.safetensors as its only
 * shard (adapter_model.safetensors named as a file is read like any safetensors file). */
bool vf_checkpoint_is_adapter(const vf_checkpoint *cp);
/* VF_OK for a model; for a PEFT adapter VF_ERR_ADAPTER_DIR naming the directory and pointing to
 * `audit`, the command that reads adapters (models are what inspect, adapters, estimate, plan read). */
int vf_checkpoint_require_model(const vf_checkpoint *cp, vf_error *err);

/* ---- small tensor data ------------------------------------------------------------------------- *
 * The only tensor bytes vramfit reads: bitsandbytes' packed quant state
 * (`*.quant_state.bitsandbytes__nf4|fp4`, a JSON text holding the logical shape) and
 * compressed-tensors' `*.weight_shape` (the logical [out, in]), each at most VF_TENSOR_DATA_MAX
 * bytes. They are read when a checkpoint is opened (one bounded pread of the tensor's data range per
 * tensor) and carried by snapshots of format version 2. */

#define VF_TENSOR_DATA_MAX 65536u

/* True for a tensor name whose data vramfit reads (when small enough). */
bool vf_tensor_data_wanted(const char *name);
/* The bytes of tensor `name` of shard `shard`, valid until vf_checkpoint_free. Errors:
 * VF_ERR_USAGE no such tensor; VF_ERR_UNSUPPORTED not a wanted tensor or above VF_TENSOR_DATA_MAX
 * bytes; VF_ERR_SNAPSHOT a snapshot (format 1) that carries no data for it. */
int vf_checkpoint_tensor_data(const vf_checkpoint *cp, size_t shard, const char *name,
                              const uint8_t **data, size_t *len, vf_error *err);

#ifdef __cplusplus
}
#endif
#endif
