/* vf_svg.c - the SVG charts of `estimate --svg` and `adapters --svg` (see vf_svg.h). Coordinates
 * are written with one decimal; every outside text goes through vf_svg_text. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vf_est_cli.h"
#include "vf_svg.h"

#define GIB 1073741824.0
#define FONT "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif"
#define INK "#222222"
#define MUTED "#555555"
#define GRID "#e3e3e3"
#define GPU_RED "#c62828"

/* ---- text ---------------------------------------------------------------------------------------- */

/* True for the characters XML 1.0 allows in a document (tab, line breaks excluded: labels are one
 * line, so those become '?' too). */
static bool xml_char(uint32_t cp)
{
    return (cp >= 0x20 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) ||
           (cp >= 0x10000 && cp <= 0x10FFFF);
}

/* Appends one decoded character (n bytes at s) escaped. */
static void put_char(vf_buf *b, const char *s, size_t n, uint32_t cp)
{
    static const char special[] = "&<>\"'";
    static const char *const ent[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
    const char *e = cp && cp < 0x80 ? strchr(special, (int)cp) : NULL;
    if (!xml_char(cp))
        vf_buf_put(b, "?", 1);
    else if (e)
        vf_buf_printf(b, "%s", ent[e - special]);
    else
        vf_buf_put(b, s, n);
}

static size_t utf8_count(const char *s)
{
    size_t k = 0;
    uint32_t cp;
    for (const unsigned char *p = (const unsigned char *)s; *p; k++)
        p += vf_utf8_char(p, &cp);
    return k;
}

void vf_svg_text(vf_buf *b, const char *s, size_t max_chars, bool keep_end)
{
    static const char ellipsis[] = "\xE2\x80\xA6"; /* U+2026 */
    if (!s)
        return;
    size_t total = utf8_count(s), first = 0, keep = total;
    if (max_chars && total > max_chars) {
        keep = max_chars - 1;
        first = keep_end ? total - keep : 0;
        if (keep_end)
            vf_buf_put(b, ellipsis, 3);
    }
    size_t k = 0;
    uint32_t cp;
    for (const unsigned char *p = (const unsigned char *)s; *p && k < first + keep; k++) {
        size_t n = vf_utf8_char(p, &cp);
        if (k >= first)
            put_char(b, (const char *)p, n, cp);
        p += n;
    }
    if (max_chars && total > max_chars && !keep_end)
        vf_buf_put(b, ellipsis, 3);
}

/* ---- drawing primitives -------------------------------------------------------------------------- */

static void svg_open(vf_buf *b, int w, int h, const char *what, const char *model)
{
    vf_buf_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                     "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                     "viewBox=\"0 0 %d %d\" font-family=\"" FONT "\">\n<title>",
                  w, h, w, h);
    vf_buf_printf(b, "%s ", what);
    vf_svg_text(b, model, 0, false);
    vf_buf_printf(b, " (vramfit)</title>\n<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", w, h);
}

static void svg_rect(vf_buf *b, double x, double y, double w, double h, const char *fill)
{
    vf_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n", x, y, w,
                  h, fill);
}

static void svg_line(vf_buf *b, double x1, double y1, double x2, double y2, const char *stroke,
                     double width, const char *dash)
{
    vf_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                     "stroke-width=\"%.1f\"%s%s%s/>\n",
                  x1, y1, x2, y2, stroke, width, dash ? " stroke-dasharray=\"" : "", dash ? dash : "",
                  dash ? "\"" : "");
}

/* Opens a <text> element; `attrs` is a trusted constant (size, weight, fill). Close with
 * text_end after writing the content (vf_svg_text for anything from outside). */
static void text_start(vf_buf *b, double x, double y, const char *anchor, const char *attrs)
{
    vf_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" %s>", x, y, anchor, attrs);
}

static void text_end(vf_buf *b)
{
    vf_buf_printf(b, "</text>\n");
}

/* A whole text element whose content is built here (numbers, fixed words); escaped all the same. */
static void svg_text(vf_buf *b, double x, double y, const char *anchor, const char *attrs,
                     const char *s)
{
    text_start(b, x, y, anchor, attrs);
    vf_svg_text(b, s, 0, false);
    text_end(b);
}

/* ---- axes ---------------------------------------------------------------------------------------- */

typedef struct axis {
    double x0, x1, y0, y1; /* plot area: y0 top, y1 bottom (value 0) */
    double top, step;      /* value at y0 and tick spacing */
} axis;

/* The smallest 1, 2, 2.5 or 5 x 10^k tick step giving at most `ticks` intervals up to max (> 0). */
static double nice_step(double max, int ticks)
{
    static const double f[5] = {1.0, 2.0, 2.5, 5.0, 10.0};
    double mag = pow(10.0, floor(log10(max / ticks)));
    for (int i = 0; i < 4; i++)
        if (max / (f[i] * mag) <= ticks)
            return f[i] * mag;
    return f[4] * mag;
}

/* Sets top and step so that `max` (any value >= 0) fits with some headroom. */
static void axis_scale(axis *a, double max)
{
    if (!(max > 0.0))
        max = 1.0;
    a->step = nice_step(max, 8);
    a->top = ceil(max / a->step) * a->step;
}

static double axis_y(const axis *a, double v)
{
    return a->y1 - (a->y1 - a->y0) * v / a->top;
}

/* Grid lines and tick labels; fmt turns a tick value into its label. */
static void axis_draw(vf_buf *b, const axis *a, void (*fmt)(double, char *, size_t),
                      const char *title)
{
    char label[32];
    int ticks = (int)lround(a->top / a->step);
    for (int k = 0; k <= ticks; k++) {
        double v = k * a->step, y = axis_y(a, v);
        svg_line(b, a->x0, y, a->x1, y, k ? GRID : "#999999", 1.0, NULL);
        fmt(v, label, sizeof label);
        svg_text(b, a->x0 - 8, y + 4, "end", "font-size=\"11\" fill=\"" MUTED "\"", label);
    }
    double my = (a->y0 + a->y1) / 2;
    vf_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\" fill=\"" MUTED
                     "\" transform=\"rotate(-90 %.1f %.1f)\">%s</text>\n",
                  a->x0 - 52, my, a->x0 - 52, my, title);
}

static void fmt_gib_tick(double v, char *buf, size_t n)
{
    snprintf(buf, n, "%g", v);
}

static void fmt_si_tick(double v, char *buf, size_t n)
{
    if (v >= 1e9)
        snprintf(buf, n, "%gB", v / 1e9);
    else if (v >= 1e6)
        snprintf(buf, n, "%gM", v / 1e6);
    else if (v >= 1e3)
        snprintf(buf, n, "%gK", v / 1e3);
    else
        snprintf(buf, n, "%g", v);
}

/* A bar's value with three significant digits: "33.5K", "1.41M". */
static void fmt_si_value(double v, char *buf, size_t n)
{
    double div = v >= 1e9 ? 1e9 : v >= 1e6 ? 1e6 : v >= 1e3 ? 1e3 : 1.0;
    snprintf(buf, n, "%.3g%s", v / div, div == 1e9 ? "B" : div == 1e6 ? "M" : div == 1e3 ? "K" : "");
}

/* A legend entry: a swatch (fill, or a line when `line`; dashed for the GPU memory) and a label
 * at (x, y), shortened to max_chars (0: no limit) keeping its end, where module names differ. */
static void legend_item(vf_buf *b, double x, double y, const char *fill, bool line, const char *label,
                        size_t max_chars)
{
    if (line)
        svg_line(b, x, y - 4, x + 14, y - 4, fill, 2.0, strcmp(fill, GPU_RED) ? NULL : "6 3");
    else
        vf_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"12\" fill=\"%s\" "
                         "stroke=\"#777777\" stroke-width=\"0.5\"/>\n", x, y - 10, fill);
    text_start(b, x + 20, y, "start", "font-size=\"12\" fill=\"" INK "\"");
    vf_svg_text(b, label, max_chars, true);
    text_end(b);
}

/* ---- estimate chart ------------------------------------------------------------------------------ */

enum { EW = 960, EX0 = 80, EX1 = 800, EY0 = 84, EY1 = 460, EH = 620 };

typedef struct est_part {
    const char *label;
    const char *color;
    const char *ink; /* value label colour on that fill */
} est_part;

static const est_part est_parts[6] = {
    {"Parameters", "#59a14f", "#ffffff"},  {"Optimizer states", "#edc948", INK},
    {"Gradients", "#4e79a7", "#ffffff"},   {"Activations", "#a5a5a5", INK},
    {"Outputs", "#5f5f5f", "#ffffff"},     {"Additional", "#b07aa1", "#ffffff"},
};
#define OVERHEAD_FILL "#d5dde2"
#define OVERHEAD_HATCH "url(#vf-hatch)"

static void est_components(const vf_est_result *r, uint64_t v[6])
{
    v[0] = r->parameters, v[1] = r->optimizer, v[2] = r->gradients;
    v[3] = r->activations, v[4] = r->outputs, v[5] = r->additional;
}

static const char *verdict_short(vf_verdict v)
{
    return v == VF_VERDICT_FITS ? "should work" : v == VF_VERDICT_LIKELY ? "will likely work"
                                            : v == VF_VERDICT_RISKY    ? "may work, not recommended"
                                                                       : "impossible";
}

static const char *verdict_color(vf_verdict v)
{
    return v == VF_VERDICT_FITS ? "#2e7d32" : v == VF_VERDICT_LIKELY ? "#558b2f"
                                          : v == VF_VERDICT_RISKY    ? "#e65100"
                                                                     : GPU_RED;
}

static void gib_text(char *buf, size_t n, uint64_t bytes, const char *suffix)
{
    snprintf(buf, n, "%.1f%s", (double)bytes / GIB, suffix);
}

/* The stacked components, bottom up, with their value when the segment is tall enough. */
static void est_stack(vf_buf *b, const axis *a, double x, double w, const vf_est_result *r)
{
    uint64_t v[6];
    char label[32];
    est_components(r, v);
    double base = 0.0;
    for (int i = 0; i < 6; i++) {
        if (!v[i])
            continue;
        double lo = axis_y(a, base), hi = axis_y(a, base + (double)v[i] / GIB);
        svg_rect(b, x, hi, w, lo - hi, est_parts[i].color);
        if (lo - hi >= 15) {
            gib_text(label, sizeof label, v[i], "");
            char attrs[64];
            snprintf(attrs, sizeof attrs, "font-size=\"11\" fill=\"%s\"", est_parts[i].ink);
            svg_text(b, x + w / 2, (lo + hi) / 2 + 4, "middle", attrs, label);
        }
        base += (double)v[i] / GIB;
    }
}

/* Overhead: subtotal to expected (light), expected to high (hatched), the expected line, and the
 * expected figure with the low - high range above the bar. */
static void est_overhead(vf_buf *b, const axis *a, double x, double w, const vf_est_result *r)
{
    char e[48], range[64], lo[32], hi[32];
    double ys = axis_y(a, (double)r->subtotal / GIB), ye = axis_y(a, (double)r->expected / GIB),
           yh = axis_y(a, (double)r->high / GIB);
    if (r->expected > r->subtotal)
        svg_rect(b, x, ye, w, ys - ye, OVERHEAD_FILL);
    if (r->high > r->expected)
        svg_rect(b, x, yh, w, ye - yh, OVERHEAD_HATCH);
    vf_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
                     "stroke=\"#777777\" stroke-width=\"0.8\"/>\n", x, yh, w, a->y1 - yh);
    svg_line(b, x - 4, ye, x + w + 4, ye, INK, 2.0, NULL);
    gib_text(e, sizeof e, r->expected, " GiB");
    gib_text(lo, sizeof lo, r->low, "");
    gib_text(hi, sizeof hi, r->high, " GiB");
    snprintf(range, sizeof range, "%s \xE2\x80\x93 %s", lo, hi);
    svg_text(b, x + w / 2, yh - 22, "middle", "font-size=\"14\" font-weight=\"bold\" fill=\"" INK "\"", e);
    svg_text(b, x + w / 2, yh - 7, "middle", "font-size=\"11\" fill=\"" MUTED "\"", range);
}

static void est_tokens(const vf_est_result *r, char *buf, size_t n)
{
    char c[32];
    if (r->tokens_num % r->tokens_den == 0)
        snprintf(buf, n, "%s tokens/GPU", vf_fmt_count(r->tokens_num / r->tokens_den, c));
    else
        snprintf(buf, n, "%.2f tokens/GPU", r->tokens_per_gpu);
}

/* Method name, tokens per GPU and decision below the slot centred on cx. */
static void est_slot_labels(vf_buf *b, double cx, const vf_svg_method *m)
{
    char t[64], attrs[80];
    svg_text(b, cx, EY1 + 20, "middle", "font-size=\"14\" font-weight=\"bold\" fill=\"" INK "\"",
             vf_est_method_label(m->method));
    if (!m->result) {
        svg_text(b, cx, EY1 + 36, "middle", "font-size=\"11\" fill=\"" GPU_RED "\"", "not estimated");
        return;
    }
    est_tokens(m->result, t, sizeof t);
    svg_text(b, cx, EY1 + 36, "middle", "font-size=\"11\" fill=\"" MUTED "\"", t);
    snprintf(attrs, sizeof attrs, "font-size=\"11\" font-weight=\"bold\" fill=\"%s\"",
             verdict_color(m->result->verdict));
    svg_text(b, cx, EY1 + 52, "middle", attrs, verdict_short(m->result->verdict));
    if (m->result->model_bound)
        svg_text(b, cx, EY1 + 66, "middle", "font-size=\"10\" fill=\"" MUTED "\"",
                 "bound by the unquantized model");
}

/* One method's slot: a group with a tooltip, the bar, its labels. */
static void est_slot(vf_buf *b, const axis *a, double cx, double w, const vf_svg_method *m)
{
    const vf_est_result *r = m->result;
    char e[32], lo[32], hi[32];
    vf_buf_printf(b, "<g>\n<title>%s: ", vf_est_method_label(m->method));
    if (r) {
        gib_text(e, sizeof e, r->expected, "");
        gib_text(lo, sizeof lo, r->low, "");
        gib_text(hi, sizeof hi, r->high, "");
        vf_buf_printf(b, "expected %s GiB per GPU (%s - %s), %s", e, lo, hi, verdict_short(r->verdict));
    } else {
        vf_svg_text(b, m->error ? m->error : "not estimated", 400, false);
    }
    vf_buf_printf(b, "</title>\n");
    if (r) {
        est_stack(b, a, cx - w / 2, w, r);
        est_overhead(b, a, cx - w / 2, w, r);
    } else {
        svg_text(b, cx, (a->y0 + a->y1) / 2, "middle", "font-size=\"12\" fill=\"" MUTED "\"",
                 "not estimated");
    }
    est_slot_labels(b, cx, m);
    vf_buf_printf(b, "</g>\n");
}

/* The dashed GPU memory line with its label in the right margin. */
static void est_gpu_line(vf_buf *b, const axis *a, const vf_svg_estimate *e)
{
    char g[48];
    double y = axis_y(a, (double)e->gpu_memory / GIB);
    svg_line(b, a->x0, y, a->x1 + 6, y, GPU_RED, 2.0, "8 4");
    gib_text(g, sizeof g, e->gpu_memory, " GiB");
    svg_text(b, a->x1 + 12, y - 4, "start", "font-size=\"13\" font-weight=\"bold\" fill=\"" GPU_RED "\"",
             "GPU memory");
    svg_text(b, a->x1 + 12, y + 12, "start", "font-size=\"12\" fill=\"" GPU_RED "\"", g);
    if (e->gpu_label && *e->gpu_label) {
        text_start(b, a->x1 + 12, y + 27, "start", "font-size=\"11\" fill=\"" MUTED "\"");
        vf_svg_text(b, e->gpu_label, 20, false);
        text_end(b);
    }
}

static void est_legend(vf_buf *b, const vf_svg_estimate *e, double y)
{
    bool additional = false;
    for (size_t i = 0; i < e->count; i++)
        additional |= e->methods[i].result && e->methods[i].result->additional;
    const char *fill[10], *label[10];
    bool line[10] = {0};
    int n = 0;
    for (int i = 0; i < 6; i++)
        if (i < 5 || additional)
            fill[n] = est_parts[i].color, label[n++] = est_parts[i].label;
    fill[n] = OVERHEAD_FILL, label[n++] = "Overhead to expected";
    fill[n] = OVERHEAD_HATCH, label[n++] = "Overhead to high bound";
    fill[n] = INK, line[n] = true, label[n++] = "Expected";
    fill[n] = GPU_RED, line[n] = true, label[n++] = "GPU memory";
    for (int i = 0; i < n; i++)
        legend_item(b, EX0 + (i % 5) * 170, y + (i / 5) * 22, fill[i], line[i], label[i], 0);
}

static void hatch_defs(vf_buf *b)
{
    vf_buf_printf(b, "<defs><pattern id=\"vf-hatch\" width=\"6\" height=\"6\" "
                     "patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">"
                     "<rect width=\"6\" height=\"6\" fill=\"#eef1f3\"/>"
                     "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#9aa9b2\" stroke-width=\"2\"/>"
                     "</pattern></defs>\n");
}

/* Title "<what><model>" (model shortened to max_chars) and the line "G GPUs x M · <about> · GiB". */
static void chart_title(vf_buf *b, const char *what, const char *model, size_t max_chars, uint32_t gpus,
                        uint64_t gpu_memory, const char *about)
{
    char g[48];
    text_start(b, EX0 - 60, 32, "start", "font-size=\"19\" font-weight=\"bold\" fill=\"" INK "\"");
    vf_buf_printf(b, "%s", what);
    vf_svg_text(b, model, max_chars, true);
    text_end(b);
    gib_text(g, sizeof g, gpu_memory, " GiB");
    text_start(b, EX0 - 60, 54, "start", "font-size=\"12\" fill=\"" MUTED "\"");
    vf_buf_printf(b, "%u GPU%s \xC3\x97 %s \xC2\xB7 %s \xC2\xB7 GiB = 2^30 bytes", (unsigned)gpus,
                  gpus == 1 ? "" : "s", g, about);
    text_end(b);
}

static void est_title(vf_buf *b, const vf_svg_estimate *e)
{
    chart_title(b, "Fine-tuning memory per GPU: ", e->model, 52, e->gpus, e->gpu_memory,
                "Red Hat Training Hub's formulas on exact counts from the safetensors headers");
}

static double est_max(const vf_svg_estimate *e)
{
    double m = (double)e->gpu_memory / GIB * 1.03;
    for (size_t i = 0; i < e->count; i++)
        if (e->methods[i].result && (double)e->methods[i].result->high / GIB * 1.16 > m)
            m = (double)e->methods[i].result->high / GIB * 1.16;
    return m;
}

void vf_svg_estimate_chart(vf_buf *b, const vf_svg_estimate *e)
{
    axis a = {EX0, EX1, EY0, EY1, 0, 0};
    axis_scale(&a, est_max(e));
    svg_open(b, EW, EH, "Fine-tuning memory per GPU:", e->model);
    hatch_defs(b);
    est_title(b, e);
    axis_draw(b, &a, fmt_gib_tick, "GiB per GPU");
    double slot = (EX1 - EX0) / (double)e->count, w = fmin(120.0, slot * 0.5);
    for (size_t i = 0; i < e->count; i++)
        est_slot(b, &a, EX0 + slot * ((double)i + 0.5), w, &e->methods[i]);
    est_gpu_line(b, &a, e);
    est_legend(b, e, EY1 + 98);
    svg_text(b, EX0 - 60, EH - 14, "start", "font-size=\"11\" fill=\"" MUTED "\"",
             "Stacked: the per-GPU components (their sum is the subtotal); then the overhead up to the "
             "expected figure and, hatched, up to the high bound. Drawn by vramfit.");
    vf_buf_printf(b, "</svg>\n");
}

/* ---- detailed estimate chart --------------------------------------------------------------------- */

typedef struct dt_seg {
    const char *label, *color, *ink;
    uint64_t v[2]; /* forward/backward, optimizer step */
} dt_seg;

enum { DT_SEGS = 8 };

static void dt_segments(const vf_dt_result *r, dt_seg s[DT_SEGS])
{
    uint64_t shown = r->weights + r->master_weights + r->optimizer + r->activations + r->logits + r->temporary;
    uint64_t grads_fb = r->forward_backward > shown ? r->forward_backward - shown : 0;
    dt_seg t[DT_SEGS] = {
        {"Weights", "#59a14f", "#ffffff", {r->weights, r->weights}},
        {"Master weights", "#8cd17d", INK, {r->master_weights, r->master_weights}},
        {"Optimizer states", "#edc948", INK, {r->optimizer, r->optimizer}},
        {"Gradients", "#4e79a7", "#ffffff", {grads_fb, r->optimizer_step ? r->gradients : 0}},
        {"Activations", "#a5a5a5", INK, {r->activations, 0}},
        {"Logits / loss", "#5f5f5f", "#ffffff", {r->logits, 0}},
        {"Temporary buffers", "#b07aa1", "#ffffff", {r->temporary, r->step_temporary}},
        {"Fragmentation + overhead", OVERHEAD_FILL, INK, {0, 0}},
    };
    uint64_t top = r->total - r->peak_allocated;
    t[7].v[r->peak_phase == VF_PHASE_OPTIMIZER_STEP] = top;
    if (!r->optimizer_step)
        for (int i = 0; i < DT_SEGS; i++)
            t[i].v[1] = 0;
    memcpy(s, t, sizeof t);
}

static void dt_bar(vf_buf *b, const axis *a, double x, double w, const dt_seg *s, int phase, const char *name)
{
    char label[48];
    double base = 0.0;
    for (int i = 0; i < DT_SEGS; i++) {
        if (!s[i].v[phase])
            continue;
        double lo = axis_y(a, base), hi = axis_y(a, base + (double)s[i].v[phase] / GIB);
        svg_rect(b, x, hi, w, lo - hi, s[i].color);
        if (lo - hi >= 15) {
            gib_text(label, sizeof label, s[i].v[phase], "");
            char attrs[64];
            snprintf(attrs, sizeof attrs, "font-size=\"11\" fill=\"%s\"", s[i].ink);
            svg_text(b, x + w / 2, (lo + hi) / 2 + 4, "middle", attrs, label);
        }
        base += (double)s[i].v[phase] / GIB;
    }
    gib_text(label, sizeof label, (uint64_t)(base * GIB), " GiB");
    svg_text(b, x + w / 2, axis_y(a, base) - 8, "middle", "font-size=\"14\" font-weight=\"bold\" fill=\"" INK "\"",
             label);
    svg_text(b, x + w / 2, a->y1 + 20, "middle", "font-size=\"13\" fill=\"" INK "\"", name);
}

void vf_svg_detailed_chart(vf_buf *b, const vf_svg_detailed *d)
{
    const vf_dt_result *r = d->result;
    dt_seg s[DT_SEGS];
    dt_segments(r, s);
    axis a = {EX0, EX1, EY0, EY1, 0, 0};
    double top = fmax((double)d->gpu_memory * 1.03, (double)r->total * 1.12) / GIB;
    axis_scale(&a, top);
    svg_open(b, EW, EH, "Fine-tuning memory per GPU (detailed):", d->model);
    chart_title(b, "Fine-tuning memory per GPU, detailed: ", d->model, 44, d->gpus, d->gpu_memory,
                r->fits ? "fits" : "does not fit");
    axis_draw(b, &a, fmt_gib_tick, "GiB per GPU");
    double slot = (EX1 - EX0) / 2.0, w = 120.0;
    dt_bar(b, &a, EX0 + slot * 0.5 - w / 2, w, s, 0, "forward + backward");
    if (r->optimizer_step)
        dt_bar(b, &a, EX0 + slot * 1.5 - w / 2, w, s, 1, "optimizer step");
    vf_svg_estimate e = {d->model, d->gpus, d->gpu_memory, d->gpu_label, NULL, 0};
    est_gpu_line(b, &a, &e);
    for (int i = 0; i < DT_SEGS; i++)
        legend_item(b, EX0 + (i % 4) * 200, EY1 + 60 + (i / 4) * 22, s[i].color, false, s[i].label, 0);
    legend_item(b, EX0, EY1 + 104, GPU_RED, true, "GPU memory", 0);
    svg_text(b, EX0 - 60, EH - 14, "start", "font-size=\"11\" fill=\"" MUTED "\"",
             "Stacked per phase; the peak phase carries the allocator's fragmentation and the fixed "
             "overhead (stated assumptions). Drawn by vramfit.");
    vf_buf_printf(b, "</svg>\n");
}


/* ---- adapters chart ------------------------------------------------------------------------------ */

#define AD_NAMED 11           /* named series; more modules share the last one */
#define AD_SERIES (AD_NAMED + 1)
#define AD_KEY 96
enum { AW = 960, AX0 = 90, AX1 = 940, AY0 = 84, AY1 = 420 };

static const char *const ad_palette[AD_SERIES] = {
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
    "#b07aa1", "#ff9da7", "#9c755f", "#86bcb6", "#d37295", "#bab0ac",
};

typedef struct ad_chart {
    size_t slots;                /* layers + 1: the last slot is outside any layer */
    size_t named;                /* series in use among the first AD_NAMED */
    bool rest;                   /* the shared last series is in use */
    char key[AD_SERIES][AD_KEY];
    uint64_t total[AD_SERIES];
    uint64_t *v;                 /* slots x AD_SERIES parameters */
} ad_chart;

static void append(char *out, size_t n, size_t *o, const char *s, size_t len)
{
    while (len-- && *o + 1 < n)
        out[(*o)++] = *s++;
    out[*o] = '\0';
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return n > 0;
}

/* The part of module m after the segment that is the layer number (m itself when none). */
static const char *after_layer(const char *m, int32_t layer)
{
    char num[16];
    if (layer < 0)
        return m;
    int len = snprintf(num, sizeof num, "%d", (int)layer);
    for (const char *p = m; *p;) {
        const char *q = strchr(p, '.');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        if (n == (size_t)len && memcmp(p, num, n) == 0 && q)
            return q + 1;
        if (!q)
            break;
        p = q + 1;
    }
    return m;
}

/* Series name of an entry: "self_attn.q_proj", "mlp.experts.*.w1", "copy: lm_head", "biases". */
void vf_adapter_module_key(const vf_adapter_matrix *x, char *out, size_t n)
{
    size_t o = 0;
    out[0] = '\0';
    if (x->kind == VF_ADAPTER_KIND_BIAS) {
        append(out, n, &o, "trainable biases", 16);
        return;
    }
    if (x->kind == VF_ADAPTER_KIND_SAVED)
        append(out, n, &o, "copy: ", 6);
    const char *p = after_layer(x->module ? x->module : x->tensor->name, x->layer);
    for (bool first = true; *p; first = false) {
        const char *q = strchr(p, '.');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        if (!first)
            append(out, n, &o, ".", 1);
        append(out, n, &o, all_digits(p, len) ? "*" : p, all_digits(p, len) ? 1 : len);
        p = q ? q + 1 : p + len;
    }
}

/* Index of the series named key, added when new; the shared last one when all are taken. */
static size_t ad_series(ad_chart *c, const char *key)
{
    for (size_t i = 0; i < c->named; i++)
        if (strcmp(c->key[i], key) == 0)
            return i;
    if (c->named < AD_NAMED) {
        snprintf(c->key[c->named], AD_KEY, "%s", key);
        return c->named++;
    }
    c->rest = true;
    snprintf(c->key[AD_NAMED], AD_KEY, "other modules");
    return AD_NAMED;
}

/* Fills c from p; false when out of memory. */
static bool ad_collect(ad_chart *c, const vf_adapter_plan *p)
{
    vf_adapter_plan_layer_params(p, &c->slots);
    if (!c->slots)
        return true;
    c->v = calloc(c->slots, sizeof *c->v * AD_SERIES);
    if (!c->v)
        return false;
    char key[AD_KEY];
    for (size_t i = 0; i < vf_adapter_plan_count(p); i++) {
        const vf_adapter_matrix *x = vf_adapter_plan_matrix(p, i);
        vf_adapter_module_key(x, key, sizeof key);
        size_t s = ad_series(c, key);
        size_t slot = x->layer >= 0 && (size_t)x->layer + 1 < c->slots ? (size_t)x->layer : c->slots - 1;
        c->v[slot * AD_SERIES + s] += x->params;
        c->total[s] += x->params;
    }
    return true;
}

static uint64_t ad_slot_sum(const ad_chart *c, size_t slot)
{
    uint64_t t = 0;
    for (size_t s = 0; s < AD_SERIES; s++)
        t += c->v[slot * AD_SERIES + s];
    return t;
}

static void bytes_text(char *buf, size_t n, uint64_t bytes)
{
    if ((double)bytes >= GIB)
        snprintf(buf, n, "%.1f GiB", (double)bytes / GIB);
    else
        snprintf(buf, n, "%.1f MiB", (double)bytes / 1048576.0);
}

static void ad_title(vf_buf *b, const vf_adapter_plan *p, const char *model, const vf_adapter_options *o)
{
    const vf_adapter_totals *t = vf_adapter_plan_totals(p);
    bool lora = o->method == VF_ADAPTER_LORA;
    char c1[32], c2[32], c3[32], sz[32];
    text_start(b, AX0 - 70, 32, "start", "font-size=\"19\" font-weight=\"bold\" fill=\"" INK "\"");
    vf_buf_printf(b, "%s parameters per layer: ", lora ? "LoRA adapter" : "OSFT U, S, V");
    vf_svg_text(b, model, 48, true);
    text_end(b);
    text_start(b, AX0 - 70, 54, "start", "font-size=\"12\" fill=\"" MUTED "\"");
    if (lora)
        vf_buf_printf(b, "rank %llu%s%s", (unsigned long long)o->rank,
                      o->rank_rule_count ? " (with rank pattern)" : "", o->use_dora ? ", DoRA" : "");
    else
        vf_buf_printf(b, "unfreeze rank ratio %g", o->unfreeze_rank_ratio);
    bytes_text(sz, sizeof sz, t->bytes);
    vf_buf_printf(b, " \xC2\xB7 %s matrices \xC2\xB7 %s parameters (%s as %s) \xC2\xB7 %.2f%% of the "
                     "base model's %s",
                  vf_fmt_count(t->matrices, c1), vf_fmt_count(t->parameters, c2), sz,
                  vf_dtype_name(o->adapter_dtype),
                  t->base_parameters ? 100.0 * (double)t->parameters / (double)t->base_parameters : 0.0,
                  vf_fmt_count(t->base_parameters, c3));
    text_end(b);
}

/* The layer-label step: 1, 2, 5, 10, 20, ... so that at most 20 labels are drawn. */
static size_t ad_label_step(size_t layers)
{
    size_t step = 1;
    for (int k = 0; (layers + step - 1) / step > 20; k++)
        step = k % 3 == 1 ? step / 2 * 5 : step * 2; /* 2, 5, 10, 20, 50, 100, ... */
    return step;
}

/* One bar (stacked series) with its tooltip and x label. */
static void ad_bar(vf_buf *b, const axis *a, const ad_chart *c, size_t slot, double cx, double w,
                   const char *label, bool show_label, bool show_value)
{
    char n1[32], v[32];
    uint64_t sum = ad_slot_sum(c, slot);
    vf_buf_printf(b, "<g>\n<title>%s%s: %s parameters</title>\n", slot + 1 < c->slots ? "layer " : "",
                  label, vf_fmt_count(sum, n1));
    double base = 0;
    for (size_t s = 0; s < AD_SERIES; s++) {
        uint64_t x = c->v[slot * AD_SERIES + s];
        if (!x)
            continue;
        double lo = axis_y(a, base), hi = axis_y(a, base + (double)x);
        svg_rect(b, cx - w / 2, hi, w, lo - hi, ad_palette[s]);
        base += (double)x;
    }
    if (show_value && sum) {
        fmt_si_value((double)sum, v, sizeof v);
        svg_text(b, cx, axis_y(a, (double)sum) - 5, "middle", "font-size=\"10\" fill=\"" MUTED "\"", v);
    }
    if (show_label)
        svg_text(b, cx, a->y1 + 16, "middle", "font-size=\"11\" fill=\"" MUTED "\"", label);
    vf_buf_printf(b, "</g>\n");
}

static void ad_bars(vf_buf *b, const axis *a, const ad_chart *c)
{
    size_t layers = c->slots ? c->slots - 1 : 0;
    bool other = c->slots && ad_slot_sum(c, c->slots - 1);
    size_t bars = layers + (other ? 1 : 0), step = ad_label_step(layers);
    if (!bars)
        return;
    double slot = (a->x1 - a->x0) / (double)bars, w = fmax(1.0, slot * 0.78);
    double other_x = a->x1 - slot / 2;
    char label[32];
    for (size_t i = 0; i < layers; i++) {
        double cx = a->x0 + slot * ((double)i + 0.5);
        snprintf(label, sizeof label, "%zu", i);
        bool show = i % step == 0 && (!other || other_x - cx > 40);
        ad_bar(b, a, c, i, cx, w, label, show, bars <= 16);
    }
    if (other)
        ad_bar(b, a, c, c->slots - 1, other_x, w, "other", true, bars <= 16);
    svg_text(b, (a->x0 + a->x1) / 2, a->y1 + 34, "middle", "font-size=\"12\" fill=\"" MUTED "\"",
             other ? "layer (other: outside any layer)" : "layer");
}

static void ad_legend(vf_buf *b, const ad_chart *c, double y)
{
    char tip[AD_KEY + 64], n1[32];
    int k = 0;
    for (size_t s = 0; s < AD_SERIES; s++) {
        if (s >= c->named && !(s == AD_NAMED && c->rest))
            continue;
        double x = AX0 - 70 + (k % 4) * 215.0, yy = y + (k / 4) * 22.0;
        vf_buf_printf(b, "<g>\n<title>");
        snprintf(tip, sizeof tip, "%s parameters", vf_fmt_count(c->total[s], n1));
        vf_svg_text(b, c->key[s], 0, false);
        vf_buf_printf(b, ": %s</title>\n", tip);
        legend_item(b, x, yy, ad_palette[s], false, c->key[s], 28);
        vf_buf_printf(b, "</g>\n");
        k++;
    }
}

static int ad_series_count(const ad_chart *c)
{
    return (int)c->named + (c->rest ? 1 : 0);
}

void vf_svg_adapters_chart(vf_buf *b, const vf_adapter_plan *p, const char *model,
                           const vf_adapter_options *o)
{
    ad_chart *c = calloc(1, sizeof *c);
    if (!c || !ad_collect(c, p)) {
        b->failed = true;
        if (c)
            free(c->v);
        free(c);
        return;
    }
    double max = 0;
    for (size_t i = 0; i < c->slots; i++)
        max = fmax(max, (double)ad_slot_sum(c, i));
    axis a = {AX0, AX1, AY0, AY1, 0, 0};
    axis_scale(&a, max * 1.08);
    int rows = (ad_series_count(c) + 3) / 4, h = AY1 + 62 + rows * 22 + 26;
    svg_open(b, AW, h, o->method == VF_ADAPTER_LORA ? "LoRA adapter parameters per layer:"
                                                     : "OSFT U, S, V parameters per layer:", model);
    ad_title(b, p, model, o);
    axis_draw(b, &a, fmt_si_tick, "parameters");
    ad_bars(b, &a, c);
    ad_legend(b, c, AY1 + 62);
    svg_text(b, AX0 - 70, h - 12, "start", "font-size=\"11\" fill=\"" MUTED "\"",
             "Stacked by module (layer number removed, other numeric segments as *). Drawn by vramfit.");
    vf_buf_printf(b, "</svg>\n");
    free(c->v);
    free(c);
}

/* ---- files --------------------------------------------------------------------------------------- */

int vf_svg_prepare(const char *path, const vf_buf *b, const vf_checkpoint *cp, const char *input,
                   vf_output **o)
{
    vf_error err = {0};
    *o = NULL;
    if (!*path) {
        vf_error_set(&err, VF_ERR_USAGE, NULL, NULL, "--svg needs a file name");
        return vf_cli_fail(&err);
    }
    if (b->failed || !b->data) {
        vf_error_set(&err, VF_ERR_NOMEM, path, NULL, "out of memory while drawing the SVG");
        return vf_cli_fail(&err);
    }
    const char *const inputs[] = {input, NULL};
    return vf_cli_output_prepare(path, cp, inputs, b->data, b->len, o);
}

/* vf_svg_prepare of a drawn chart, then frees it. */
static int prepare_drawn(const char *path, vf_buf *b, const vf_checkpoint *cp, const char *input,
                         vf_output **o)
{
    int rc = vf_svg_prepare(path, b, cp, input, o);
    vf_buf_free(b);
    return rc;
}

int vf_svg_estimate_prepare(const char *path, const vf_svg_estimate *e, const vf_checkpoint *cp,
                            const char *input, vf_output **o)
{
    vf_buf b = {0};
    vf_svg_estimate_chart(&b, e);
    return prepare_drawn(path, &b, cp, input, o);
}

int vf_svg_detailed_prepare(const char *path, const vf_svg_detailed *d, const vf_checkpoint *cp,
                            const char *input, vf_output **o)
{
    vf_buf b = {0};
    vf_svg_detailed_chart(&b, d);
    return prepare_drawn(path, &b, cp, input, o);
}

int vf_svg_adapters_prepare(const char *path, const vf_adapter_plan *p, const char *model,
                            const vf_adapter_options *o, const vf_checkpoint *cp, const char *input,
                            vf_output **out)
{
    vf_buf b = {0};
    vf_svg_adapters_chart(&b, p, model, o);
    return prepare_drawn(path, &b, cp, input, out);
}
