/* vf_bnb_state.c - the packed bitsandbytes 4-bit quant state: the bytes of a
 * `<module>.weight.quant_state.bitsandbytes__nf4|fp4` tensor, untrusted.
 *
 * bitsandbytes (functional.py QuantState.as_dict(packed=True), utils.py pack_dict_to_tensor) stores
 * the non-tensor items of a QuantState as json.dumps(dict).encode("utf-8") in a U8 tensor:
 * quant_type, blocksize, dtype, shape (the logical weight shape) and, with double quantization,
 * nested_blocksize, nested_dtype, nested_offset. QuantState.from_dict accepts no other key. The text
 * is read with the project's strict JSON scanner (vf_json.h); json.dumps writes ASCII only, so
 * anything but printable ASCII and JSON whitespace is refused before scanning. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vf_format_internal.h"
#include "vf_json.h"

typedef struct bnb_ctx {
    vf_json j;
    const char *tensor;
    vf_bnb_state *out;
    unsigned seen; /* bit per key */
} bnb_ctx;

enum { K_QUANT_TYPE, K_BLOCKSIZE, K_DTYPE, K_SHAPE, K_NESTED_BLOCKSIZE, K_NESTED_DTYPE, K_NESTED_OFFSET,
       K_COUNT };
static const char *const keys[K_COUNT] = {"quant_type",       "blocksize",    "dtype",        "shape",
                                          "nested_blocksize", "nested_dtype", "nested_offset"};

static int bad(bnb_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(bnb_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vf_error_setv(c->j.err, VF_ERR_QUANT, c->j.file, c->tensor, fmt, ap);
    va_end(ap);
    c->j.failed = true;
    return VF_ERR_QUANT;
}

/* A syntax error from the scanner, with the tensor named. */
static int syntax(bnb_ctx *c, int rc)
{
    if (rc < 0 && c->j.err)
        snprintf(c->j.err->tensor, sizeof c->j.err->tensor, "%s", c->tensor);
    return rc;
}

static int expect_uint(bnb_ctx *c, uint64_t *v, const char *key)
{
    bool ok = false;
    vf_json_ws(&c->j);
    if (c->j.p >= c->j.end || !(*c->j.p == '-' || (*c->j.p >= '0' && *c->j.p <= '9')))
        return bad(c, "quant_state: '%s' is not a number", key);
    int rc = syntax(c, vf_json_number(&c->j, v, &ok));
    return rc != VF_OK ? rc : ok ? VF_OK : bad(c, "quant_state: '%s' is not an integer in 0..2^53", key);
}

/* A short string value into buf (cap bytes); longer or escaped strings are refused. */
static int expect_string(bnb_ctx *c, char *buf, size_t cap, const char *key)
{
    const uint8_t *s;
    size_t n;
    bool esc;
    vf_json_ws(&c->j);
    if (c->j.p >= c->j.end || *c->j.p != '"')
        return bad(c, "quant_state: '%s' is not a string", key);
    int rc = syntax(c, vf_json_string(&c->j, &s, &n, &esc));
    if (rc != VF_OK)
        return rc;
    if (esc || n + 1 > cap)
        return bad(c, "quant_state: '%s' is not a short plain string", key);
    memcpy(buf, s, n);
    buf[n] = '\0';
    return VF_OK;
}

static int expect_shape(bnb_ctx *c)
{
    vf_bnb_state *o = c->out;
    if (!vf_json_eat(&c->j, '['))
        return bad(c, "quant_state: '%s' is not an array of dimensions", "shape");
    if (vf_json_eat(&c->j, ']'))
        return bad(c, "quant_state: '%s' is empty", "shape");
    do {
        uint64_t d;
        if (o->ndim == VF_BNB_MAX_DIMS)
            return bad(c, "quant_state: '%s' has more than 4 dimensions", "shape");
        int rc = expect_uint(c, &d, "shape");
        if (rc != VF_OK)
            return rc;
        o->shape[o->ndim++] = d;
    } while (vf_json_eat(&c->j, ','));
    return vf_json_eat(&c->j, ']') ? VF_OK : syntax(c, vf_json_fail(&c->j));
}

static int member(bnb_ctx *c, int k)
{
    char dtype[32];
    switch (k) {
    case K_QUANT_TYPE: {
        int rc = expect_string(c, c->out->quant_type, sizeof c->out->quant_type, keys[k]);
        if (rc == VF_OK && strcmp(c->out->quant_type, "nf4") != 0 && strcmp(c->out->quant_type, "fp4") != 0)
            return bad(c, "quant_state: quant_type '%s' is neither nf4 nor fp4", c->out->quant_type);
        return rc;
    }
    case K_BLOCKSIZE: return expect_uint(c, &c->out->blocksize, keys[k]);
    case K_NESTED_BLOCKSIZE: return expect_uint(c, &c->out->nested_blocksize, keys[k]);
    case K_DTYPE:
    case K_NESTED_DTYPE: return expect_string(c, dtype, sizeof dtype, keys[k]);
    case K_SHAPE: return expect_shape(c);
    default: { /* nested_offset: a float */
        uint64_t v;
        bool ok;
        vf_json_ws(&c->j);
        return syntax(c, vf_json_number(&c->j, &v, &ok));
    }
    }
}

static int parse_object(bnb_ctx *c)
{
    vf_json_iter it = {.c = &c->j, .decode = true};
    int r;
    while ((r = syntax(c, vf_json_iter_next(&it))) > 0) {
        int k = 0;
        while (k < K_COUNT && (it.klen == SIZE_MAX || strcmp(it.key, keys[k]) != 0))
            k++;
        if (k == K_COUNT)
            return bad(c, "quant_state: unknown key '%.40s' (QuantState.from_dict accepts none)",
                       it.klen == SIZE_MAX ? "?" : it.key);
        if (c->seen & (1u << k))
            return bad(c, "quant_state: key '%s' appears twice", keys[k]);
        c->seen |= 1u << k;
        int rc = member(c, k);
        if (rc != VF_OK)
            return rc;
    }
    return r;
}

static int check_ascii(bnb_ctx *c, const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((s[i] < 0x20 || s[i] > 0x7e) && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') {
            return bad(c, "quant_state: byte %zu is not printable ASCII: not bitsandbytes' JSON", i);
        }
    return VF_OK;
}

bool vf_st_data_name(const char *name, size_t len)
{
    static const char shape[] = ".weight_shape", state[] = ".quant_state", bnb[] = "bitsandbytes__";
    if (len >= sizeof shape - 1 && memcmp(name + len - (sizeof shape - 1), shape, sizeof shape - 1) == 0)
        return true;
    /* "<module>.weight.quant_state.bitsandbytes__nf4": QuantState.as_dict(packed=True) */
    const char *dot = NULL; /* the last '.': the last component is short */
    for (size_t i = len; i > 0 && !dot; i--)
        if (name[i - 1] == '.')
            dot = name + i - 1;
    if (!dot)
        return false;
    size_t before = (size_t)(dot - name), last = len - before - 1;
    return last >= sizeof bnb - 1 && memcmp(dot + 1, bnb, sizeof bnb - 1) == 0 &&
           before >= sizeof state - 1 && memcmp(dot - (sizeof state - 1), state, sizeof state - 1) == 0;
}

int vf_bnb_state_parse(const uint8_t *data, size_t len, const char *file, const char *tensor,
                       vf_bnb_state *out, vf_error *err)
{
    memset(out, 0, sizeof *out);
    bnb_ctx c = {.j = {data, data, data + len, file, "quant_state", VF_ERR_QUANT, err, false},
                 .tensor = tensor, .out = out};
    int rc = check_ascii(&c, data, len);
    if (rc == VF_OK)
        rc = parse_object(&c);
    vf_json_ws(&c.j);
    if (rc == VF_OK && c.j.p != c.j.end)
        rc = bad(&c, "quant_state: %s", "bytes after the JSON object");
    unsigned need = 1u << K_QUANT_TYPE | 1u << K_BLOCKSIZE | 1u << K_DTYPE | 1u << K_SHAPE;
    unsigned nested = 1u << K_NESTED_BLOCKSIZE | 1u << K_NESTED_DTYPE | 1u << K_NESTED_OFFSET;
    if (rc == VF_OK && (c.seen & need) != need)
        rc = bad(&c, "quant_state: %s", "quant_type, blocksize, dtype or shape missing");
    if (rc == VF_OK && (c.seen & nested) && (c.seen & nested) != nested)
        rc = bad(&c, "quant_state: %s", "nested_blocksize, nested_dtype and nested_offset go together");
    out->nested = (c.seen & nested) != 0;
    return rc;
}
