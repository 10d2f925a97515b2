/* vf_report_adapters.c - the document of `vramfit adapters --json` (vf_report_adapters_json): the
 * method and its options, targets, family, totals, every adapted matrix, the trainable copies, layer
 * totals and findings. */
#include "vf_report_internal.h"

/* The members of the per-matrix objects (tens of thousands in a large MoE model's document), with
 * their names as literals (vf_jw_KEY). */
#define PAIR(j, key, x, y) (vf_jw_KEY(j, key), vf_jw_put_pair((j)->b, x, y))
#define U64(j, key, v) (vf_jw_KEY(j, key), vf_jw_put_u64((j)->b, v))
#define STR(j, key, s) (vf_jw_KEY(j, key), vf_jw_put_str((j)->b, s))

/* A layer or expert index, null when there is none. */
static void put_index(vf_buf *b, int32_t v)
{
    if (v >= 0)
        vf_jw_put_i64(b, v);
    else
        vf_buf_add(b, "null", 4);
}

static void json_matrix_common(vf_jw *j, const vf_adapter_matrix *x)
{
    STR(j, "name", x->tensor->name);
    STR(j, "module", x->module);
    STR(j, "kind", vf_adapter_kind_name(x->kind));
    vf_jw_KEY(j, "layer");
    put_index(j->b, x->layer);
    vf_jw_KEY(j, "expert");
    put_index(j->b, x->expert);
}

/* The members after "expert" are the same text for every matrix of the same numbers (a MoE model's
 * experts share their shapes): the texts of the last TAIL_SLOTS distinct tails are kept with the
 * numbers they were written from and copied while those numbers repeat (down, gate and up of each
 * expert in turn: three slots in use). */
#define TAIL_KEYS 10
#define TAIL_MAX 480
#define TAIL_SLOTS 4
typedef struct tail_memo {
    struct tail_slot {
        uint64_t key[TAIL_KEYS];
        size_t len; /* 0: nothing kept */
        char text[TAIL_MAX];
    } slot[TAIL_SLOTS];
    size_t next; /* the slot the next new tail takes */
} tail_memo;

/* True (the kept text written) when key is a kept one; otherwise *start is where the tail starts
 * in j's buffer, for tail_keep once it is written. */
static bool tail_replay(vf_jw *j, const tail_memo *t, const uint64_t key[TAIL_KEYS], size_t *start)
{
    for (size_t i = 0; i < TAIL_SLOTS; i++)
        if (t->slot[i].len && memcmp(t->slot[i].key, key, sizeof t->slot[i].key) == 0) {
            vf_buf_add(j->b, t->slot[i].text, t->slot[i].len);
            return true;
        }
    *start = j->b->len;
    return false;
}

static void tail_keep(vf_jw *j, tail_memo *t, const uint64_t key[TAIL_KEYS], size_t start)
{
    struct tail_slot *s = &t->slot[t->next];
    size_t len = j->b->len - start;
    if (j->b->failed || len == 0 || len > TAIL_MAX)
        return;
    memcpy(s->key, key, sizeof s->key);
    memcpy(s->text, j->b->data + start, len);
    s->len = len;
    t->next = (t->next + 1) % TAIL_SLOTS;
}

static void json_lora_tail(vf_jw *j, const vf_adapter_matrix *x)
{
    PAIR(j, "shape", x->rows, x->cols);
    vf_jw_KEY(j, "conv1d");
    vf_jw_put_bool(j->b, x->conv1d);
    U64(j, "in", x->in);
    U64(j, "out", x->out);
    U64(j, "rank", x->rank);
    PAIR(j, "a", x->rank, x->in);
    PAIR(j, "b", x->out, x->rank);
    U64(j, "magnitude", x->magnitude);
    U64(j, "params", x->params);
    U64(j, "bytes", x->bytes);
}

/* One matrix object: the members up to "expert", then the rest written by tail from the numbers
 * in key, or copied from the memo when those numbers were written before. */
static void json_matrix(vf_jw *j, const vf_adapter_matrix *x, tail_memo *t, const uint64_t key[TAIL_KEYS],
                        void (*tail)(vf_jw *j, const vf_adapter_matrix *x))
{
    size_t start;
    vf_jw_obj(j, NULL);
    json_matrix_common(j, x);
    if (!tail_replay(j, t, key, &start)) {
        tail(j, x);
        tail_keep(j, t, key, start);
    }
    vf_jw_obj_end(j);
}

static void json_lora_matrix(vf_jw *j, const vf_adapter_matrix *x, tail_memo *t)
{
    const uint64_t key[TAIL_KEYS] = {x->rows, x->cols, x->conv1d, x->in, x->out, x->rank, x->magnitude,
                                     x->params, x->bytes};
    json_matrix(j, x, t, key, json_lora_tail);
}

static void json_usv(vf_jw *j, const char *key, const vf_adapter_matrix *x, uint64_t k)
{
    uint64_t p = x->rows * k + k + k * x->cols; /* <= params: sized without overflow */
    if (key)
        vf_jw_obj(j, key);
    PAIR(j, "u", x->rows, k);
    vf_jw_KEY(j, "s");
    vf_buf_add(j->b, "[", 1);
    vf_jw_put_u64(j->b, k);
    vf_buf_add(j->b, "]", 1);
    PAIR(j, "v", k, x->cols);
    U64(j, "params", p);
    if (key)
        vf_jw_obj_end(j);
}

static void json_osft_tail(vf_jw *j, const vf_adapter_matrix *x)
{
    PAIR(j, "shape", x->rows, x->cols);
    json_usv(j, NULL, x, x->rank);
    U64(j, "bytes", x->bytes);
    U64(j, "frozen_rank", x->frozen_rank);
    U64(j, "trainable_rank", x->trainable_rank);
    U64(j, "trainable_params", x->trainable_params);
    json_usv(j, "frozen", x, x->frozen_rank);
    json_usv(j, "trainable", x, x->trainable_rank);
}

static void json_osft_matrix(vf_jw *j, const vf_adapter_matrix *x, tail_memo *t)
{
    const uint64_t key[TAIL_KEYS] = {x->rows, x->cols, x->rank, x->bytes, x->frozen_rank, x->trainable_rank,
                                     x->trainable_params};
    json_matrix(j, x, t, key, json_osft_tail);
}

static void json_head(vf_jw *j, const vf_adapter_plan *p, const vf_adapter_options *o)
{
    const vf_family *f = vf_adapter_plan_family(p);
    bool lora = o->method == VF_ADAPTER_LORA;
    vf_jw_str(j, "method", lora ? "lora" : "osft");
    if (lora)
        vf_jw_u64(j, "rank", o->rank);
    else
        vf_jw_double(j, "unfreeze_rank_ratio", o->unfreeze_rank_ratio);
    vf_jw_arr(j, "targets");
    for (size_t i = 0; i < vf_adapter_plan_target_count(p); i++)
        vf_jw_str(j, NULL, vf_adapter_plan_target(p, i));
    vf_jw_arr_end(j);
    vf_jw_bool(j, "family_targets", !o->target.modules && !o->target.regex);
    vf_jw_str(j, "family", f->name);
    vf_jw_str(j, "family_reason", f->reason);
    vf_jw_str(j, "adapter_dtype", vf_dtype_name(o->adapter_dtype));
    if (lora) {
        vf_jw_bool(j, "use_dora", o->use_dora);
        vf_jw_str(j, "bias", vf_lora_bias_name(o->bias));
    }
}

static void json_totals(vf_jw *j, const vf_adapter_totals *t, bool lora)
{
    vf_jw_u64(j, "matrix_count", t->matrices);
    vf_jw_u64(j, "parameters", t->parameters);
    vf_jw_u64(j, "trainable_parameters", t->trainable);
    vf_jw_u64(j, "base_parameters", t->base_parameters);
    if (lora) {
        vf_jw_u64(j, "modules_to_save_parameters", t->saved);
        vf_jw_u64(j, "bias_parameters", t->biases);
        vf_jw_u64(j, "all_parameters", t->all_parameters);
    } else {
        vf_jw_u64(j, "osft_parameters", t->osft_total);
    }
    vf_jw_u64(j, "lora_dim_sum", t->lora_dim_sum);
    vf_jw_u64(j, "bytes", t->bytes);
    vf_jw_double(j, "share_of_base", t->base_parameters ? (double)t->parameters / (double)t->base_parameters : 0);
}

static void json_layers(vf_jw *j, const vf_adapter_plan *p)
{
    size_t n;
    const uint64_t *lp = vf_adapter_plan_layer_params(p, &n);
    vf_jw_arr(j, "layers");
    for (size_t i = 0; i + 1 < n; i++) {
        vf_jw_obj(j, NULL);
        vf_jw_u64(j, "layer", i);
        vf_jw_u64(j, "params", lp[i]);
        vf_jw_obj_end(j);
    }
    vf_jw_arr_end(j);
    vf_jw_u64(j, "non_layer_params", n ? lp[n - 1] : 0);
}

/* A modules_to_save copy or a trainable bias. */
static void json_copy(vf_jw *j, const vf_adapter_matrix *x)
{
    vf_jw_obj(j, NULL);
    vf_jw_str(j, "name", x->tensor->name);
    vf_jw_str(j, "kind", vf_adapter_kind_name(x->kind));
    vf_jw_shape(j, "shape", x->tensor->shape, x->tensor->ndim);
    vf_jw_u64(j, "params", x->params);
    vf_jw_u64(j, "bytes", x->bytes);
    vf_jw_obj_end(j);
}

/* Where the document goes: into b whole (write NULL), or to write in pieces of about VF_SPILL bytes
 * as it is built (b is then reused for each piece). */
#define VF_SPILL ((size_t)256 << 10)
typedef struct doc_sink {
    vf_report_write_fn write;
    void *ctx;
    int rc; /* the first non-zero return of write; the document stops there */
} doc_sink;

/* Hands b's text to the sink once it holds `at_least` bytes (0: whatever it holds); false when the
 * sink has failed (now or before) or b could not grow. */
static bool spill(vf_buf *b, doc_sink *s, size_t at_least)
{
    if (b->failed || s->rc)
        return false;
    if (!s->write || b->len < at_least || b->len == 0)
        return true;
    s->rc = s->write(s->ctx, b->data, b->len);
    b->len = 0;
    b->data[0] = '\0';
    return s->rc == 0;
}

static void write_doc(const vf_model *m, const vf_adapter_plan *p, const vf_adapter_options *o, vf_buf *b,
                      doc_sink *s)
{
    const bool lora = o->method == VF_ADAPTER_LORA;
    vf_jw j = {.b = b};
    vf_jw_doc(&j);
    vf_jw_origin(&j, vf_model_checkpoint(m));
    json_head(&j, p, o);
    json_totals(&j, vf_adapter_plan_totals(p), lora);
    vf_jw_arr(&j, "matrices");
    tail_memo tail = {.next = 0};
    for (size_t i = 0; i < vf_adapter_plan_count(p) && spill(b, s, VF_SPILL); i++) {
        const vf_adapter_matrix *x = vf_adapter_plan_matrix(p, i);
        if (vf_adapter_kind_is_target(x->kind))
            (lora ? json_lora_matrix : json_osft_matrix)(&j, x, &tail);
    }
    vf_jw_arr_end(&j);
    vf_jw_arr(&j, "trainable_copies");
    for (size_t i = 0; i < vf_adapter_plan_count(p) && spill(b, s, VF_SPILL); i++) {
        const vf_adapter_matrix *x = vf_adapter_plan_matrix(p, i);
        if (!vf_adapter_kind_is_target(x->kind))
            json_copy(&j, x);
    }
    vf_jw_arr_end(&j);
    json_layers(&j, p);
    vf_jw_findings(&j, "findings", vf_adapter_plan_findings(p));
    vf_jw_obj_end(&j);
}

int vf_report_adapters_json(const vf_model *m, const vf_adapter_plan *p, const vf_adapter_options *o,
                            char **out, vf_error *err)
{
    if (!m || !p || !o || !out)
        return vf_report_null_arg("vf_report_adapters_json", out, err);
    vf_buf b = {0};
    doc_sink whole = {0};
    write_doc(m, p, o, &b, &whole);
    return vf_report_finish(&b, out, err);
}

int vf_report_adapters_json_write(const vf_model *m, const vf_adapter_plan *p, const vf_adapter_options *o,
                                  vf_report_write_fn write, void *ctx, vf_error *err)
{
    if (!m || !p || !o || !write)
        return vf_report_null_arg("vf_report_adapters_json_write", NULL, err);
    vf_buf b = {0};
    doc_sink s = {write, ctx, 0};
    write_doc(m, p, o, &b, &s);
    (void)spill(&b, &s, 0);
    bool nomem = b.failed;
    vf_buf_free(&b);
    if (s.rc)
        return vf_error_set(err, VF_ERR_IO, NULL, NULL, "the report could not be written (%d)", s.rc);
    if (nomem)
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory while writing the report");
    return VF_OK;
}
