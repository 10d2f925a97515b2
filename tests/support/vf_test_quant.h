/* vf_test_quant.h - small pre-quantized checkpoints written byte for byte as each library stores
 * them (layouts cited in tensors/vf_quant.c), with the bitsandbytes quant state as real JSON bytes:
 * a 2-layer Llama (hidden 64, intermediate 128, vocabulary 256, untied lm_head, every linear layer
 * but lm_head quantized) and a 1-layer gpt-oss-like MoE (4 experts, MXFP4 or plain). */
#ifndef VF_TEST_QUANT_H
#define VF_TEST_QUANT_H

#include <stddef.h>
#include <stdint.h>

typedef enum vft_qscheme {
    VFT_PLAIN,     /* BF16 Llama: the oracle for every quantized copy */
    VFT_BNB_NF4,   /* bitsandbytes nf4 with double quantization */
    VFT_BNB_FP4,   /* bitsandbytes fp4, absmax in F32 */
    VFT_BNB_INT8,  /* Linear8bitLt: int8 weight, SCB, weight_format */
    VFT_GPTQ,      /* 4 bits, group 32 */
    VFT_AWQ,       /* GEMM, 4 bits, group 32 */
    VFT_CT_INT4,   /* compressed-tensors pack-quantized with weight_shape */
    VFT_CT_FP8,    /* compressed-tensors float-quantized */
    VFT_FP8_BLOCK, /* DeepSeek weight_scale_inv */
    VFT_NVFP4,     /* compressed-tensors nvfp4-pack-quantized */
    VFT_MOE_PLAIN, /* gpt-oss-like MoE, BF16 fused experts [E, in, out] */
    VFT_MOE_MXFP4, /* the same, experts in MXFP4 *_blocks / *_scales */
    VFT_QSCHEME_COUNT
} vft_qscheme;

/* Parameters of VFT_PLAIN (and of every Llama copy, dequantized), and of the MoE. */
#define VFT_LLAMA_PARAMS 115008u
#define VFT_MOE_PARAMS 99524u

const char *vft_qscheme_name(vft_qscheme s);

/* A safetensors file built tensor by tensor with real data (zero-initialise, add, write once). */
typedef struct vft_tb {
    char *hdr;
    size_t hl, hcap;
    uint8_t *data;
    size_t dl, dcap;
} vft_tb;
/* Adds a tensor of shape dims (ndim entries) with its bytes (NULL: zeros). */
void vft_tb_add(vft_tb *b, const char *name, const char *dtype, const uint64_t *dims, int ndim,
                const void *data);
/* Writes the file and frees the builder. */
void vft_tb_write(vft_tb *b, const char *path);
/* vft_tb_add of a zero tensor with the dimensions listed. */
#define VFT_T(b, name, dt, ...)                                                                     \
    vft_tb_add(b, name, dt, (const uint64_t[]){__VA_ARGS__},                                       \
               (int)(sizeof((const uint64_t[]){__VA_ARGS__}) / sizeof(uint64_t)), NULL)

/* Writes dir/model.safetensors and dir/config.json. state0 (len bytes), when not NULL, replaces the
 * quant state bytes of layer 0's q_proj (bitsandbytes schemes): how hostile states are tested. */
void vft_quant_model(const char *dir, vft_qscheme s, const void *state0, size_t state0_len);

#endif
