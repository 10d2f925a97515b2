/* vf_jw.c - the compact JSON writer of every vramfit document (see vramfit/vf_report.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_report_internal.h"

/* Bytes written as they are inside a JSON string. */
static bool plain_ascii(unsigned char c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; }

/* Every string of every JSON document (stdout and manifests) goes through here: '"', '\\' and
 * control characters escaped, and each byte that is not part of valid UTF-8 written as U+FFFD, so
 * that the document is valid UTF-8 for any strict reader. */
static void json_string(vf_buf *b, const char *s)
{
    vf_buf_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        const unsigned char *run = p;
        while (plain_ascii(*p)) /* copied as they are, one run at a time */
            p++;
        if (p > run)
            vf_buf_put(b, (const char *)run, (size_t)(p - run));
        if (!*p)
            break;
        uint32_t cp;
        size_t n = vf_utf8_char(p, &cp);
        if (cp == UINT32_MAX) {
            vf_buf_put(b, "\\ufffd", 6);
        } else if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            vf_buf_put(b, esc, 2);
        } else if (*p < 0x20) {
            vf_buf_printf(b, "\\u%04x", *p);
        } else {
            vf_buf_put(b, (const char *)p, n);
        }
        p += n;
    }
    vf_buf_put(b, "\"", 1);
}

/* Comma and key before a value. */
static void json_pre(vf_jw *j, const char *key)
{
    if (j->depth > 0) {
        if (!j->first[j->depth])
            vf_buf_put(j->b, ",", 1);
        j->first[j->depth] = false;
    }
    if (key) {
        json_string(j->b, key);
        vf_buf_put(j->b, ":", 1);
    }
}

static void json_open(vf_jw *j, const char *key, char c)
{
    json_pre(j, key);
    vf_buf_put(j->b, &c, 1);
    if (j->depth + 1 < VF_JW_MAX_DEPTH)
        j->depth++;
    j->first[j->depth] = true;
}

static void json_close(vf_jw *j, char c)
{
    vf_buf_put(j->b, &c, 1);
    if (j->depth > 0)
        j->depth--;
    if (j->depth == 0)
        vf_buf_put(j->b, "\n", 1);
}

void vf_jw_obj(vf_jw *j, const char *key) { json_open(j, key, '{'); }
void vf_jw_obj_end(vf_jw *j) { json_close(j, '}'); }
void vf_jw_arr(vf_jw *j, const char *key) { json_open(j, key, '['); }
void vf_jw_arr_end(vf_jw *j) { json_close(j, ']'); }

void vf_jw_u64(vf_jw *j, const char *key, uint64_t v)
{
    json_pre(j, key);
    char digits[20];
    size_t n = 0;
    do
        digits[sizeof digits - ++n] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    vf_buf_put(j->b, digits + sizeof digits - n, n);
}

void vf_jw_i64(vf_jw *j, const char *key, int64_t v)
{
    json_pre(j, key);
    vf_buf_printf(j->b, "%lld", (long long)v);
}

void vf_jw_double(vf_jw *j, const char *key, double v)
{
    json_pre(j, key);
    if (!isfinite(v)) {
        vf_buf_put(j->b, "null", 4);
        return;
    }
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    vf_buf_printf(j->b, "%s", tmp);
}

void vf_jw_str(vf_jw *j, const char *key, const char *s)
{
    json_pre(j, key);
    if (s)
        json_string(j->b, s);
    else
        vf_buf_put(j->b, "null", 4);
}

void vf_jw_bool(vf_jw *j, const char *key, bool v)
{
    json_pre(j, key);
    vf_buf_printf(j->b, "%s", v ? "true" : "false");
}

void vf_jw_null(vf_jw *j, const char *key)
{
    json_pre(j, key);
    vf_buf_put(j->b, "null", 4);
}

void vf_jw_shape(vf_jw *j, const char *key, const uint64_t *dims, uint32_t ndim)
{
    vf_jw_arr(j, key);
    for (uint32_t i = 0; i < ndim; i++)
        vf_jw_u64(j, NULL, dims[i]);
    vf_jw_arr_end(j);
}

void vf_jw_findings(vf_jw *j, const char *key, const vf_findings *f)
{
    vf_jw_arr(j, key);
    for (size_t i = 0; i < vf_findings_count(f); i++) {
        const vf_finding *x = vf_findings_get(f, i);
        vf_jw_obj(j, NULL);
        vf_jw_str(j, "severity", x->severity == VF_SEV_WARNING ? "warning" : "info");
        vf_jw_str(j, "message", x->message);
        vf_jw_obj_end(j);
    }
    vf_jw_arr_end(j);
}

void vf_jw_doc(vf_jw *j)
{
    vf_jw_obj(j, NULL);
    vf_jw_str(j, "schema", VF_REPORT_SCHEMA);
}

void vf_jw_origin(vf_jw *j, const vf_checkpoint *cp)
{
    vf_jw_str(j, "model", vf_checkpoint_name(cp));
    vf_jw_str(j, "repo_id", vf_checkpoint_repo_id(cp));
    vf_jw_str(j, "revision", vf_checkpoint_revision(cp));
    vf_jw_str(j, "path", vf_checkpoint_dir(cp));
}
