/* test_estimator.c - the pure estimator (vf_estimator.h) against Training Hub's arithmetic.
 *
 * Expected values come from three independent places: the article's printed Granite example (one
 * decimal GiB), exact integer arithmetic written out here, and golden values computed with Python
 * floats from a transcription of Training Hub's memory_estimator.py expressions (commented per case). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vramfit/vf_estimator.h"

#define GiB (UINT64_C(1) << 30)

/* ibm-granite/granite-3.3-2b-instruct as in formulas.md */
static vf_est_model granite(void)
{
    vf_est_model m = {0};
    m.parameters = UINT64_C(2533539840);
    m.layers = 40;
    m.hidden_size = 2048;
    m.vocab_size = 49159;
    return m;
}

/* Llama-3-8B shapes: P, L=32, H=4096, V=128256, KV 1024, intermediate 14336. lora_dim_sum and
 * osft_params computed from the seven default targets per layer. */
static vf_est_model llama8b(void)
{
    vf_est_model m = {0};
    m.parameters = UINT64_C(8030261248);
    m.layers = 32;
    m.hidden_size = 4096;
    m.vocab_size = 128256;
    m.lora_dim_sum = UINT64_C(2621440);
    m.osft_params = UINT64_C(10782445568);
    return m;
}

static vf_est_setup setup(vf_method method, uint32_t gpus, uint64_t mem)
{
    vf_est_setup s = VF_EST_SETUP_INIT;
    s.method = method;
    s.gpus = gpus;
    s.gpu_memory = mem;
    return s;
}

static vf_est_result run_ok(const vf_est_model *m, const vf_est_setup *s)
{
    vf_est_result r;
    vf_error err = {0};
    int rc = vf_estimate(m, s, &r, &err);
    cr_assert_eq(rc, VF_OK, "vf_estimate failed: %d %s", rc, err.message);
    cr_assert_eq(err.code, 0);
    return r;
}

static int run_err(const vf_est_model *m, const vf_est_setup *s, vf_error *err)
{
    vf_est_result r;
    memset(err, 0, sizeof *err);
    memset(&r, 0xAB, sizeof r);
    int rc = vf_estimate(m, s, &r, err);
    cr_assert_lt(rc, 0);
    cr_assert_eq(err->code, rc);
    cr_assert_neq(err->message[0], '\0');
    return rc;
}

/* Training Hub's ROUNDER: str(round(bytes / 2^30, 1)) */
static const char *gib1(uint64_t bytes, char *buf)
{
    snprintf(buf, 32, "%.1f", (double)bytes / 1073741824.0);
    return buf;
}

#define ASSERT_GIB(bytes, text)                                                                    \
    do {                                                                                           \
        char b_[32];                                                                               \
        cr_assert_str_eq(gib1((bytes), b_), (text), "%s: %s GiB, wanted %s", #bytes, b_, (text));  \
    } while (0)

#define ASSERT_BOUNDS(r, lo, ex, hi)                                                               \
    do {                                                                                           \
        cr_assert_eq((r).low, UINT64_C(lo), "low %llu", (unsigned long long)(r).low);              \
        cr_assert_eq((r).expected, UINT64_C(ex), "expected %llu", (unsigned long long)(r).expected); \
        cr_assert_eq((r).high, UINT64_C(hi), "high %llu", (unsigned long long)(r).high);           \
    } while (0)

/* ---- the published example ---------------------------------------------------------------- */

Test(estimator, granite_published_example)
{
    vf_est_model m = granite();
    vf_est_setup s = setup(VF_METHOD_SFT, 2, 48 * GiB);
    s.max_tokens_per_gpu = 8192;
    vf_est_result r = run_ok(&m, &s);

    /* article, one decimal GiB */
    ASSERT_GIB(r.parameters, "4.7");
    ASSERT_GIB(r.optimizer, "9.4");
    ASSERT_GIB(r.gradients, "4.7");
    ASSERT_GIB(r.activations, "2.5");
    ASSERT_GIB(r.outputs, "4.0");
    ASSERT_GIB(r.overhead, "7.6");
    ASSERT_GIB(r.expected, "27.9");
    ASSERT_GIB(r.low, "25.4");
    ASSERT_GIB(r.high, "33.0");
    ASSERT_GIB(r.total_expected, "55.8");
    ASSERT_GIB(r.total_low, "50.8");
    ASSERT_GIB(r.total_high, "66.0");
    cr_assert_eq(r.verdict, VF_VERDICT_FITS);
    cr_assert_str_eq(vf_verdict_text(r.verdict),
                     "The proposed training setup should work for your hardware.");

    /* exact bytes, written out with integers: outputs = T*4*V*8/3, so work in thirds */
    const uint64_t P = m.parameters, T = 8192, G = 2;
    const uint64_t par = 4 * P / G, opt = 8 * P / G, grad = 4 * P / G, act = T * 4 * 40 * 2048;
    const uint64_t out3 = T * 4 * 49159 * 8;
    const uint64_t sub3 = 3 * (par + opt + grad + act) + out3;
    cr_assert_eq(r.parameters, par);
    cr_assert_eq(r.optimizer, opt);
    cr_assert_eq(r.gradients, grad);
    cr_assert_eq(r.activations, act);
    cr_assert_eq(r.outputs, out3 / 3);
    cr_assert_eq(r.additional, 0);
    cr_assert_eq(r.subtotal, sub3 / 3);
    cr_assert_eq(r.low, sub3 / 3);
    cr_assert_eq(r.expected, 11 * sub3 / 30);
    cr_assert_eq(r.high, 13 * sub3 / 30);
    cr_assert_eq(r.overhead, 13 * sub3 / 30 - sub3 / 3);
    cr_assert_eq(r.total_expected, 2 * (11 * sub3 / 30));
    /* and the literal numbers (Python floats agree here) */
    ASSERT_BOUNDS(r, 27248252245, 29973077469, 35422727918);
    cr_assert_eq(r.outputs, UINT64_C(4295578965));
    cr_assert_eq(r.need_low + r.need_expected + r.need_high, 0);
    cr_assert_eq(r.tokens_source, VF_TOKENS_MAX_TOKENS);
    cr_assert_eq(r.tokens_num, 8192);
    cr_assert_eq(r.tokens_den, 1);
    cr_assert_eq(r.peak_rule, VF_PEAK_SUM_ALL);
    cr_assert_not(r.liger);
    cr_assert_not(r.model_bound);
    cr_assert_float_eq(r.mult_expected, 1.1, 0.0);
    cr_assert_float_eq(r.mult_high, 1.3, 0.0);
}

Test(estimator, granite_notebook_batch_defaults_give_same_tokens)
{
    /* batch 4 x 4096 / 2 GPUs = 8192.0 tokens: same figures as max_tokens_per_gpu 8192 */
    vf_est_model m = granite();
    vf_est_setup s = setup(VF_METHOD_SFT, 2, 48 * GiB);
    s.batch_size = 4;
    s.max_seq_len = 4096;
    vf_est_result r = run_ok(&m, &s);
    cr_assert_eq(r.tokens_source, VF_TOKENS_BATCH);
    cr_assert_eq(r.tokens_num, 16384);
    cr_assert_eq(r.tokens_den, 2);
    ASSERT_BOUNDS(r, 27248252245, 29973077469, 35422727918);
}

/* ---- SFT ----------------------------------------------------------------------------------- */

Test(estimator, sft_with_and_without_liger)
{
    vf_est_model m = llama8b();
    vf_est_setup s = setup(VF_METHOD_SFT, 8, 80 * GiB);
    s.max_tokens_per_gpu = 16384;
    vf_est_result r = run_ok(&m, &s);
    cr_assert_eq(r.outputs, UINT64_C(22414360576)); /* 16384*4*128256*8/3 */
    cr_assert_eq(r.activations, UINT64_C(8589934592));
    ASSERT_BOUNDS(r, 47064817664, 51771299430, 61184262963);
    cr_assert_not(r.liger);

    s.liger = 1;
    r = run_ok(&m, &s);
    cr_assert(r.liger);
    cr_assert_eq(r.outputs, 0);
    cr_assert_eq(r.parameters, UINT64_C(4015130624));
    cr_assert_eq(r.optimizer, UINT64_C(8030261248));
    cr_assert_eq(r.gradients, UINT64_C(4015130624));
    ASSERT_BOUNDS(r, 24650457088, 27115502796, 32045594214);

    s.liger = 0; /* explicit off == default for SFT */
    r = run_ok(&m, &s);
    cr_assert_eq(r.outputs, UINT64_C(22414360576));
}

Test(estimator, sft_fractional_tokens_follow_python_floats)
{
    /* T = 5*1000/3 = 1666.666...; Python: par 10707014997.333334, sub 45981979989.333336 */
    vf_est_model m = llama8b();
    vf_est_setup s = setup(VF_METHOD_SFT, 3, 80 * GiB);
    s.batch_size = 5;
    s.max_seq_len = 1000;
    vf_est_result r = run_ok(&m, &s);
    cr_assert_eq(r.tokens_num, 5000);
    cr_assert_eq(r.tokens_den, 3);
    cr_assert_float_eq(r.tokens_per_gpu, 5000.0 / 3.0, 0.0);
    cr_assert_eq(r.parameters, UINT64_C(10707014997));
    cr_assert_eq(r.optimizer, UINT64_C(21414029994));
    cr_assert_eq(r.activations, UINT64_C(873813333));
    cr_assert_eq(r.outputs, UINT64_C(2280106666));
    cr_assert_eq(r.subtotal, UINT64_C(45981979989));
    ASSERT_BOUNDS(r, 45981979989, 50580177988, 59776573986);
}

/* ---- OSFT ---------------------------------------------------------------------------------- */

Test(estimator, osft_liger_default_on_and_explicit_off)
{
    vf_est_model m = llama8b();
    vf_est_setup s = setup(VF_METHOD_OSFT, 8, 80 * GiB);
    s.max_tokens_per_gpu = 16384;
    vf_est_result r = run_ok(&m, &s);
    cr_assert(r.liger);
    cr_assert_eq(r.parameters, UINT64_C(10782445568) * 4 / 8);
    cr_assert_eq(r.gradients, UINT64_C(1003782656)); /* 4P * 0.25 / 8 */
    cr_assert_eq(r.optimizer, UINT64_C(8030261248)); /* 8P / 8 */
    cr_assert_eq(r.activations, UINT64_C(2147483648)); /* 16384*4*32*4096 * 0.25 */
    cr_assert_eq(r.outputs, 0);
    ASSERT_BOUNDS(r, 16572750336, 18230025369, 21544575436);

    s.liger = 0; /* outputs = T*4*V*7/3 */
    r = run_ok(&m, &s);
    cr_assert_not(r.liger);
    cr_assert_eq(r.outputs, UINT64_C(19612565504));
    cr_assert_eq(r.outputs, UINT64_C(16384) * 4 * 128256 * 7 / 3);
    ASSERT_BOUNDS(r, 36185315840, 39803847424, 47040910592);

    s.liger = 1;
    r = run_ok(&m, &s);
    cr_assert_eq(r.outputs, 0);
    cr_assert_eq(r.expected, UINT64_C(18230025369));
}

Test(estimator, osft_ratio_and_fractional_tokens)
{
    /* u = 0.37, T = 5000/3: Python grad 3961595549.013333, sub 40075530567.68001 */
    vf_est_model m = llama8b();
    vf_est_setup s = setup(VF_METHOD_OSFT, 3, 80 * GiB);
    s.batch_size = 5;
    s.max_seq_len = 1000;
    s.unfreeze_rank_ratio = 0.37;
    vf_est_result r = run_ok(&m, &s);
    cr_assert_eq(r.gradients, UINT64_C(3961595549));
    cr_assert_eq(r.activations, UINT64_C(323310933));
    cr_assert_eq(r.parameters, UINT64_C(14376594090));
    ASSERT_BOUNDS(r, 40075530567, 44083083624, 52098189737);

    s.unfreeze_rank_ratio = 1.0; /* upper end allowed */
    r = run_ok(&m, &s);
    cr_assert_eq(r.gradients, UINT64_C(8030261248) * 4 / 3);
}

/* ---- LoRA ---------------------------------------------------------------------------------- */

Test(estimator, lora_gradients_larger_drop_outputs)
{
    vf_est_model m = llama8b();
    vf_est_setup s = setup(VF_METHOD_LORA, 1, 80 * GiB);
    s.batch_size = 1;
    s.max_seq_len = 128;
    vf_est_result r = run_ok(&m, &s);
    const uint64_t ab = UINT64_C(2621440) * 32;
    cr_assert_eq(r.parameters, 2 * m.parameters + 4 * ab);
    cr_assert_eq(r.optimizer, 4 * ab);
    cr_assert_eq(r.gradients, 2 * ab);
    cr_assert_eq(r.activations, UINT64_C(128) * 2 * 32 * 4096);
    cr_assert_eq(r.peak_rule, VF_PEAK_DROP_OUTPUTS);
    cr_assert_eq(r.outputs, 0);
    cr_assert_eq(r.peak_dropped, UINT64_C(128) * 2 * 128256 * 2);
    cr_assert_eq(r.subtotal, UINT64_C(16932937728));
    ASSERT_BOUNDS(r, 16086290841, 18626231500, 20319525273);
    cr_assert_float_eq(r.mult_low, 0.95, 0.0);
    cr_assert_float_eq(r.mult_high, 1.2, 0.0);
}

Test(estimator, lora_outputs_larger_drop_gradients)
{
    vf_est_model m = llama8b();
    vf_est_setup s = setup(VF_METHOD_LORA, 1, 80 * GiB);
    s.batch_size = 8;
    s.max_seq_len = 4096;
    vf_est_result r = run_ok(&m, &s);
    cr_assert_eq(r.peak_rule, VF_PEAK_DROP_GRADIENTS);
    cr_assert_eq(r.gradients, 0);
    cr_assert_eq(r.peak_dropped, 2 * UINT64_C(2621440) * 32);
    cr_assert_eq(r.outputs, UINT64_C(32768) * 2 * 128256 * 2);
    ASSERT_BOUNDS(r, 40025700352, 46345547776, 50558779392);

    s.liger = 1; /* outputs 0 -> gradients are the larger */
    r = run_ok(&m, &s);
    cr_assert_eq(r.peak_rule, VF_PEAK_DROP_OUTPUTS);
    cr_assert_eq(r.peak_dropped, 0);
    cr_assert_eq(r.gradients, 2 * UINT64_C(2621440) * 32);
    ASSERT_BOUNDS(r, 24214851993, 28038249676, 30587181465);
}

Test(estimator, lora_tie_drops_gradients_and_override)
{
    /* outputs = 100*2*1000*2 = 400000 = gradients = 2*AB with AB = 200000 exactly */
    vf_est_model m = {0};
    m.parameters = 1000000;
    m.layers = 2;
    m.hidden_size = 10;
    m.vocab_size = 1000;
    m.lora_dim_sum = 999; /* ignored: the override wins */
    m.lora_params_override = 200000;
    vf_est_setup s = setup(VF_METHOD_LORA, 1, GiB);
    s.batch_size = 1;
    s.max_seq_len = 100;
    vf_est_result r = run_ok(&m, &s);
    cr_assert_eq(r.peak_rule, VF_PEAK_DROP_GRADIENTS);
    cr_assert_eq(r.gradients, 0);
    cr_assert_eq(r.peak_dropped, 400000);
    cr_assert_eq(r.outputs, 400000);
    cr_assert_eq(r.parameters, 2000000 + 800000);
    cr_assert_eq(r.optimizer, 800000);
    cr_assert_eq(r.activations, 4000);
    cr_assert_eq(r.subtotal, 2800000 + 800000 + 4000 + 400000);
    ASSERT_BOUNDS(r, 3803800, 4404400, 4804800);
}

Test(estimator, lora_ignores_max_tokens_per_gpu)
{
    vf_est_model m = llama8b();
    vf_est_setup s = setup(VF_METHOD_LORA, 1, 80 * GiB);
    s.batch_size = 1;
    s.max_seq_len = 128;
    s.max_tokens_per_gpu = 5;
    vf_est_result r = run_ok(&m, &s);
    cr_assert(r.max_tokens_ignored);
    cr_assert_eq(r.tokens_source, VF_TOKENS_BATCH);
    cr_assert_eq(r.tokens_num, 128);
    ASSERT_BOUNDS(r, 16086290841, 18626231500, 20319525273);
}

Test(estimator, lora_truncation_follows_python_floats_not_exact_rationals)
{
    /* Exact: subtotal*6/5 = 8117772916.0 exactly; Python's 1.2 is slightly below 6/5 and int()
     * gives 8117772915. Training Hub prints the latter, so vramfit must too. */
    vf_est_model m = {0};
    m.parameters = UINT64_C(8969015249);
    m.layers = 69;
    m.hidden_size = 1024;
    m.vocab_size = 103803;
    m.lora_dim_sum = 600621;
    vf_est_setup s = setup(VF_METHOD_LORA, 3, 80 * GiB);
    s.batch_size = 4;
    s.max_seq_len = 1024;
    s.lora_r = 16;
    vf_est_result r = run_ok(&m, &s);
    cr_assert_eq(r.peak_rule, VF_PEAK_DROP_GRADIENTS);
    cr_assert_eq(r.parameters, UINT64_C(5992156747));
    cr_assert_eq(r.outputs, UINT64_C(566902784));
    ASSERT_BOUNDS(r, 6426570225, 7441291839, 8117772915);
}

/* ---- QLoRA --------------------------------------------------------------------------------- */

Test(estimator, qlora_model_bound)
{
    vf_est_model m = llama8b();
    vf_est_setup s = setup(VF_METHOD_QLORA, 1, 80 * GiB);
    s.batch_size = 1;
    s.max_seq_len = 128;
    vf_est_result r = run_ok(&m, &s);
    cr_assert(r.model_bound);
    /* the LoRA-rule subtotal: 0.5P + 4AB + 4AB(opt) + 2AB(grad) + act, below P */
    const uint64_t ab = UINT64_C(2621440) * 32;
    cr_assert_eq(r.unbound_subtotal, m.parameters / 2 + 4 * ab + 4 * ab + 2 * ab + 128 * 2 * 32 * 4096);
    cr_assert_lt(r.unbound_subtotal, m.parameters);
    cr_assert_eq(r.subtotal, m.parameters);
    cr_assert_eq(r.parameters, m.parameters);
    cr_assert_eq(r.optimizer + r.gradients + r.activations + r.outputs, 0);
    ASSERT_BOUNDS(r, 7628748185, 8833287372, 10439339622);
    cr_assert_float_eq(r.mult_high, 1.3, 0.0);

    s.gpus = 4; /* P/G per GPU */
    s.batch_size = 1;
    r = run_ok(&m, &s);
    cr_assert(r.model_bound);
    cr_assert_eq(r.parameters, m.parameters / 4);
    ASSERT_BOUNDS(r, 1907187046, 2208321843, 2609834905);

    /* Training Hub compares the per-GPU subtotal with the whole-model P: a per-GPU subtotal above
     * P/G but below P is still "model-bound" and reported as P/G. */
    s.batch_size = 8;
    s.max_seq_len = 1024;
    r = run_ok(&m, &s);
    cr_assert(r.model_bound);
    cr_assert_gt(r.unbound_subtotal, m.parameters / 4);
    cr_assert_lt(r.unbound_subtotal, m.parameters);
    cr_assert_eq(r.subtotal, m.parameters / 4);
    ASSERT_BOUNDS(r, 1907187046, 2208321843, 2609834905);
}

Test(estimator, qlora_not_model_bound)
{
    vf_est_model m = llama8b();
    vf_est_setup s = setup(VF_METHOD_QLORA, 1, 80 * GiB);
    s.batch_size = 8;
    s.max_seq_len = 4096;
    vf_est_result r = run_ok(&m, &s);
    cr_assert_not(r.model_bound);
    const uint64_t ab = UINT64_C(2621440) * 32;
    cr_assert_eq(r.parameters, m.parameters / 2 + 4 * ab);
    cr_assert_eq(r.peak_rule, VF_PEAK_DROP_GRADIENTS);
    cr_assert_eq(r.subtotal, r.unbound_subtotal);
    ASSERT_BOUNDS(r, 28582578073, 33095616716, 39113001574);

    /* odd P (0.5P fractional), rank 7, 3 GPUs: Python sub 9854212096.166666 */
    m.parameters += 1;
    s.gpus = 3;
    s.lora_r = 7;
    r = run_ok(&m, &s);
    cr_assert_not(r.model_bound);
    cr_assert_eq(r.parameters, UINT64_C(1362843648));
    ASSERT_BOUNDS(r, 9361501491, 10839633305, 12810475725);
}

/* ---- verdicts ------------------------------------------------------------------------------ */

static vf_est_result granite_with_memory(uint64_t mem)
{
    vf_est_model m = granite();
    vf_est_setup s = setup(VF_METHOD_SFT, 2, mem);
    s.max_tokens_per_gpu = 8192;
    return run_ok(&m, &s);
}

Test(estimator, verdict_levels_and_needs)
{
    const uint64_t lo = UINT64_C(27248252245), ex = UINT64_C(29973077469), hi = UINT64_C(35422727918);
    vf_est_result r = granite_with_memory(hi);
    cr_assert_eq(r.verdict, VF_VERDICT_FITS);
    cr_assert_eq(r.need_low + r.need_expected + r.need_high, 0);

    r = granite_with_memory(hi - 1);
    cr_assert_eq(r.verdict, VF_VERDICT_LIKELY);
    cr_assert_eq(r.need_high, 1);
    cr_assert_eq(r.need_expected, 0);
    cr_assert_eq(r.need_low, 0);

    r = granite_with_memory(ex);
    cr_assert_eq(r.verdict, VF_VERDICT_LIKELY);
    cr_assert_eq(r.need_high, hi - ex);

    r = granite_with_memory(ex - 1);
    cr_assert_eq(r.verdict, VF_VERDICT_RISKY);
    cr_assert_eq(r.need_expected, 1);
    cr_assert_eq(r.need_high, hi - ex + 1);
    cr_assert_eq(r.need_low, 0);

    r = granite_with_memory(lo);
    cr_assert_eq(r.verdict, VF_VERDICT_RISKY);

    r = granite_with_memory(lo - 1);
    cr_assert_eq(r.verdict, VF_VERDICT_NO);
    cr_assert_eq(r.need_low, 1);
    cr_assert_eq(r.need_expected, ex - lo + 1);
    cr_assert_eq(r.need_high, hi - lo + 1);

    r = granite_with_memory(16 * GiB);
    cr_assert_eq(r.verdict, VF_VERDICT_NO);
    cr_assert_eq(r.need_low, lo - 16 * GiB);
}

Test(estimator, verdict_and_method_names)
{
    cr_assert_str_eq(vf_verdict_name(VF_VERDICT_FITS), "fits");
    cr_assert_str_eq(vf_verdict_name(VF_VERDICT_LIKELY), "likely");
    cr_assert_str_eq(vf_verdict_name(VF_VERDICT_RISKY), "risky");
    cr_assert_str_eq(vf_verdict_name(VF_VERDICT_NO), "no");
    cr_assert_null(vf_verdict_name(VF_VERDICT_COUNT));
    cr_assert_str_eq(vf_verdict_text(VF_VERDICT_LIKELY),
                     "The proposed training setup will likely work for your hardware.");
    cr_assert_str_eq(vf_verdict_text(VF_VERDICT_RISKY),
                     "The proposed training setup may work but isn't recommended for your hardware.");
    cr_assert_str_eq(vf_verdict_text(VF_VERDICT_NO),
                     "The proposed training setup is impossible for your hardware.");
    cr_assert_null(vf_verdict_text((vf_verdict)99));

    const char *names[] = {"sft", "osft", "lora", "qlora"};
    for (int i = 0; i < VF_METHOD_COUNT; i++) {
        vf_method m = VF_METHOD_COUNT;
        cr_assert_str_eq(vf_method_name((vf_method)i), names[i]);
        cr_assert(vf_method_from_name(names[i], &m));
        cr_assert_eq(m, (vf_method)i);
    }
    vf_method m = VF_METHOD_SFT;
    cr_assert(vf_method_from_name("QLoRA", &m));
    cr_assert_eq(m, VF_METHOD_QLORA);
    cr_assert(vf_method_from_name("osft-e", &m));
    cr_assert_eq(m, VF_METHOD_OSFT);
    m = VF_METHOD_LORA;
    cr_assert_not(vf_method_from_name("dpo", &m));
    cr_assert_not(vf_method_from_name("sf", &m));
    cr_assert_not(vf_method_from_name("sftx", &m));
    cr_assert_not(vf_method_from_name("", &m));
    cr_assert_not(vf_method_from_name(NULL, &m));
    cr_assert_eq(m, VF_METHOD_LORA);
    cr_assert_null(vf_method_name(VF_METHOD_COUNT));
}

/* ---- tokens per GPU ------------------------------------------------------------------------ */

Test(estimator, tokens_resolution_sft_osft)
{
    vf_est_model m = llama8b();
    for (int method = VF_METHOD_SFT; method <= VF_METHOD_OSFT; method++) {
        vf_est_setup s = setup((vf_method)method, 4, 80 * GiB);
        vf_est_result r;
        vf_error err;

        s.max_tokens_per_gpu = 3000; /* only max tokens */
        r = run_ok(&m, &s);
        cr_assert_eq(r.tokens_source, VF_TOKENS_MAX_TOKENS);
        cr_assert_eq(r.tokens_num, 3000);

        s.max_tokens_per_gpu = 0; /* only batch: 2*4096/4 = 2048 */
        s.batch_size = 2;
        s.max_seq_len = 4096;
        r = run_ok(&m, &s);
        cr_assert_eq(r.tokens_source, VF_TOKENS_BATCH);
        cr_assert_float_eq(r.tokens_per_gpu, 2048.0, 0.0);

        s.max_tokens_per_gpu = 3000; /* all three: batch is smaller */
        r = run_ok(&m, &s);
        cr_assert_eq(r.tokens_source, VF_TOKENS_BATCH);
        cr_assert_float_eq(r.tokens_per_gpu, 2048.0, 0.0);
        cr_assert_eq(r.activations, (uint64_t)(method == VF_METHOD_SFT ? 2048ULL * 4 * 32 * 4096
                                                                       : 2048ULL * 32 * 4096));

        s.max_tokens_per_gpu = 1000; /* all three: max tokens is smaller */
        r = run_ok(&m, &s);
        cr_assert_eq(r.tokens_source, VF_TOKENS_MAX_TOKENS);
        cr_assert_float_eq(r.tokens_per_gpu, 1000.0, 0.0);

        s.max_tokens_per_gpu = 2048; /* tie: Python's min keeps its first argument */
        r = run_ok(&m, &s);
        cr_assert_eq(r.tokens_source, VF_TOKENS_MAX_TOKENS);
        cr_assert_eq(r.tokens_den, 1);

        s.max_tokens_per_gpu = 1000; /* seq missing: max tokens alone */
        s.max_seq_len = 0;
        r = run_ok(&m, &s);
        cr_assert_eq(r.tokens_source, VF_TOKENS_MAX_TOKENS);
        cr_assert_eq(r.tokens_num, 1000);

        s.max_tokens_per_gpu = 0; /* batch without seq, no max tokens: error */
        cr_assert_eq(run_err(&m, &s, &err), VF_ERR_USAGE);
        s.batch_size = 0;
        s.max_seq_len = 4096; /* seq without batch */
        cr_assert_eq(run_err(&m, &s, &err), VF_ERR_USAGE);
        s.max_seq_len = 0; /* nothing */
        cr_assert_eq(run_err(&m, &s, &err), VF_ERR_USAGE);
        cr_assert(strstr(err.message, "max_tokens_per_gpu") != NULL);
    }
}

Test(estimator, tokens_resolution_lora_qlora)
{
    vf_est_model m = llama8b();
    for (int method = VF_METHOD_LORA; method <= VF_METHOD_QLORA; method++) {
        vf_est_setup s = setup((vf_method)method, 3, 80 * GiB);
        vf_error err;
        s.max_tokens_per_gpu = 4096;
        cr_assert_eq(run_err(&m, &s, &err), VF_ERR_USAGE);
        s.batch_size = 4;
        cr_assert_eq(run_err(&m, &s, &err), VF_ERR_USAGE);
        s.batch_size = 0;
        s.max_seq_len = 4;
        cr_assert_eq(run_err(&m, &s, &err), VF_ERR_USAGE);
        s.batch_size = 4;
        vf_est_result r = run_ok(&m, &s);
        cr_assert_eq(r.tokens_num, 16);
        cr_assert_eq(r.tokens_den, 3);
        cr_assert_float_eq(r.tokens_per_gpu, 16.0 / 3.0, 0.0);
        cr_assert(r.max_tokens_ignored);
    }
}

/* ---- invalid setups and overflow ----------------------------------------------------------- */

Test(estimator, invalid_setups)
{
    vf_est_model m = llama8b();
    vf_est_setup good = setup(VF_METHOD_SFT, 1, 80 * GiB);
    good.max_tokens_per_gpu = 1024;
    vf_est_setup s;
    vf_est_result r;
    vf_error err;

    run_ok(&m, &good);
    cr_assert_eq(vf_estimate(NULL, &good, &r, &err), VF_ERR_USAGE);
    cr_assert_eq(vf_estimate(&m, NULL, &r, &err), VF_ERR_USAGE);
    cr_assert_eq(vf_estimate(&m, &good, NULL, &err), VF_ERR_USAGE);
    cr_assert_eq(vf_estimate(&m, &good, NULL, NULL), VF_ERR_USAGE); /* NULL err is allowed */

#define EXPECT_USAGE(field, value)                                                                 \
    do {                                                                                           \
        s = good;                                                                                  \
        s.field = value;                                                                           \
        cr_assert_eq(run_err(&m, &s, &err), VF_ERR_USAGE, "%s = %s accepted", #field, #value);    \
    } while (0)
    EXPECT_USAGE(version, 0);
    EXPECT_USAGE(version, 1); /* the layout before vf_est_setup.compat */
    EXPECT_USAGE(version, VF_EST_SETUP_VERSION + 1);
    EXPECT_USAGE(compat, VF_COMPAT_COUNT);
    EXPECT_USAGE(method, VF_METHOD_COUNT);
    EXPECT_USAGE(method, (vf_method)-1);
    EXPECT_USAGE(gpus, 0);
    EXPECT_USAGE(gpu_memory, 0);
    EXPECT_USAGE(lora_r, 0);
    EXPECT_USAGE(unfreeze_rank_ratio, 0.0);
    EXPECT_USAGE(unfreeze_rank_ratio, -0.25);
    EXPECT_USAGE(unfreeze_rank_ratio, 1.0000001);
    EXPECT_USAGE(unfreeze_rank_ratio, NAN);
    EXPECT_USAGE(unfreeze_rank_ratio, INFINITY);
    EXPECT_USAGE(liger, 2);
    EXPECT_USAGE(liger, -2);
#undef EXPECT_USAGE

    vf_est_model bad = m;
    bad.parameters = 0;
    cr_assert_eq(run_err(&bad, &good, &err), VF_ERR_USAGE);

    s = good;
    s.method = VF_METHOD_OSFT;
    bad = m;
    bad.osft_params = 0;
    cr_assert_eq(run_err(&bad, &s, &err), VF_ERR_USAGE);
    run_ok(&m, &s);

    s.method = VF_METHOD_LORA;
    s.batch_size = 1;
    s.max_seq_len = 1;
    bad = m;
    bad.lora_dim_sum = 0;
    cr_assert_eq(run_err(&bad, &s, &err), VF_ERR_USAGE);
    bad.lora_params_override = 5;
    run_ok(&bad, &s);
    s.method = VF_METHOD_SFT; /* SFT does not need adapter facts */
    bad.lora_params_override = 0;
    run_ok(&bad, &s);
}

Test(estimator, overflow_inputs)
{
    vf_est_model m = llama8b();
    vf_est_setup s = setup(VF_METHOD_SFT, 1, 80 * GiB);
    s.max_tokens_per_gpu = 1024;
    vf_error err;

    vf_est_model big = m;
    big.parameters = UINT64_MAX;
    cr_assert_eq(run_err(&big, &s, &err), VF_ERR_OVERFLOW);
    big.parameters = (UINT64_C(1) << 50) + 1; /* 8P just above 2^53 */
    cr_assert_eq(run_err(&big, &s, &err), VF_ERR_OVERFLOW);
    big.parameters = UINT64_C(1) << 50; /* 8P == 2^53: still exact */
    vf_est_result r = run_ok(&big, &s);
    cr_assert_eq(r.optimizer, UINT64_C(1) << 53);

    s.max_tokens_per_gpu = UINT64_MAX;
    cr_assert_eq(run_err(&m, &s, &err), VF_ERR_OVERFLOW);
    s.max_tokens_per_gpu = UINT64_C(1) << 40; /* T*4*L*H far beyond 2^53 */
    cr_assert_eq(run_err(&m, &s, &err), VF_ERR_OVERFLOW);
    s.max_tokens_per_gpu = 0;
    s.batch_size = UINT64_MAX;
    s.max_seq_len = UINT64_MAX;
    cr_assert_eq(run_err(&m, &s, &err), VF_ERR_OVERFLOW);

    big = m;
    big.layers = UINT64_MAX;
    big.hidden_size = UINT64_MAX;
    s = setup(VF_METHOD_SFT, 1, 80 * GiB);
    s.max_tokens_per_gpu = 1;
    cr_assert_eq(run_err(&big, &s, &err), VF_ERR_OVERFLOW);
    big = m;
    big.vocab_size = UINT64_MAX;
    cr_assert_eq(run_err(&big, &s, &err), VF_ERR_OVERFLOW);

    s.method = VF_METHOD_LORA;
    s.batch_size = 1;
    s.max_seq_len = 1;
    s.lora_r = UINT32_MAX;
    big = m;
    big.lora_dim_sum = UINT64_C(1) << 40;
    cr_assert_eq(run_err(&big, &s, &err), VF_ERR_OVERFLOW);
    big.lora_dim_sum = 0;
    big.lora_params_override = UINT64_MAX;
    cr_assert_eq(run_err(&big, &s, &err), VF_ERR_OVERFLOW);
    s.method = VF_METHOD_OSFT;
    big = m;
    big.osft_params = UINT64_MAX / 2;
    cr_assert_eq(run_err(&big, &s, &err), VF_ERR_OVERFLOW);

    /* the total over G GPUs overflows 64 bits although every per-GPU figure is fine */
    vf_est_model tiny = {0};
    tiny.parameters = 1;
    tiny.layers = 1;
    tiny.hidden_size = 1;
    s = setup(VF_METHOD_SFT, UINT32_MAX, 80 * GiB);
    s.max_tokens_per_gpu = UINT64_C(1) << 51; /* act = 2^53 per GPU */
    s.liger = 1;
    cr_assert_eq(run_err(&tiny, &s, &err), VF_ERR_OVERFLOW);
}

/* ---- planning helpers ---------------------------------------------------------------------- */

static uint64_t expected_with_tokens(const vf_est_model *m, vf_est_setup s, uint64_t t)
{
    s.max_tokens_per_gpu = t;
    s.batch_size = 0;
    s.max_seq_len = 0;
    return run_ok(m, &s).expected;
}

Test(estimator, plan_max_tokens_sft)
{
    vf_est_model m = granite();
    vf_est_setup s = setup(VF_METHOD_SFT, 2, 48 * GiB);
    s.max_tokens_per_gpu = 8192; /* replaced by the search */
    uint64_t t = 0;
    vf_error err = {0};
    cr_assert_eq(vf_est_max_tokens(&m, &s, VF_BOUND_EXPECTED, 1.0, &t, &err), VF_OK);
    cr_assert_gt(t, 8192);
    cr_assert_leq(expected_with_tokens(&m, s, t), 48 * GiB);
    cr_assert_gt(expected_with_tokens(&m, s, t + 1), 48 * GiB);

    /* independent solve: expected = floor(1.1*(A + T*c)) with c = 4LH + 4V*8/3 (in thirds) */
    const uint64_t P = m.parameters;
    const uint64_t a3 = 3 * (16 * P / 2), c3 = 3 * 4 * 40 * 2048 + 4 * 49159 * 8;
    /* 11*(a3 + T*c3)/30 <= M  <=>  T <= (30M/11 - a3)/c3 (approximately; +-1 from floats) */
    const uint64_t approx = (30 * (48 * GiB) / 11 - a3) / c3;
    cr_assert_leq(t > approx ? t - approx : approx - t, 1);

    /* margin 0.9 and the high bound */
    uint64_t t2 = 0;
    cr_assert_eq(vf_est_max_tokens(&m, &s, VF_BOUND_HIGH, 0.9, &t2, &err), VF_OK);
    const uint64_t budget = (uint64_t)floor(0.9 * (double)(48 * GiB));
    s.max_tokens_per_gpu = t2;
    cr_assert_leq(run_ok(&m, &s).high, budget);
    s.max_tokens_per_gpu = t2 + 1;
    cr_assert_gt(run_ok(&m, &s).high, budget);
    cr_assert_lt(t2, t);

    /* nothing fits: 0 */
    s.gpu_memory = GiB;
    cr_assert_eq(vf_est_max_tokens(&m, &s, VF_BOUND_EXPECTED, 1.0, &t, &err), VF_OK);
    cr_assert_eq(t, 0);
}

Test(estimator, plan_max_tokens_lora_and_unbounded)
{
    vf_est_model m = llama8b();
    vf_est_setup s = setup(VF_METHOD_LORA, 1, 24 * GiB);
    uint64_t t = 0;
    vf_error err = {0};
    cr_assert_eq(vf_est_max_tokens(&m, &s, VF_BOUND_EXPECTED, 1.0, &t, &err), VF_OK);
    cr_assert_gt(t, 1);
    s.batch_size = t; /* batch*seq/G = T */
    s.max_seq_len = 1;
    cr_assert_leq(run_ok(&m, &s).expected, 24 * GiB);
    s.batch_size = t + 1;
    cr_assert_gt(run_ok(&m, &s).expected, 24 * GiB);

    /* a bound that does not depend on T */
    vf_est_model flat = {0};
    flat.parameters = 1000;
    vf_est_setup f = setup(VF_METHOD_SFT, 1, GiB);
    f.liger = 1;
    cr_assert_eq(vf_est_max_tokens(&flat, &f, VF_BOUND_EXPECTED, 1.0, &t, &err), VF_OK);
    cr_assert_eq(t, UINT64_MAX);

    /* grows with T but fits at the largest evaluable T: that T */
    flat.vocab_size = 1;
    f.gpu_memory = UINT64_MAX;
    cr_assert_eq(vf_est_max_tokens(&flat, &f, VF_BOUND_EXPECTED, 1.0, &t, &err), VF_OK);
    cr_assert_eq(t, UINT64_MAX); /* Liger on: outputs 0, V unused */
    f.liger = 0;
    cr_assert_eq(vf_est_max_tokens(&flat, &f, VF_BOUND_EXPECTED, 1.0, &t, &err), VF_OK);
    cr_assert_eq(t, (UINT64_C(1) << 53) / 4);
}

Test(estimator, plan_min_gpus)
{
    vf_est_model m = granite();
    vf_est_setup s = setup(VF_METHOD_SFT, 1, 16 * GiB);
    s.max_tokens_per_gpu = 8192;
    uint32_t g = 0;
    vf_error err = {0};
    cr_assert_eq(vf_est_min_gpus(&m, &s, VF_BOUND_EXPECTED, 1.0, 64, &g, &err), VF_OK);
    cr_assert_gt(g, 1);
    s.gpus = g;
    cr_assert_leq(run_ok(&m, &s).expected, 16 * GiB);
    s.gpus = g - 1;
    cr_assert_gt(run_ok(&m, &s).expected, 16 * GiB);
    /* exact: 16P/G + act + out <= M/1.1 -> G = 5 for these numbers */
    cr_assert_eq(g, 5);

    cr_assert_eq(vf_est_min_gpus(&m, &s, VF_BOUND_EXPECTED, 1.0, 4, &g, &err), VF_OK);
    cr_assert_eq(g, 0);
    s.gpu_memory = 80 * GiB;
    cr_assert_eq(vf_est_min_gpus(&m, &s, VF_BOUND_EXPECTED, 1.0, 4, &g, &err), VF_OK);
    cr_assert_eq(g, 1);
    cr_assert_eq(vf_est_min_gpus(&m, &s, VF_BOUND_EXPECTED, 1.0, 0, &g, &err), VF_ERR_USAGE);

    /* batch-derived tokens shrink with G as well */
    vf_est_model q = llama8b();
    vf_est_setup qs = setup(VF_METHOD_QLORA, 1, 4 * GiB);
    qs.batch_size = 1;
    qs.max_seq_len = 128;
    cr_assert_eq(vf_est_min_gpus(&q, &qs, VF_BOUND_HIGH, 1.0, 1024, &g, &err), VF_OK);
    qs.gpus = g;
    vf_est_result r = run_ok(&q, &qs);
    cr_assert(r.model_bound);
    cr_assert_leq(r.high, 4 * GiB);
    qs.gpus = g - 1;
    cr_assert_gt(run_ok(&q, &qs).high, 4 * GiB);
}

Test(estimator, plan_max_lora_rank)
{
    vf_est_model m = llama8b();
    vf_est_setup s = setup(VF_METHOD_LORA, 1, 20 * GiB);
    s.batch_size = 1;
    s.max_seq_len = 2048;
    uint32_t r = 0;
    vf_error err = {0};
    cr_assert_eq(vf_est_max_lora_rank(&m, &s, VF_BOUND_EXPECTED, 1.0, 4096, &r, &err), VF_OK);
    cr_assert_gt(r, 1);
    cr_assert_lt(r, 4096);
    s.lora_r = r;
    cr_assert_leq(run_ok(&m, &s).expected, 20 * GiB);
    s.lora_r = r + 1;
    cr_assert_gt(run_ok(&m, &s).expected, 20 * GiB);

    cr_assert_eq(vf_est_max_lora_rank(&m, &s, VF_BOUND_EXPECTED, 1.0, 8, &r, &err), VF_OK);
    cr_assert_eq(r, 8);
    /* ranks so large they overflow count as not fitting */
    s.gpu_memory = UINT64_MAX;
    cr_assert_eq(vf_est_max_lora_rank(&m, &s, VF_BOUND_EXPECTED, 1.0, UINT32_MAX, &r, &err), VF_OK);
    s.lora_r = r;
    run_ok(&m, &s);
    s.lora_r = r + 1;
    cr_assert_eq(run_err(&m, &s, &err), VF_ERR_OVERFLOW);

    s.gpu_memory = 8 * GiB;
    cr_assert_eq(vf_est_max_lora_rank(&m, &s, VF_BOUND_EXPECTED, 1.0, 64, &r, &err), VF_OK);
    cr_assert_eq(r, 0);

    s.method = VF_METHOD_SFT;
    cr_assert_eq(vf_est_max_lora_rank(&m, &s, VF_BOUND_EXPECTED, 1.0, 64, &r, &err), VF_ERR_USAGE);
    s.method = VF_METHOD_QLORA;
    m.lora_params_override = 1000;
    cr_assert_eq(vf_est_max_lora_rank(&m, &s, VF_BOUND_EXPECTED, 1.0, 64, &r, &err), VF_ERR_USAGE);
}

Test(estimator, plan_max_unfreeze_ratio)
{
    vf_est_model m = llama8b();
    vf_est_setup s = setup(VF_METHOD_OSFT, 4, 36 * GiB);
    s.max_tokens_per_gpu = 16384;
    double u = -1;
    vf_error err = {0};
    cr_assert_eq(vf_est_max_unfreeze_ratio(&m, &s, VF_BOUND_EXPECTED, 1.0, &u, &err), VF_OK);
    cr_assert_gt(u, 0.01);
    cr_assert_lt(u, 1.0);
    long k = lround(u * 100);
    cr_assert_float_eq(u, k / 100.0, 0.0);
    s.unfreeze_rank_ratio = u;
    cr_assert_leq(run_ok(&m, &s).expected, 36 * GiB);
    s.unfreeze_rank_ratio = (k + 1) / 100.0;
    cr_assert_gt(run_ok(&m, &s).expected, 36 * GiB);
    /* expected = 1.1 * (26.84e9 + 16.62e9 u): u = 0.49 for 36 GiB */
    cr_assert_eq(k, 49);

    s.gpu_memory = 80 * GiB; /* everything fits: 1.0 */
    cr_assert_eq(vf_est_max_unfreeze_ratio(&m, &s, VF_BOUND_EXPECTED, 1.0, &u, &err), VF_OK);
    cr_assert_float_eq(u, 1.0, 0.0);
    s.gpu_memory = GiB; /* nothing fits: 0 */
    cr_assert_eq(vf_est_max_unfreeze_ratio(&m, &s, VF_BOUND_EXPECTED, 1.0, &u, &err), VF_OK);
    cr_assert_float_eq(u, 0.0, 0.0);

    s.method = VF_METHOD_SFT;
    cr_assert_eq(vf_est_max_unfreeze_ratio(&m, &s, VF_BOUND_EXPECTED, 1.0, &u, &err), VF_ERR_USAGE);
}

Test(estimator, plan_argument_errors)
{
    vf_est_model m = granite();
    vf_est_setup s = setup(VF_METHOD_SFT, 2, 48 * GiB);
    uint64_t t;
    vf_error err = {0};
    cr_assert_eq(vf_est_max_tokens(&m, &s, VF_BOUND_EXPECTED, 0.0, &t, &err), VF_ERR_USAGE);
    cr_assert_eq(vf_est_max_tokens(&m, &s, VF_BOUND_EXPECTED, 1.5, &t, &err), VF_ERR_USAGE);
    cr_assert_eq(vf_est_max_tokens(&m, &s, VF_BOUND_EXPECTED, NAN, &t, &err), VF_ERR_USAGE);
    cr_assert_eq(vf_est_max_tokens(&m, &s, (vf_est_bound)7, 1.0, &t, &err), VF_ERR_USAGE);
    cr_assert_eq(vf_est_max_tokens(&m, &s, VF_BOUND_EXPECTED, 1.0, NULL, &err), VF_ERR_USAGE);
    cr_assert_eq(vf_est_max_tokens(NULL, &s, VF_BOUND_EXPECTED, 1.0, &t, &err), VF_ERR_USAGE);
    s.gpus = 0;
    cr_assert_eq(vf_est_max_tokens(&m, &s, VF_BOUND_EXPECTED, 1.0, &t, &err), VF_ERR_USAGE);
    s.gpus = 2;
    vf_est_model big = m;
    big.parameters = UINT64_C(1) << 60;
    cr_assert_eq(vf_est_max_tokens(&big, &s, VF_BOUND_EXPECTED, 1.0, &t, &err), VF_ERR_OVERFLOW);
    cr_assert_eq(err.code, VF_ERR_OVERFLOW);
}
