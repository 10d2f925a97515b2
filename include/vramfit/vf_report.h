/* vf_report.h - the JSON documents vramfit reports, written by the library so that every consumer
 * (the vramfit CLI, the Python binding, a C program) gets the same bytes: the text buffer they are
 * built in, the compact JSON writer (vf_jw), and the document functions of `inspect` and `adapters`.
 *
 * Document contract (vf_report_*_json): on VF_OK, *out is one JSON document as a NUL-terminated,
 * caller-owned, malloc'd UTF-8 text (every string escaped, invalid UTF-8 written as U+FFFD, exact
 * 64-bit integers), ending with a newline; release it with vf_report_free. The document opens with
 * "schema": VF_REPORT_SCHEMA (docs/vramfit.1, JSON OUTPUT: the vocabulary every command shares). On
 * failure (VF_ERR_NOMEM, VF_ERR_USAGE for a NULL argument) *out is NULL and err (may be NULL) says
 * why. Nothing here prints. */
#ifndef VRAMFIT_VF_REPORT_H
#define VRAMFIT_VF_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vf_adapters.h"
#include "vf_error.h"
#include "vf_tensors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- text buffer ------------------------------------------------------------------------------
 * Grows as needed; data is NUL-terminated whenever len > 0. An allocation that fails sets failed
 * and every later write is dropped: check failed once at the end. Zero-initialise; vf_buf_free. */
typedef struct vf_buf {
    char *data;
    size_t len, cap;
    bool failed; /* an allocation failed; the content is incomplete */
} vf_buf;

void vf_buf_printf(vf_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void vf_buf_put(vf_buf *b, const char *s, size_t n);
void vf_buf_free(vf_buf *b); /* releases data and zeroes b */

/* Decodes one UTF-8 character of s (s[0] != 0) into *cp, UINT32_MAX when the bytes are not valid
 * UTF-8 (overlong, surrogate, beyond U+10FFFF, bad continuation). Returns the bytes consumed, >= 1;
 * never reads past a NUL. */
size_t vf_utf8_char(const unsigned char *s, uint32_t *cp);

/* ---- JSON writer (compact, exact integers) -----------------------------------------------------
 * Writes into b: `vf_jw j = {.b = &buf};`. `key` is the member name inside an object and NULL inside
 * an array or at the top level. Closing the top-level value writes a newline. Nesting deeper than
 * VF_JW_MAX_DEPTH is written but no longer comma-tracked (no document here comes close). */
#define VF_JW_MAX_DEPTH 32
typedef struct vf_jw {
    vf_buf *b;
    int depth;
    bool first[VF_JW_MAX_DEPTH];
} vf_jw;

void vf_jw_obj(vf_jw *j, const char *key);
void vf_jw_obj_end(vf_jw *j);
void vf_jw_arr(vf_jw *j, const char *key);
void vf_jw_arr_end(vf_jw *j);
void vf_jw_u64(vf_jw *j, const char *key, uint64_t v);
void vf_jw_i64(vf_jw *j, const char *key, int64_t v);
void vf_jw_double(vf_jw *j, const char *key, double v); /* shortest round-trip form; null if not finite */
void vf_jw_str(vf_jw *j, const char *key, const char *s); /* NULL writes null */
void vf_jw_bool(vf_jw *j, const char *key, bool v);
void vf_jw_null(vf_jw *j, const char *key);
void vf_jw_shape(vf_jw *j, const char *key, const uint64_t *dims, uint32_t ndim);
/* [{"severity": "warning"|"info", "message"}] */
void vf_jw_findings(vf_jw *j, const char *key, const vf_findings *f);

/* The version of the JSON vocabulary every document carries as "schema". */
#define VF_REPORT_SCHEMA "vramfit/1"
/* Opens a top-level document: "{" and "schema": VF_REPORT_SCHEMA. */
void vf_jw_doc(vf_jw *j);
/* The checkpoint's origin: "model" (vf_checkpoint_name: ORG/NAME@REVISION or the directory's base
 * name), "repo_id" and "revision" (null unless from the Hugging Face cache) and "path" (the
 * directory read on this machine; a snapshot's stored name for a .vfsnap). */
void vf_jw_origin(vf_jw *j, const vf_checkpoint *cp);

/* ---- documents --------------------------------------------------------------------------------- */
/* What `vramfit inspect --json` prints for m: origin, totals, quantization (quantized checkpoints
 * only), dtypes, architecture, components, index, findings; with VF_REPORT_BY_LAYER also "layers"
 * and "non_layer_parameters", with VF_REPORT_TENSORS also "tensor_list". */
enum { VF_REPORT_TENSORS = 1u << 0, VF_REPORT_BY_LAYER = 1u << 1 };
int vf_report_inspect_json(const vf_model *m, unsigned flags, char **out, vf_error *err);

/* What `vramfit adapters --json` prints for plan p, built from m with the options o (the method,
 * rank or unfreeze ratio, targets given, adapter dtype, DoRA and bias are reported from o). */
int vf_report_adapters_json(const vf_model *m, const vf_adapter_plan *p, const vf_adapter_options *o,
                            char **out, vf_error *err);
/* The same document handed to write(ctx, data, len) in pieces of about 256 KiB as it is built, so
 * that it is never whole in memory (tens of MB for a large MoE model); the pieces, joined, are the
 * text vf_report_adapters_json gives. write returns 0, or non-zero to stop: the document then ends
 * where it stopped and VF_ERR_IO is returned (a caller keeps its own errno in ctx). VF_ERR_NOMEM
 * may come after pieces were written. */
typedef int (*vf_report_write_fn)(void *ctx, const char *data, size_t len);
int vf_report_adapters_json_write(const vf_model *m, const vf_adapter_plan *p, const vf_adapter_options *o,
                                  vf_report_write_fn write, void *ctx, vf_error *err);

/* Releases a document of vf_report_*_json; NULL is a no-op. */
void vf_report_free(char *text);

#ifdef __cplusplus
}
#endif
#endif
