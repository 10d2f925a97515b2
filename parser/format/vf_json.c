/* vf_json.c - a strict JSON (RFC 8259) scanner for the parser layer: no tree, no allocation.
 *
 * The safetensors header parser and the index parser drive it member by member and build their own
 * tables directly, so memory is the input plus what they keep. It validates everything it passes
 * over: string escapes (UTF-16 surrogate escapes must pair; raw control characters are rejected), the
 * number grammar (no leading zeros, no bare '.', no '+'), literals, nesting up to
 * VF_JSON_MAX_DEPTH, and strict UTF-8 inside strings (outside them every byte must be ASCII
 * grammar, so a document the scanner accepts whole is valid UTF-8 without NUL bytes). */
#include <string.h>

#include "vf_json.h"

int vf_json_fail(vf_json *c)
{
    size_t at = (size_t)(c->p - c->base);
    c->failed = true;
    return vf_error_set(c->err, c->code, c->file, NULL, "%s is not valid JSON (near byte %zu)", c->what,
                        at);
}

static int hex4(const uint8_t *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t ch = s[i];
        uint32_t d = ch >= '0' && ch <= '9'   ? (uint32_t)(ch - '0')
                     : ch >= 'a' && ch <= 'f' ? (uint32_t)(ch - 'a' + 10)
                     : ch >= 'A' && ch <= 'F' ? (uint32_t)(ch - 'A' + 10)
                                              : 16u;
        if (d == 16)
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

/* A JSON string; c->p is on the opening quote. On success *s and *n give the raw bytes between the
 * quotes, *escaped tells whether they hold escapes, and c->p is past the closing quote. Escapes are
 * validated here (\uXXXX surrogates must pair), and so is UTF-8 (vf_utf8_decode's strict rules). */
int vf_json_string(vf_json *c, const uint8_t **s, size_t *n, bool *escaped)
{
    const uint8_t *p = c->p + 1, *end = c->end;
    bool esc = false;
    *s = p;
    for (;;) {
        p = vf_json_plain_run(p, end);
        while (end - p >= 8) { /* eight ASCII bytes at a time while none is '"', '\\' or a control */
            uint64_t w;
            memcpy(&w, p, 8);
            uint64_t m = vf_json_word_stops(w);
            if (m) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                p += (unsigned)__builtin_ctzll(m) >> 3; /* the lowest mark is exact: the first such byte */
#endif
                break;
            }
            p += 8;
        }
        while (p < end && *p != '"' && *p != '\\' && *p >= 0x20) {
            if (*p < 0x80) {
                p++;
                continue;
            }
            uint32_t cp;
            size_t k = vf_utf8_decode(p, (size_t)(end - p), &cp);
            if (cp == UINT32_MAX) { /* the first bad byte is p + k - 1 or p + k; near it */
                c->p = p;
                return vf_json_fail(c);
            }
            p += k;
        }
        if (p >= end || *p < 0x20) {
            c->p = p;
            return vf_json_fail(c);
        }
        if (*p == '"')
            break;
        esc = true;
        if (end - p < 2) {
            c->p = p;
            return vf_json_fail(c);
        }
        uint8_t e = p[1];
        if (e == 'u') {
            uint32_t u, lo;
            if (end - p < 6 || hex4(p + 2, &u) != 0) {
                c->p = p;
                return vf_json_fail(c);
            }
            p += 6;
            if (u >= 0xDC00 && u <= 0xDFFF) {
                c->p = p - 6;
                return vf_json_fail(c);
            }
            if (u >= 0xD800 && u <= 0xDBFF) {
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) != 0 || lo < 0xDC00 ||
                    lo > 0xDFFF) {
                    c->p = p - 6;
                    return vf_json_fail(c);
                }
                p += 6;
            }
        } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' ||
                   e == 't') {
            p += 2;
        } else {
            c->p = p;
            return vf_json_fail(c);
        }
    }
    *n = (size_t)(p - *s);
    *escaped = esc;
    c->p = p + 1;
    return VF_OK;
}

static size_t put_utf8(uint8_t *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xC0 | cp >> 6);
        o[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | cp >> 12);
        o[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | cp >> 18);
    o[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes the raw bytes of a string validated by scan_string into out (at least n + 1 bytes; escapes
 * never expand). Returns the decoded length; out is NUL-terminated; *has_nul reports a U+0000. */
size_t vf_json_decode(const uint8_t *s, size_t n, uint8_t *out, bool *has_nul)
{
    size_t o = 0;
    *has_nul = false;
    for (size_t i = 0; i < n;) {
        if (s[i] != '\\') {
            out[o++] = s[i++];
            continue;
        }
        uint8_t e = s[i + 1];
        if (e != 'u') {
            out[o++] = e == 'b' ? '\b' : e == 'f' ? '\f' : e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e;
            i += 2;
            continue;
        }
        uint32_t u = 0, lo = 0;
        hex4(s + i + 2, &u);
        i += 6;
        if (u >= 0xD800 && u <= 0xDBFF) {
            hex4(s + i + 2, &lo);
            i += 6;
            u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
        }
        *has_nul |= u == 0;
        o += put_utf8(out + o, u);
    }
    out[o] = '\0';
    return o;
}

/* The parts of a JSON number's text: sign, integer digits [i0, i1), fraction digits [f0, f1) and
 * the decimal exponent (clamped at +-1,000,000). */
typedef struct number_text {
    bool neg;
    const uint8_t *i0, *i1, *f0, *f1;
    long exp;
} number_text;

static bool is_digit(const uint8_t *p, const uint8_t *end) { return p < end && *p >= '0' && *p <= '9'; }

/* Scans the grammar of RFC 8259's number at c->p into *t, leaving c->p after it. */
static int scan_number(vf_json *c, number_text *t)
{
    const uint8_t *p = c->p, *end = c->end;
    t->neg = p < end && *p == '-';
    p += t->neg;
    t->i0 = p;
    if (!is_digit(p, end)) {
        c->p = p;
        return vf_json_fail(c);
    }
    if (*p == '0')
        p++;
    else
        while (is_digit(p, end))
            p++;
    t->i1 = t->f0 = t->f1 = p;
    if (p < end && *p == '.') {
        t->f0 = ++p;
        while (is_digit(p, end))
            p++;
        t->f1 = p;
        if (t->f1 == t->f0) {
            c->p = p;
            return vf_json_fail(c);
        }
    }
    t->exp = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        bool eneg = p < end && (*p == '-' || *p == '+') ? *p++ == '-' : false;
        const uint8_t *e0 = p;
        for (; is_digit(p, end); p++)
            if (t->exp < 1000000)
                t->exp = t->exp * 10 + (*p - '0');
        if (p == e0) {
            c->p = p;
            return vf_json_fail(c);
        }
        t->exp = eneg ? -t->exp : t->exp;
    }
    c->p = p;
    return VF_OK;
}

/* Whether the number t denotes is an integer in [0, 2^53]: value = D x 10^k with D the significant
 * digits of the integer and fraction parts, trailing zeros folded into k. *val is set when the
 * value is zero or has at most 16 significant digits and no fraction left (then it may exceed 2^53),
 * untouched otherwise. */
static bool exact_integer(const number_text *t, uint64_t *val)
{
    char d[48];
    size_t nd = 0;
    long k = t->exp - (long)(t->f1 - t->f0);
    bool too_long = false;
    for (const uint8_t *q = t->i0; q < t->f1; q++) {
        if (q == t->i1) {
            q = t->f0 - 1; /* skip the '.' */
            continue;
        }
        if (nd == 0 && *q == '0')
            continue; /* leading zeros */
        if (nd < sizeof d)
            d[nd++] = (char)*q;
        else if (*q != '0')
            too_long = true;
        else
            k++; /* a trailing zero beyond the buffer: fold it into the exponent */
    }
    while (nd > 0 && d[nd - 1] == '0') {
        nd--;
        k++;
    }
    if (nd == 0) { /* zero, whatever its sign or exponent */
        *val = 0;
        return true;
    }
    if (t->neg || too_long || k < 0 || (long)nd + k > 16)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < nd; i++)
        v = v * 10 + (uint64_t)(d[i] - '0');
    for (long i = 0; i < k; i++)
        v *= 10;
    *val = v;
    return v <= (UINT64_C(1) << 53);
}

/* A JSON number at c->p. *ok tells whether it is an exact integer in [0, 2^53] (value in *val):
 * decided on the decimal text, never through a double, so 9007199254740993 is not taken for 2^53
 * and 1.0, 1e3 or -0 are the integers they denote. */
int vf_json_number(vf_json *c, uint64_t *val, bool *ok)
{
    number_text t = {0};
    int rc = scan_number(c, &t);
    if (rc != VF_OK)
        return rc;
    if (!t.neg && t.f0 == t.f1 && t.exp == 0 && t.i1 - t.i0 <= 16) { /* common: a plain integer */
        uint64_t v = 0;
        for (const uint8_t *q = t.i0; q < t.i1; q++)
            v = v * 10 + (uint64_t)(*q - '0');
        *ok = v <= (UINT64_C(1) << 53);
        *val = v;
        return VF_OK;
    }
    *ok = exact_integer(&t, val);
    return VF_OK;
}

bool vf_json_word(vf_json *c, const char *w, size_t n)
{
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0)
        return false;
    c->p += n;
    return true;
}

/* Validates and skips one JSON value at c->p (after whitespace). */
int vf_json_skip(vf_json *c, unsigned depth)
{
    vf_json_ws(c);
    if (c->p >= c->end)
        return vf_json_fail(c);
    const uint8_t *s;
    size_t n;
    bool esc, ok;
    uint64_t v;
    switch (*c->p) {
    case '"':
        return vf_json_string(c, &s, &n, &esc);
    case '{':
    case '[': {
        bool obj = *c->p == '{';
        uint8_t close = obj ? '}' : ']';
        if (depth >= VF_JSON_MAX_DEPTH)
            return vf_json_fail(c);
        c->p++;
        if (vf_json_eat(c, close))
            return VF_OK;
        do {
            if (obj) {
                vf_json_ws(c);
                if (c->p >= c->end || *c->p != '"')
                    return vf_json_fail(c);
                int rc = vf_json_string(c, &s, &n, &esc);
                if (rc != VF_OK)
                    return rc;
                if (!vf_json_eat(c, ':'))
                    return vf_json_fail(c);
            }
            int rc = vf_json_skip(c, depth + 1);
            if (rc != VF_OK)
                return rc;
        } while (vf_json_eat(c, ','));
        return vf_json_eat(c, close) ? VF_OK : vf_json_fail(c);
    }
    case 't':
        return vf_json_word(c, "true", 4) ? VF_OK : vf_json_fail(c);
    case 'f':
        return vf_json_word(c, "false", 5) ? VF_OK : vf_json_fail(c);
    case 'n':
        return vf_json_word(c, "null", 4) ? VF_OK : vf_json_fail(c);
    default:
        return vf_json_number(c, &v, &ok);
    }
}

/* Reads an object member's key (c->p after whitespace on '"' expected) and the ':' after it. The
 * key's bytes are decoded into buf (cap bytes) when they fit; *klen is the decoded length, or
 * SIZE_MAX when the key did not fit (it then matches no known key). */
int vf_json_key(vf_json *c, const uint8_t **raw, size_t *raw_len, bool *escaped, char *buf,
                      size_t cap, size_t *klen)
{
    vf_json_ws(c);
    if (c->p >= c->end || *c->p != '"')
        return vf_json_fail(c);
    int rc = vf_json_string(c, raw, raw_len, escaped);
    if (rc != VF_OK)
        return rc;
    if (!vf_json_eat(c, ':'))
        return vf_json_fail(c);
    *klen = SIZE_MAX;
    if (*raw_len < cap) {
        bool nul;
        *klen = *escaped ? vf_json_decode(*raw, *raw_len, (uint8_t *)buf, &nul) : *raw_len;
        if (!*escaped) {
            memcpy(buf, *raw, *raw_len);
            buf[*raw_len] = '\0';
        }
    }
    return VF_OK;
}

