/* vfgen.h - what vfgen.c (tensor lists, safetensors writer, commands) shares with the builders of
 * vfgen_2026.c (the checkpoints people fine-tune in 2026, each tensor tagged with what it is). */
#ifndef VFGEN_H
#define VFGEN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vf_tool.h"

#if defined(__GNUC__)
#define VFG_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define VFG_NORETURN __attribute__((noreturn))
#else
#define VFG_PRINTF(f, a)
#define VFG_NORETURN
#endif

#define VFG_NAME_MAX 192
#define VFG_MAX_DIMS 5

/* safetensors dtypes vfgen writes; the first three are the ones `--dtype` accepts. */
enum vfg_dtype { DT_BF16, DT_F16, DT_F32, DT_U8, DT_I32, DT_F8E4M3, DT_COUNT };
#define DT_SELECTABLE 3
extern const char *const dt_names[DT_COUNT];
extern const char *const dt_torch[DT_COUNT];
extern const unsigned dt_sizes[DT_COUNT];

/* What a tensor is in the module tree transformers builds (vfgen_2026.c tags every tensor; the
 * older builders leave K_UNTAGGED). K_QMETA and K_BUFFER are stored but are not parameters. */
enum vfg_kind {
    K_UNTAGGED,
    K_LINEAR,  /* weight of an nn.Linear (or of a quantized Linear: logical in/out recorded) */
    K_BIAS,    /* bias of an nn.Linear or of a convolution */
    K_EMBED,   /* nn.Embedding weight */
    K_PARAM,   /* bare nn.Parameter (routers stored as parameters, A_log, D, sinks, ...) */
    K_EXPERTS, /* fused 3-D expert nn.Parameter (logical in/out recorded) */
    K_CONV,    /* Conv1d/Conv2d/Conv3d weight */
    K_NORM,    /* LayerNorm/RMSNorm weight or bias */
    K_QMETA,   /* quantization metadata: scales, zeros, g_idx, absmax, quant maps, quant state */
    K_BUFFER,  /* registered buffer */
    K_COUNT
};
extern const char *const kind_names[K_COUNT];

/* Sub-model a tensor belongs to. C_MTP tensors are stored but transformers does not load them. */
enum vfg_comp { C_LM, C_VISION, C_PROJECTOR, C_MTP, C_COUNT };
extern const char *const comp_names[C_COUNT];

typedef struct tensor {
    char name[VFG_NAME_MAX];
    int dtype;
    int ndim;
    uint64_t shape[VFG_MAX_DIMS];
    bool buffer;         /* registered buffer (stored, but not a parameter) */
    uint64_t begin, end; /* data_offsets within its file, set by the writer */
    unsigned shard;      /* 0-based shard, set by the writer */
    int kind, comp;      /* enum vfg_kind, enum vfg_comp (K_UNTAGGED/C_LM for older builders) */
    uint64_t logical;    /* elements of the dequantized parameter (0: numel) */
    uint64_t in, out;    /* logical in/out features of K_LINEAR and K_EXPERTS */
    unsigned char *data; /* bytes written for real even into a sparse file (owned), or NULL */
} tensor;

typedef struct tlist {
    tensor *v;
    size_t n, cap;
} tlist;

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;


uint64_t t_numel(const tensor *t);
uint64_t t_bytes(const tensor *t);
VFG_PRINTF(5, 0)
tensor *tl_addv(tlist *l, int dtype, int ndim, const uint64_t *shape, const char *fmt, va_list ap);
VFG_PRINTF(5, 6)
tensor *tl_addf(tlist *l, int dtype, int ndim, const uint64_t *shape, const char *fmt, ...);
void tl_sort(tlist *l);
void tl_free(tlist *l);

VFG_PRINTF(2, 3) void sb_printf(sbuf *b, const char *fmt, ...);
void write_text(const char *dir, const char *name, const sbuf *b);
void write_checkpoint(const char *dir, const char *single, tlist *l, unsigned k, bool real);

/* ---- vfgen_2026.c ---- */

typedef struct model26 model26;
const model26 *find_model26(const char *name);
size_t n_models26(void);
const model26 *model26_at(size_t i);
const char *model26_name(const model26 *m);
bool model26_in_all(const model26 *m);
uint64_t model26_logical(const model26 *m);
/* Writes checkpoint and config.json into dir; shards 0 means the published shard count. False
 * (nothing written) when shards exceeds the tensor count. */
bool gen_model26(const model26 *m, const char *dir, unsigned shards);
/* Prints the oracle values of m as one JSON object on stdout; with modules, also every linear
 * module and fused expert parameter with its logical in/out. */
void print_expect26(const model26 *m, bool modules);

#endif
