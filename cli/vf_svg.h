/* vf_svg.h - self-contained SVG charts for `vramfit estimate --svg FILE` and
 * `vramfit adapters --svg FILE`.
 *
 * estimate: one stacked bar per method (the per-GPU components parameters, optimizer, gradients,
 * activations, outputs, additional; then the overhead as a light band up to the expected figure
 * and a hatched band up to the high bound), a dashed line at the GPU's memory and GiB labels - the
 * picture of Training Hub's "Figure 1", as bars, for the user's own model.
 * adapters: the adapter parameters of every layer, stacked by module (the module name without its
 * layer prefix, other numeric segments as '*').
 *
 * Every text taken from outside (paths, tensor and module names, GPU labels) is XML-escaped, and
 * bytes that are not valid UTF-8 or not XML 1.0 characters become '?', so the document is always
 * well-formed. The file is written atomically (temporary file beside it, then rename). Fonts are a
 * generic sans-serif family list; no external resource is referenced. */
#ifndef VF_SVG_H
#define VF_SVG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vf_cli.h"
#include "vramfit/vf_adapters.h"
#include "vramfit/vf_detailed.h"
#include "vramfit/vf_estimator.h"

/* One bar of the estimate chart: a method's result, or why it has none. */
typedef struct vf_svg_method {
    vf_method method;
    const vf_est_result *result; /* NULL when the method could not be estimated */
    const char *error;           /* the reason when result is NULL (tooltip); may be NULL */
} vf_svg_method;

typedef struct vf_svg_estimate {
    const char *model;           /* checkpoint shown in the title (any bytes; escaped, shortened) */
    uint32_t gpus;               /* G */
    uint64_t gpu_memory;         /* bytes per GPU, > 0 */
    const char *gpu_label;       /* "L40S", or "" / NULL when --gpu-memory was given */
    const vf_svg_method *methods;
    size_t count;                /* 1..VF_METHOD_COUNT */
} vf_svg_estimate;

/* Appends the estimate chart to b (b->failed tells an allocation failure). */
void vf_svg_estimate_chart(vf_buf *b, const vf_svg_estimate *e);

/* Appends the per-layer adapter chart of plan p to b; `model` is the checkpoint shown in the title,
 * o the options the plan was built with (method, rank, ratio, dtype). On an allocation failure
 * b->failed is set. */
void vf_svg_adapters_chart(vf_buf *b, const vf_adapter_plan *p, const char *model,
                           const vf_adapter_options *o);

/* Prepares b as the output file path (vf_output_prepare: never one of cp's files or the PATH the
 * user gave, written only at commit). Returns VF_EXIT_OK with *o set; or prints one line "vramfit:
 * error: PATH: ..." on stderr and returns VF_EXIT_USAGE (empty path, an input, a directory ...),
 * VF_EXIT_INTERNAL (b incomplete) or VF_EXIT_IO. */
int vf_svg_prepare(const char *path, const vf_buf *b, const vf_checkpoint *cp, const char *input,
                   vf_output **o);

/* `estimate --estimator detailed`: two stacked bars per GPU, the forward/backward phase and the
 * optimizer step (weights, master weights, gradients, optimizer states, activations, logits/loss,
 * temporaries), the peak bar topped by the allocator's fragmentation and the fixed overhead, a line
 * at the GPU memory. */
typedef struct vf_svg_detailed {
    const char *model;           /* checkpoint shown in the title (escaped, shortened) */
    uint32_t gpus;
    uint64_t gpu_memory;         /* bytes per GPU, > 0 */
    const char *gpu_label;       /* may be NULL or "" */
    const vf_dt_result *result;
} vf_svg_detailed;

void vf_svg_detailed_chart(vf_buf *b, const vf_svg_detailed *d);
int vf_svg_detailed_prepare(const char *path, const vf_svg_detailed *d, const vf_checkpoint *cp,
                            const char *input, vf_output **o);

/* The two commands' entry points: build the chart, then vf_svg_prepare. Same returns. */
int vf_svg_estimate_prepare(const char *path, const vf_svg_estimate *e, const vf_checkpoint *cp,
                            const char *input, vf_output **o);
int vf_svg_adapters_prepare(const char *path, const vf_adapter_plan *p, const char *model,
                            const vf_adapter_options *o, const vf_checkpoint *cp, const char *input,
                            vf_output **out);

/* Appends s as XML character data, fit for attribute values too: & < > " ' become entities, bytes
 * that are not valid UTF-8 and code points XML 1.0 forbids become '?'. At most max_chars characters
 * are kept (0: no limit); a longer text keeps its end when keep_end (paths), else its start, with
 * an ellipsis where it was cut. */
void vf_svg_text(vf_buf *b, const char *s, size_t max_chars, bool keep_end);
/* The module an adapter entry belongs to, with the layer number removed and other numeric segments
 * as '*': "self_attn.q_proj", "mlp.experts.*.w1", "copy: lm_head", "trainable biases". The chart's
 * series and the per-module summary of `vramfit adapters`. */
void vf_adapter_module_key(const vf_adapter_matrix *x, char *out, size_t n);

#endif
