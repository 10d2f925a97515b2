/* vf_json_read.c - what every reader of untrusted JSON shares beside the scanner (vf_json.c): the one
 * strict UTF-8 check and decoder, the member iterator (so that no reader writes its own object loop)
 * and the JSON string writer of the library's JSON output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_json.h"

/* ---- UTF-8 ------------------------------------------------------------------------------------- */

/* Exact per-byte zero test: the high bit of each byte of the result is set iff that byte of x is 0. */
static uint64_t zero_bytes(uint64_t x)
{
    const uint64_t low7 = UINT64_C(0x7F7F7F7F7F7F7F7F);
    return ~(((x & low7) + low7) | x | low7);
}

/* Strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF). Returns the offset of the first bad byte
 * or len when valid; *has_nul tells whether a NUL byte occurs (before the first bad byte, or anywhere
 * when valid). */
size_t vf_utf8_invalid_at(const uint8_t *s, size_t len, bool *has_nul)
{
    const uint64_t high = UINT64_C(0x8080808080808080);
    size_t i = 0;
    uint64_t nul = 0;
    while (i < len) {
        uint64_t w;
        if (len - i >= 8 && (memcpy(&w, s + i, 8), (w & high) == 0)) { /* eight ASCII bytes */
            nul |= zero_bytes(w);
            i += 8;
            continue;
        }
        if (s[i] < 0x80) {
            nul |= s[i] == 0;
            i++;
            continue;
        }
        uint32_t cp;
        size_t k = vf_utf8_decode(s + i, len - i, &cp);
        if (cp == UINT32_MAX)
            break;
        i += k;
    }
    *has_nul = nul != 0;
    return i;
}

int vf_json_failed_input(const uint8_t *s, size_t len, const char *file, const char *what, int code,
                         int rc, vf_error *err)
{
    bool has_nul;
    size_t bad = vf_utf8_invalid_at(s, len, &has_nul);
    if (bad != len)
        return vf_error_set(err, code, file, NULL, "%s is not valid UTF-8 (byte %zu of %zu)", what, bad, len);
    return rc;
}

int vf_json_iter_next(vf_json_iter *it)
{
    vf_json *c = it->c;
    if (!it->started) {
        it->started = true;
        if (!vf_json_eat(c, '{'))
            return vf_json_fail(c);
        if (vf_json_eat(c, '}'))
            return 0;
    } else if (!vf_json_eat(c, ',')) {
        return vf_json_eat(c, '}') ? 0 : vf_json_fail(c);
    }
    vf_json_ws(c);
    if (c->p >= c->end || *c->p != '"')
        return vf_json_fail(c);
    int rc = vf_json_string(c, &it->raw, &it->raw_len, &it->escaped);
    if (rc != VF_OK)
        return rc;
    if (!vf_json_eat(c, ':'))
        return vf_json_fail(c);
    it->klen = SIZE_MAX;
    if (it->decode && it->raw_len < sizeof it->key) {
        bool nul;
        if (it->escaped) {
            it->klen = vf_json_decode(it->raw, it->raw_len, (uint8_t *)it->key, &nul);
        } else {
            memcpy(it->key, it->raw, it->raw_len);
            it->key[it->raw_len] = '\0';
            it->klen = it->raw_len;
        }
    }
    return 1;
}

size_t vf_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    unsigned c = s[0];
    size_t k = c < 0x80                 ? 1
               : c >= 0xC2 && c <= 0xDF ? 2
               : c >= 0xE0 && c <= 0xEF ? 3
               : c >= 0xF0 && c <= 0xF4 ? 4
                                        : 0; /* 0xC0, 0xC1 and 0xF5.. never start a character */
    if (k == 0) {
        *cp = UINT32_MAX;
        return 1;
    }
    uint32_t v = k == 1 ? c : c & (0xFFu >> (k + 1));
    for (size_t i = 1; i < k; i++) {
        if (i >= n || (s[i] & 0xC0) != 0x80) {
            *cp = UINT32_MAX;
            return i;
        }
        v = v << 6 | (s[i] & 0x3Fu);
    }
    *cp = v < min[k] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) ? UINT32_MAX : v;
    return k;
}

char *vf_json_quote(const char *s)
{
    size_t n = strlen(s), o = 0;
    if (n > (SIZE_MAX - 3) / 6)
        return NULL;
    char *out = malloc(6 * n + 3); /* every byte at worst \u00XX or \ufffd */
    if (!out)
        return NULL;
    out[o++] = '"';
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        const uint8_t *p = (const uint8_t *)s + i;
        size_t k = vf_utf8_decode(p, n - i, &cp);
        if (cp == UINT32_MAX) {
            memcpy(out + o, "\\ufffd", 6);
            o += 6;
        } else if (*p == '"' || *p == '\\') {
            out[o++] = '\\';
            out[o++] = (char)*p;
        } else if (*p < 0x20) {
            o += (size_t)snprintf(out + o, 7, "\\u%04x", *p);
        } else {
            memcpy(out + o, p, k);
            o += k;
        }
        i += k;
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}
