/* vf_format_internal.h - the file-format layer (parser/format): safetensors headers, the shard
 * index, bitsandbytes' quant state; the JSON scanner is in vf_json.h. Private to the library; links
 * only down to parser/common. */
#ifndef VRAMFIT_VF_FORMAT_INTERNAL_H
#define VRAMFIT_VF_FORMAT_INTERNAL_H

#include "vf_common_internal.h"

/* The i-th tensor of h in name order, or NULL when i >= its count. */
const vf_st_tensor *vf_st_header_by_name(const vf_st_header *h, size_t i);
/* What one thread reuses from header to header: the buffer the header bytes are read into and the
 * tables while they grow. Create, use on one thread at a time, free (NULL-safe). With an arena
 * (borrowed; one thread at a time too) every header read through the scratch is built in it: its
 * struct, tables and names, so vf_st_header_free frees only what it owns besides (kept bytes,
 * metadata) and the arena's owner frees the rest with the arena, after the headers. */
typedef struct vf_st_scratch vf_st_scratch;
vf_st_scratch *vf_st_scratch_new(vf_arena *arena);
void vf_st_scratch_free(vf_st_scratch *s);
/* vf_st_read_file of path relative to the open directory dir (AT_FDCWD: as vf_st_read_file) with
 * the caller's scratch; the header keeps its bytes (vf_st_header_raw) only when keep_raw, else
 * vf_st_header_raw gives NULL (and the length). */
int vf_st_read_with(int dir, const char *path, const char *display, vf_st_scratch *s, bool keep_raw,
                    vf_st_header **out, vf_error *err);
/* vf_st_parse_header with every entry read by the general parser, never by the fast path for the
 * reference writer's canonical entry: the same result and the same error on every input (the
 * differential test in tests/fuzz/fuzz_safetensors.c holds the two to that). */
int vf_st_parse_header_general(const uint8_t *json, size_t len, uint64_t file_size, const char *file,
                               vf_st_header **out, vf_error *err);
/* vf_tensor_data_wanted for a name of len bytes: its last component is "weight_shape", or starts
 * with "bitsandbytes__" after a "quant_state" component. */
bool vf_st_data_name(const char *name, size_t len);
/* How many of h's tensors vf_st_data_name names (counted while parsing). */
size_t vf_st_header_data_names(const vf_st_header *h);

/* ---- bitsandbytes' packed 4-bit quant state (vf_bnb_state.c) ----------------------------------- */

#define VF_BNB_MAX_DIMS 4
typedef struct vf_bnb_state {
    char quant_type[4];      /* "nf4" or "fp4" */
    uint64_t blocksize;      /* values per absmax */
    uint64_t shape[VF_BNB_MAX_DIMS]; /* the logical weight shape */
    uint32_t ndim;           /* 1..VF_BNB_MAX_DIMS */
    bool nested;             /* double quantization: nested_* keys present */
    uint64_t nested_blocksize;
} vf_bnb_state;
/* Parses the len bytes of a quant_state tensor (`tensor` of shard `file`, both named in errors):
 * strict JSON with exactly bitsandbytes' keys. Errors: VF_ERR_QUANT. */
int vf_bnb_state_parse(const uint8_t *data, size_t len, const char *file, const char *tensor,
                       vf_bnb_state *out, vf_error *err);

/* Parsed model.safetensors.index.json. */
typedef struct vf_index_entry {
    const char *tensor;
    uint32_t shard; /* into shards[] */
} vf_index_entry;
typedef struct vf_index {
    vf_arena strings;
    vf_index_entry *entries; /* sorted by tensor name */
    size_t count;
    const char **shards;     /* unique shard names, sorted */
    size_t shard_count;
    uint32_t *by_shard;      /* entry indices grouped by shard, name order within a group: shard k's */
    size_t *shard_start;     /* are by_shard[shard_start[k] .. shard_start[k + 1]) */
    bool has_total;
    uint64_t total_size;
} vf_index;
int vf_index_parse(const uint8_t *json, size_t len, const char *file, vf_index *out, vf_error *err);
/* vf_index_parse that ends plain tensor names in json itself (each one's closing quote becomes its
 * NUL) instead of copying them: json is no longer the file's text afterwards and must outlive out. */
int vf_index_parse_in_place(uint8_t *json, size_t len, const char *file, vf_index *out, vf_error *err);
void vf_index_free(vf_index *ix);
/* Entry index for a tensor name or -1. */
long vf_index_find(const vf_index *ix, const char *tensor);

#endif
