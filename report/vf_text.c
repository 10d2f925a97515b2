/* vf_text.c - the growing text buffer and the UTF-8 decoder every report is written with. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_json.h"
#include "vf_report_internal.h"

static bool buf_reserve(vf_buf *b, size_t extra)
{
    if (b->failed)
        return false;
    if (extra > SIZE_MAX - 1 - b->len) {
        b->failed = true;
        return false;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            b->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *d = realloc(b->data, cap);
    if (!d) {
        b->failed = true;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

char *vf_buf_grow(vf_buf *b, size_t n)
{
    return buf_reserve(b, n) ? b->data + b->len : NULL;
}

void vf_buf_put(vf_buf *b, const char *s, size_t n)
{
    if (!buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void vf_buf_printf(vf_buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n >= 0 && buf_reserve(b, (size_t)n))
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2), b->len += (size_t)n;
    va_end(ap2);
}

void vf_buf_free(vf_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* The library's one UTF-8 decoder (vf_utf8_decode, parser/format); a NUL ends the sequence as any
 * byte that is not a continuation byte does. */
size_t vf_utf8_char(const unsigned char *s, uint32_t *cp)
{
    return vf_utf8_decode(s, strnlen((const char *)s, 4), cp);
}

int vf_report_finish(vf_buf *b, char **out, vf_error *err)
{
    if (b->failed || !b->data) {
        vf_buf_free(b);
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory while writing the report");
    }
    *out = b->data;
    memset(b, 0, sizeof *b);
    return VF_OK;
}

int vf_report_null_arg(const char *fn, char **out, vf_error *err)
{
    if (out)
        *out = NULL;
    return vf_error_set(err, VF_ERR_USAGE, NULL, NULL, "%s: a required argument is NULL", fn);
}

void vf_report_free(char *text)
{
    free(text);
}
