/* vf_jw.c - the compact JSON writer of every vramfit document (see vramfit/vf_report.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_json.h"
#include "vf_report_internal.h"

/* Bytes written as they are inside a JSON string: 0x20..0x7f except '"' and '\\' ('1' at c). */
static const char plain_map[257] =
    "00000000000000000000000000000000"
    "11011111111111111111111111111111"
    "11111111111111111111111111110111"
    "11111111111111111111111111111111"
    "00000000000000000000000000000000"
    "00000000000000000000000000000000"
    "00000000000000000000000000000000"
    "00000000000000000000000000000000";

static bool plain_ascii(unsigned char c) { return plain_map[c] == '1'; }

/* The rest of a JSON string from s, which holds a byte that is not plain_ascii: escapes and
 * U+FFFD as json_string promises, then the closing quote. */
static void escape_rest(vf_buf *b, const unsigned char *p)
{
    while (*p) {
        const unsigned char *run = p;
        while (plain_ascii(*p)) /* copied as they are, one run at a time */
            p++;
        if (p > run)
            vf_buf_add(b, (const char *)run, (size_t)(p - run));
        if (!*p)
            break;
        uint32_t cp;
        size_t n = vf_utf8_char(p, &cp);
        if (cp == UINT32_MAX) {
            vf_buf_add(b, "\\ufffd", 6);
        } else if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            vf_buf_add(b, esc, 2);
        } else if (*p < 0x20) {
            vf_buf_printf(b, "\\u%04x", *p);
        } else {
            vf_buf_add(b, (const char *)p, n);
        }
        p += n;
    }
    vf_buf_add(b, "\"", 1);
}

/* Copies s[0..n) to d and returns the length of its plain_ascii prefix (n when all of it is):
 * sixteen bytes at a time where SSE2 is there (the scanner's own test, vf_json_plain_run), the
 * last sixteen overlapping the ones before; eight at a time for the rest, the same way; then byte
 * by byte. Past a byte that is not plain, d holds copied bytes the caller writes over. */
static size_t copy_plain(char *d, const char *s, size_t n)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0;
#if defined(__SSE2__)
    for (; n >= 16; i += 16) {
        size_t at = i + 16 <= n ? i : n - 16; /* [at, i) was found plain already */
        _mm_storeu_si128((__m128i *)(void *)(d + at), _mm_loadu_si128((const __m128i *)(const void *)(u + at)));
        const uint8_t *stop = vf_json_plain_run(u + at, u + at + 16);
        if (stop != u + at + 16)
            return (size_t)(stop - u);
        if (at + 16 == n)
            return n;
    }
#endif
    for (; n >= 8; i += 8) {
        size_t at = i + 8 <= n ? i : n - 8;
        uint64_t w;
        memcpy(&w, s + at, 8);
        memcpy(d + at, &w, 8);
        if (vf_json_word_stops(w)) { /* its plain bytes from i on, then the first that is not */
            while (plain_ascii(u[i]))
                i++;
            return i;
        }
        if (at + 8 == n)
            return n;
    }
    for (; i < n; i++) {
        d[i] = s[i];
        if (!plain_ascii(u[i]))
            return i;
    }
    return n;
}

/* Every string of every JSON document (stdout and manifests) goes through here: '"', '\\' and
 * control characters escaped, and each byte that is not part of valid UTF-8 written as U+FFFD, so
 * that the document is valid UTF-8 for any strict reader. A plain ASCII string is copied in one go. */
static void json_string(vf_buf *b, const char *s)
{
    size_t n = strlen(s), i;
    char *d = vf_buf_room(b, n + 2);
    if (!d)
        return;
    d[0] = '"';
    if ((i = copy_plain(d + 1, s, n)) == n) {
        d[1 + n] = '"';
        vf_buf_commit(b, n + 2);
        return;
    }
    vf_buf_commit(b, 1 + i);
    escape_rest(b, (const unsigned char *)s + i);
}

#define KEY_ROOM 64 /* a comma, "key": with a key of up to KEY_ROOM - 4 bytes */

/* Comma and key before a value; a short plain ASCII key (every key of vramfit's documents) is
 * written with its comma in one piece. */
static void json_pre(vf_jw *j, const char *key)
{
    bool comma = vf_jw_comma_due(j);
    char *d = vf_buf_room(j->b, KEY_ROOM);
    size_t o = comma, i = 0;
    if (!d)
        return;
    d[0] = ',';
    if (!key) {
        vf_buf_commit(j->b, o);
        return;
    }
    d[o++] = '"';
    for (; i < KEY_ROOM - 4 && plain_ascii((unsigned char)key[i]); i++)
        d[o + i] = key[i];
    if (key[i] == '\0') {
        d[o + i] = '"';
        d[o + i + 1] = ':';
        vf_buf_commit(j->b, o + i + 2);
        return;
    }
    vf_buf_commit(j->b, comma);
    json_string(j->b, key);
    vf_buf_add(j->b, ":", 1);
}

static void json_open(vf_jw *j, const char *key, char c)
{
    json_pre(j, key);
    vf_buf_add(j->b, &c, 1);
    if (j->depth + 1 < VF_JW_MAX_DEPTH)
        j->depth++;
    j->first[j->depth] = true;
}

static void json_close(vf_jw *j, char c)
{
    vf_buf_add(j->b, &c, 1);
    if (j->depth > 0)
        j->depth--;
    if (j->depth == 0)
        vf_buf_add(j->b, "\n", 1);
}

void vf_jw_obj(vf_jw *j, const char *key) { json_open(j, key, '{'); }
void vf_jw_obj_end(vf_jw *j) { json_close(j, '}'); }
void vf_jw_arr(vf_jw *j, const char *key) { json_open(j, key, '['); }
void vf_jw_arr_end(vf_jw *j) { json_close(j, ']'); }

#define DECIMAL_MAX 21 /* '-' and the 20 digits of UINT64_MAX */

/* v in decimal at d (room for DECIMAL_MAX bytes), two digits at a time; `minus` puts a '-' before
 * it. Returns the bytes written. */
static size_t decimal_at(char *d, uint64_t v, bool minus)
{
    static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                "8081828384858687888990919293949596979899";
    static const uint64_t pow10[20] = {1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull,
                                       10000000ull, 100000000ull, 1000000000ull, 10000000000ull,
                                       100000000000ull, 1000000000000ull, 10000000000000ull,
                                       100000000000000ull, 1000000000000000ull, 10000000000000000ull,
                                       100000000000000000ull, 1000000000000000000ull,
                                       10000000000000000000ull};
    if (v < 100 && !minus) { /* layers, experts, ranks, zero: most numbers of the large documents */
        if (v < 10) {
            d[0] = (char)('0' + v);
            return 1;
        }
        memcpy(d, pairs + 2 * v, 2);
        return 2;
    }
    /* digits from the bit length (log10(2) ~ 1233/4096), one compare to settle */
    size_t bits = 64 - (size_t)__builtin_clzll(v | 1), digits = (bits * 1233) >> 12;
    size_t n = minus + digits + (digits < 20 && (v | 1) >= pow10[digits]);
    char *p = d + n;
    d[0] = '-';
    for (; v >= 100; v /= 100, p -= 2)
        memcpy(p - 2, pairs + 2 * (v % 100), 2);
    if (v >= 10)
        memcpy(p - 2, pairs + 2 * v, 2);
    else
        p[-1] = (char)('0' + v);
    return n;
}

/* v in decimal at the end of b. */
static void put_decimal(vf_buf *b, uint64_t v, bool minus)
{
    char *d = vf_buf_room(b, DECIMAL_MAX);
    if (d)
        vf_buf_commit(b, decimal_at(d, v, minus));
}

void vf_jw_put_u64(vf_buf *b, uint64_t v)
{
    put_decimal(b, v, false);
}

void vf_jw_put_i64(vf_buf *b, int64_t v)
{
    put_decimal(b, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, v < 0);
}

void vf_jw_put_str(vf_buf *b, const char *s)
{
    if (s)
        json_string(b, s);
    else
        vf_buf_add(b, "null", 4);
}

void vf_jw_put_bool(vf_buf *b, bool v)
{
    vf_buf_add(b, v ? "true" : "false", v ? 4 : 5);
}

void vf_jw_put_pair(vf_buf *b, uint64_t x, uint64_t y)
{
    char *d = vf_buf_room(b, 2 * DECIMAL_MAX + 3);
    if (!d)
        return;
    size_t n = 0;
    d[n++] = '[';
    n += decimal_at(d + n, x, false);
    d[n++] = ',';
    n += decimal_at(d + n, y, false);
    d[n++] = ']';
    vf_buf_commit(b, n);
}

void vf_jw_u64(vf_jw *j, const char *key, uint64_t v)
{
    json_pre(j, key);
    vf_jw_put_u64(j->b, v);
}

void vf_jw_i64(vf_jw *j, const char *key, int64_t v)
{
    json_pre(j, key);
    vf_jw_put_i64(j->b, v);
}

void vf_jw_double(vf_jw *j, const char *key, double v)
{
    json_pre(j, key);
    if (!isfinite(v)) {
        vf_buf_add(j->b, "null", 4);
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
    vf_jw_put_str(j->b, s);
}

void vf_jw_bool(vf_jw *j, const char *key, bool v)
{
    json_pre(j, key);
    vf_jw_put_bool(j->b, v);
}

void vf_jw_null(vf_jw *j, const char *key)
{
    json_pre(j, key);
    vf_buf_add(j->b, "null", 4);
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
