/* vf_test_quant.c - see vf_test_quant.h. */
#include "vf_test_quant.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_test_support.h"

#define H 64
#define I 128
#define V 256
#define LAYERS 2
#define MOE_E 4
#define MOE_I 64

/* ---- a safetensors writer with real data --------------------------------------------------------- */

typedef vft_tb tb;

static void grow(void **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    size_t c = *cap ? *cap : 4096;
    while (c < need)
        c *= 2;
    *p = realloc(*p, c);
    cr_assert_not_null(*p);
    *cap = c;
}

static void hdr_printf(tb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hdr_printf(tb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    grow((void **)&b->hdr, &b->hcap, b->hl + (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(b->hdr + b->hl, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->hl += (size_t)n;
}

static unsigned dtype_bytes(const char *dt)
{
    if (strcmp(dt, "F16") == 0 || strcmp(dt, "BF16") == 0)
        return 2;
    if (strcmp(dt, "I32") == 0 || strcmp(dt, "F32") == 0)
        return 4;
    return strcmp(dt, "I64") == 0 ? 8 : 1;
}

/* Adds a tensor of shape dims (ndim entries); data NULL means zeros. */
void vft_tb_add(vft_tb *b, const char *name, const char *dt, const uint64_t *dims, int ndim, const void *data)
{
    uint64_t n = 1;
    hdr_printf(b, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[", b->hl ? "," : "{", name, dt);
    for (int i = 0; i < ndim; i++) {
        hdr_printf(b, "%s%llu", i ? "," : "", (unsigned long long)dims[i]);
        n *= dims[i];
    }
    size_t bytes = (size_t)n * dtype_bytes(dt);
    hdr_printf(b, "],\"data_offsets\":[%zu,%zu]}", b->dl, b->dl + bytes);
    grow((void **)&b->data, &b->dcap, b->dl + bytes);
    if (data)
        memcpy(b->data + b->dl, data, bytes);
    else
        memset(b->data + b->dl, 0, bytes);
    b->dl += bytes;
}


void vft_tb_write(vft_tb *b, const char *path)
{
    hdr_printf(b, "}");
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    uint8_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)((uint64_t)b->hl >> (8 * i));
    cr_assert_eq(fwrite(len, 1, 8, f), 8);
    cr_assert_eq(fwrite(b->hdr, 1, b->hl, f), b->hl);
    cr_assert_eq(fwrite(b->data, 1, b->dl, f), b->dl);
    cr_assert_eq(fclose(f), 0);
    free(b->hdr);
    free(b->data);
}

/* ---- one linear layer [out, in] in each scheme --------------------------------------------------- */

typedef struct linear_ctx {
    tb *b;
    vft_qscheme s;
    const void *state0; /* replaces the first quant state */
    size_t state0_len;
    int states;         /* quant states written so far */
} linear_ctx;

static char *nm(const char *module, const char *leaf)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s%s", module, leaf);
    return buf[k];
}

/* bitsandbytes QuantState.as_dict(packed=True): json.dumps of the non-tensor items. */
static void bnb4_state(linear_ctx *c, const char *m, uint64_t out, uint64_t in, bool nf4)
{
    char json[512];
    int n = nf4 ? snprintf(json, sizeof json,
                           "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", "
                           "\"shape\": [%llu, %llu], \"nested_blocksize\": 256, \"nested_dtype\": "
                           "\"float32\", \"nested_offset\": 0.021728515625}",
                           (unsigned long long)out, (unsigned long long)in)
                : snprintf(json, sizeof json,
                           "{\"quant_type\": \"fp4\", \"blocksize\": 64, \"dtype\": \"float16\", "
                           "\"shape\": [%llu, %llu]}", (unsigned long long)out, (unsigned long long)in);
    const void *bytes = c->states++ == 0 && c->state0 ? c->state0 : json;
    size_t len = bytes == json ? (size_t)n : c->state0_len;
    vft_tb_add(c->b, nm(m, nf4 ? ".weight.quant_state.bitsandbytes__nf4" : ".weight.quant_state.bitsandbytes__fp4"),
           "U8", (const uint64_t[]){len}, 1, bytes);
}

static void bnb4(linear_ctx *c, const char *m, uint64_t out, uint64_t in, bool nf4)
{
    uint64_t n = out * in, blocks = (n + 63) / 64;
    VFT_T(c->b, nm(m, ".weight"), "U8", (n + 1) / 2, 1);
    VFT_T(c->b, nm(m, ".weight.absmax"), nf4 ? "U8" : "F32", blocks);
    VFT_T(c->b, nm(m, ".weight.quant_map"), "F32", 16);
    if (nf4) {
        VFT_T(c->b, nm(m, ".weight.nested_absmax"), "F32", (blocks + 255) / 256);
        VFT_T(c->b, nm(m, ".weight.nested_quant_map"), "F32", 256);
    }
    bnb4_state(c, m, out, in, nf4);
}

static void weight_shape(tb *b, const char *m, uint64_t out, uint64_t in)
{
    int64_t v[2] = {(int64_t)out, (int64_t)in}; /* torch.tensor(weight.shape): int64, little-endian */
    vft_tb_add(b, nm(m, ".weight_shape"), "I64", (const uint64_t[]){2}, 1, v);
}

static void linear(linear_ctx *c, const char *m, uint64_t out, uint64_t in)
{
    tb *b = c->b;
    switch (c->s) {
    case VFT_BNB_NF4: bnb4(c, m, out, in, true); break;
    case VFT_BNB_FP4: bnb4(c, m, out, in, false); break;
    case VFT_BNB_INT8:
        VFT_T(b, nm(m, ".weight"), "I8", out, in);
        VFT_T(b, nm(m, ".SCB"), "F32", out);
        vft_tb_add(b, nm(m, ".weight_format"), "U8", NULL, 0, NULL);
        break;
    case VFT_GPTQ:
        VFT_T(b, nm(m, ".qweight"), "I32", in * 4 / 32, out);
        VFT_T(b, nm(m, ".qzeros"), "I32", in / 32, out * 4 / 32);
        VFT_T(b, nm(m, ".scales"), "F16", in / 32, out);
        VFT_T(b, nm(m, ".g_idx"), "I32", in);
        break;
    case VFT_AWQ:
        VFT_T(b, nm(m, ".qweight"), "I32", in, out * 4 / 32);
        VFT_T(b, nm(m, ".qzeros"), "I32", in / 32, out * 4 / 32);
        VFT_T(b, nm(m, ".scales"), "F16", in / 32, out);
        break;
    case VFT_CT_INT4:
        VFT_T(b, nm(m, ".weight_packed"), "I32", out, in / 8);
        VFT_T(b, nm(m, ".weight_scale"), "BF16", out, in / 32);
        weight_shape(b, m, out, in);
        break;
    case VFT_CT_FP8:
        VFT_T(b, nm(m, ".weight"), "F8_E4M3", out, in);
        VFT_T(b, nm(m, ".weight_scale"), "F32", out, 1);
        VFT_T(b, nm(m, ".input_scale"), "F32", 1);
        break;
    case VFT_FP8_BLOCK:
        VFT_T(b, nm(m, ".weight"), "F8_E4M3", out, in);
        VFT_T(b, nm(m, ".weight_scale_inv"), "F32", (out + 127) / 128, (in + 127) / 128);
        break;
    case VFT_NVFP4:
        VFT_T(b, nm(m, ".weight_packed"), "U8", out, in / 2);
        VFT_T(b, nm(m, ".weight_scale"), "F8_E4M3", out, in / 16);
        VFT_T(b, nm(m, ".weight_global_scale"), "F32", 1);
        VFT_T(b, nm(m, ".input_global_scale"), "F32", 1);
        break;
    default: VFT_T(b, nm(m, ".weight"), "BF16", out, in); break;
    }
}

/* ---- the models ---------------------------------------------------------------------------------- */

static const char *const config_quant[VFT_QSCHEME_COUNT] = {
    [VFT_BNB_NF4] = "{\"quant_method\":\"bitsandbytes\",\"load_in_4bit\":true,\"bnb_4bit_quant_type\":\"nf4\","
                    "\"bnb_4bit_use_double_quant\":true}",
    [VFT_BNB_FP4] = "{\"quant_method\":\"bitsandbytes\",\"load_in_4bit\":true,\"bnb_4bit_quant_type\":\"fp4\"}",
    [VFT_BNB_INT8] = "{\"quant_method\":\"bitsandbytes\",\"load_in_8bit\":true}",
    [VFT_GPTQ] = "{\"quant_method\":\"gptq\",\"bits\":4,\"group_size\":32,\"desc_act\":false,\"sym\":true}",
    [VFT_AWQ] = "{\"quant_method\":\"awq\",\"bits\":4,\"group_size\":32,\"version\":\"gemm\",\"zero_point\":true}",
    [VFT_CT_INT4] = "{\"quant_method\":\"compressed-tensors\",\"format\":\"pack-quantized\",\"config_groups\":"
                    "{\"group_0\":{\"targets\":[\"Linear\"],\"weights\":{\"num_bits\":4,\"group_size\":32}}}}",
    [VFT_CT_FP8] = "{\"quant_method\":\"compressed-tensors\",\"format\":\"float-quantized\",\"config_groups\":"
                   "{\"group_0\":{\"weights\":{\"num_bits\":8,\"type\":\"float\"}}}}",
    [VFT_FP8_BLOCK] = "{\"quant_method\":\"fp8\",\"fmt\":\"e4m3\",\"activation_scheme\":\"dynamic\","
                      "\"weight_block_size\":[128,128]}",
    [VFT_NVFP4] = "{\"quant_method\":\"compressed-tensors\",\"format\":\"nvfp4-pack-quantized\",\"config_groups\":"
                  "{\"group_0\":{\"weights\":{\"num_bits\":4,\"type\":\"float\",\"group_size\":16}}}}",
    [VFT_MOE_MXFP4] = "{\"quant_method\":\"mxfp4\",\"modules_to_not_convert\":[\"model.layers.*.self_attn\","
                      "\"model.layers.*.mlp.router\",\"model.embed_tokens\",\"lm_head\"]}",
};

const char *vft_qscheme_name(vft_qscheme s)
{
    static const char *const names[VFT_QSCHEME_COUNT] = {
        "plain", "bnb-nf4", "bnb-fp4", "bnb-int8", "gptq", "awq", "ct-int4", "ct-fp8", "fp8-block",
        "nvfp4", "moe-plain", "moe-mxfp4"};
    return (unsigned)s < VFT_QSCHEME_COUNT ? names[s] : "?";
}

static void write_config(const char *dir, vft_qscheme s, bool moe)
{
    char cfg[1024], *path = vft_path(dir, "config.json");
    int n = snprintf(cfg, sizeof cfg,
                     "{\"architectures\":[\"%s\"],\"hidden_size\":%d,\"num_hidden_layers\":%d,"
                     "\"vocab_size\":%d,\"tie_word_embeddings\":false%s%s%s%s}",
                     moe ? "GptOssForCausalLM" : "LlamaForCausalLM", H, moe ? 1 : LAYERS, V,
                     moe ? ",\"num_local_experts\":4" : "", config_quant[s] ? ",\"quantization_config\":" : "",
                     config_quant[s] ? config_quant[s] : "", "");
    vft_write_file(path, cfg, (size_t)n);
    free(path);
}

static void attention(linear_ctx *c, const char *p)
{
    static const char *const proj[] = {"q_proj", "k_proj", "v_proj", "o_proj"};
    char m[128];
    for (int k = 0; k < 4; k++) {
        snprintf(m, sizeof m, "%s.self_attn.%s", p, proj[k]);
        linear(c, m, H, H);
    }
}

static void llama(linear_ctx *c)
{
    char p[64], m[128];
    VFT_T(c->b, "model.embed_tokens.weight", "BF16", V, H);
    for (int l = 0; l < LAYERS; l++) {
        snprintf(p, sizeof p, "model.layers.%d", l);
        attention(c, p);
        snprintf(m, sizeof m, "%s.mlp.gate_proj", p);
        linear(c, m, I, H);
        snprintf(m, sizeof m, "%s.mlp.up_proj", p);
        linear(c, m, I, H);
        snprintf(m, sizeof m, "%s.mlp.down_proj", p);
        linear(c, m, H, I);
        VFT_T(c->b, nm(p, ".input_layernorm.weight"), "BF16", H);
        VFT_T(c->b, nm(p, ".post_attention_layernorm.weight"), "BF16", H);
    }
    VFT_T(c->b, "model.norm.weight", "BF16", H);
    VFT_T(c->b, "lm_head.weight", "BF16", V, H);
}

/* gpt-oss layout (transformers modeling_gpt_oss.py GptOssExperts, integrations/mxfp4.py). */
static void moe(linear_ctx *c, bool mxfp4)
{
    const char *e = "model.layers.0.mlp.experts";
    c->s = VFT_PLAIN;
    VFT_T(c->b, "model.embed_tokens.weight", "BF16", V, H);
    attention(c, "model.layers.0");
    VFT_T(c->b, "model.layers.0.mlp.router.weight", "BF16", MOE_E, H);
    VFT_T(c->b, "model.layers.0.mlp.router.bias", "BF16", MOE_E);
    if (mxfp4) {
        VFT_T(c->b, nm(e, ".gate_up_proj_blocks"), "U8", MOE_E, 2 * MOE_I, H / 32, 16);
        VFT_T(c->b, nm(e, ".gate_up_proj_scales"), "U8", MOE_E, 2 * MOE_I, H / 32);
        VFT_T(c->b, nm(e, ".down_proj_blocks"), "U8", MOE_E, H, MOE_I / 32, 16);
        VFT_T(c->b, nm(e, ".down_proj_scales"), "U8", MOE_E, H, MOE_I / 32);
    } else {
        VFT_T(c->b, nm(e, ".gate_up_proj"), "BF16", MOE_E, H, 2 * MOE_I);
        VFT_T(c->b, nm(e, ".down_proj"), "BF16", MOE_E, MOE_I, H);
    }
    VFT_T(c->b, nm(e, ".gate_up_proj_bias"), "BF16", MOE_E, 2 * MOE_I);
    VFT_T(c->b, nm(e, ".down_proj_bias"), "BF16", MOE_E, H);
    VFT_T(c->b, "model.layers.0.input_layernorm.weight", "BF16", H);
    VFT_T(c->b, "model.layers.0.post_attention_layernorm.weight", "BF16", H);
    VFT_T(c->b, "model.norm.weight", "BF16", H);
    VFT_T(c->b, "lm_head.weight", "BF16", V, H);
}

void vft_quant_model(const char *dir, vft_qscheme s, const void *state0, size_t state0_len)
{
    tb b = {0};
    linear_ctx c = {&b, s, state0, state0_len, 0};
    bool is_moe = s == VFT_MOE_PLAIN || s == VFT_MOE_MXFP4;
    if (is_moe)
        moe(&c, s == VFT_MOE_MXFP4);
    else
        llama(&c);
    char *path = vft_path(dir, "model.safetensors");
    vft_tb_write(&b, path);
    free(path);
    write_config(dir, s, is_moe);
}
