/* vf_report_internal.h - what the document writers of the report layer share (private). */
#ifndef VF_REPORT_INTERNAL_H
#define VF_REPORT_INTERNAL_H

#include <string.h>

#include "vramfit/vf_report.h"

/* Room for n more bytes (and the NUL) at the end of b: where to write them, followed by
 * vf_buf_commit(b, k) for the k <= n bytes written. NULL when b cannot grow (b->failed is then set
 * and every later write is dropped, as vf_buf_put does). The JSON writer's short pieces go straight
 * into the buffer this way. */
char *vf_buf_grow(vf_buf *b, size_t n);

static inline char *vf_buf_room(vf_buf *b, size_t n)
{
    return !b->failed && n < b->cap - b->len ? b->data + b->len : vf_buf_grow(b, n);
}

static inline void vf_buf_commit(vf_buf *b, size_t k)
{
    b->len += k;
    b->data[b->len] = '\0';
}

/* vf_buf_put with the copy inline while b has room. */
static inline void vf_buf_add(vf_buf *b, const char *s, size_t n)
{
    char *d = vf_buf_room(b, n);
    if (d) {
        memcpy(d, s, n);
        vf_buf_commit(b, n);
    }
}

/* ---- members with literal names (the per-matrix objects of the large documents) ----------------
 * vf_jw_KEY(j, "rows") writes what vf_jw_u64(j, "rows", ...) writes before its value (the comma
 * when one is due, then "rows":), the name's length known at compile time; lit must be a string
 * literal of plain ASCII needing no escape. The value then follows with vf_jw_put_*. The same bytes
 * as the vf_jw_* call with that key (tests/test_report.c compares whole documents). */
/* Whether a comma is due before the next value of j's current object or array (not before its
 * first); the value is then no longer the first. */
static inline bool vf_jw_comma_due(vf_jw *j)
{
    bool comma = j->depth > 0 && !j->first[j->depth];
    if (j->depth > 0)
        j->first[j->depth] = false;
    return comma;
}

static inline void vf_jw_key_quoted(vf_jw *j, const char *quoted, size_t n)
{
    bool comma = vf_jw_comma_due(j);
    char *d = vf_buf_room(j->b, n + 1);
    if (d) {
        d[0] = ',';
        memcpy(d + comma, quoted, n);
        vf_buf_commit(j->b, n + comma);
    }
}
#define vf_jw_KEY(j, lit) vf_jw_key_quoted((j), "\"" lit "\":", sizeof(lit) + 2)
void vf_jw_put_u64(vf_buf *b, uint64_t v);       /* v in decimal */
void vf_jw_put_i64(vf_buf *b, int64_t v);        /* v in decimal, '-' first when negative */
void vf_jw_put_str(vf_buf *b, const char *s);    /* s as a JSON string (escaped); NULL: null */
void vf_jw_put_bool(vf_buf *b, bool v);          /* true or false */
void vf_jw_put_pair(vf_buf *b, uint64_t x, uint64_t y); /* [x,y] */

/* The end of a document function: hands b's text to the caller as *out (b is emptied), or frees b
 * and returns VF_ERR_NOMEM when it is incomplete. */
int vf_report_finish(vf_buf *b, char **out, vf_error *err);

/* VF_ERR_USAGE for a NULL argument of a document function (out, when not NULL, set to NULL). */
int vf_report_null_arg(const char *fn, char **out, vf_error *err);

#endif
