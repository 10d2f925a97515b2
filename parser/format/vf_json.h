/* vf_json.h - the one reader of untrusted JSON (private to the library: parser/format and the layers
 * above it). Every JSON document vramfit reads goes through it:
 *   - streaming, no tree (vf_json cursor, vf_json_iter): safetensors headers, the shard index,
 *     bitsandbytes' quant state;
 *   - a thin tree built by the same scanner (vf_jdoc, vf_json_tree.c): config.json,
 *     adapter_config.json, verify manifests.
 * One set of rules for all of them:
 *   - UTF-8: strict (vf_utf8_decode: no overlongs, no surrogates, <= U+10FFFF), checked by the
 *     scanner inside strings; a failed parse reports invalid UTF-8 anywhere first
 *     (vf_json_failed_input);
 *   - syntax: RFC 8259 exactly (no comments, no trailing commas, no NaN, no leading zeros, nothing
 *     after the value), nesting at most VF_JSON_MAX_DEPTH containers;
 *   - integers: a count is an exact integer in [0, 2^53] decided on the decimal text, never through
 *     a double: 9007199254740993 is refused (not read as 2^53), 1.0 and 1e3 are the integers they
 *     denote, -0 is 0; a value outside the rule is refused by the reader that wanted it, with the
 *     file and key named;
 *   - duplicate keys: refused in every object a reader interprets (the tree refuses them in every
 *     object of the document).
 * Every function validates what it consumes (UTF-8 included) and,
 * on a syntax error, records it in err (code `code`, message "WHAT is not valid JSON (near byte N)"),
 * sets failed and returns `code`. */
#ifndef VRAMFIT_VF_JSON_H
#define VRAMFIT_VF_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vramfit/vf_error.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define VF_JSON_MAX_DEPTH 1000 /* as cJSON's CJSON_NESTING_LIMIT */

/* Shared by the scanner and the writer (report/vf_jw.c). */
#if defined(__SSE2__)
/* Past the plain bytes at p (ASCII, not '"', '\\' or a control), sixteen at a time while sixteen
 * remain: a signed byte below 0x20 is a control or a byte >= 0x80. The rest is the caller's. */
static inline const uint8_t *vf_json_plain_run(const uint8_t *p, const uint8_t *end)
{
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                   _mm_cmplt_epi8(v, space));
        unsigned m = (unsigned)_mm_movemask_epi8(hit);
        if (m)
            return p + __builtin_ctz(m);
        p += 16;
    }
    return p;
}
#else
static inline const uint8_t *vf_json_plain_run(const uint8_t *p, const uint8_t *end)
{
    (void)end;
    return p;
}
#endif

/* The bytes of the little-endian 8-byte word w that end a plain run ('"', '\\', a control or a
 * byte >= 0x80), as the high bit of each: 0 exactly when all eight are plain, and the lowest set
 * bit marks the first that is not (borrows reach only bytes above it). */
static inline uint64_t vf_json_word_stops(uint64_t w)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), high = UINT64_C(0x8080808080808080);
    uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');
    return (((q - ones) & ~q) | ((bs - ones) & ~bs) | ((w - ones * 0x20) & ~w) | w) & high;
}

typedef struct vf_json {
    const uint8_t *base, *p, *end;
    const char *file; /* names the file in errors */
    const char *what; /* "header", "index": starts the syntax error message */
    int code;         /* status of a syntax error: VF_ERR_JSON, VF_ERR_INDEX, ... */
    vf_error *err;
    bool failed;      /* a syntax error was recorded */
} vf_json;

/* Records a syntax error at the cursor; returns c->code. */
int vf_json_fail(vf_json *c);
static inline void vf_json_ws(vf_json *c) /* inline: called around every token */
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t'))
        c->p++;
}
/* Consumes `ch` after optional whitespace; false (only whitespace consumed) otherwise. */
static inline bool vf_json_eat(vf_json *c, uint8_t ch)
{
    vf_json_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}
/* Consumes the literal w (n bytes) when it is next; false otherwise. */
bool vf_json_word(vf_json *c, const char *w, size_t n);
/* A string, c->p on its opening quote: *s and *n give the raw bytes between the quotes and
 * *escaped whether they hold escapes; c->p ends past the closing quote. */
int vf_json_string(vf_json *c, const uint8_t **s, size_t *n, bool *escaped);
/* Decodes raw string bytes checked by vf_json_string into out (n + 1 bytes suffice; escapes never
 * expand); NUL-terminates; returns the length; *has_nul reports a U+0000. */
size_t vf_json_decode(const uint8_t *s, size_t n, uint8_t *out, bool *has_nul);
/* A number at c->p; *ok tells whether it is an exact integer in [0, 2^53] (then in *val), decided on
 * the decimal text: 9007199254740993 is not taken for 2^53, while 1.0, 1e3 and -0 are integers. */
int vf_json_number(vf_json *c, uint64_t *val, bool *ok);
/* Validates and skips one value (after optional whitespace); depth counts enclosing containers. */
int vf_json_skip(vf_json *c, unsigned depth);
/* An object member's key and the ':' after it. The key is decoded into buf when it fits in cap
 * bytes (*klen its length), else *klen is SIZE_MAX (it matches no key the caller knows). */
int vf_json_key(vf_json *c, const uint8_t **raw, size_t *raw_len, bool *escaped, char *buf, size_t cap,
                size_t *klen);

/* ---- UTF-8 and member iteration (vf_json_read.c) ----------------------------------------------- */

/* Strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF). Returns the offset of the first bad byte
 * or len when valid; *has_nul tells whether a NUL byte occurs (before the first bad byte, or anywhere
 * when valid). */
size_t vf_utf8_invalid_at(const uint8_t *s, size_t len, bool *has_nul);
/* The scanner validates UTF-8 as it goes (only strings may hold non-ASCII bytes), so a reader parses
 * first and, only when that failed with status rc, calls this to report what a check of the whole
 * input before parsing would have: "WHAT is not valid UTF-8 (byte N of LEN)" with `code` when
 * s[0..len) is not valid UTF-8 (the first bad byte anywhere), else rc and err unchanged. */
int vf_json_failed_input(const uint8_t *s, size_t len, const char *file, const char *what, int code,
                         int rc, vf_error *err);
/* Decodes one character of s[0..n) (n >= 1) into *cp, UINT32_MAX when the bytes are not valid
 * UTF-8; returns the bytes consumed (>= 1: a bad lead byte, or a lead byte with the continuation
 * bytes that fit, counts as one replacement). The public vf_utf8_char (vf_report.h) is this. */
size_t vf_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp);
/* s as a JSON string literal, quotes included: '"', '\\' and control characters escaped, each
 * invalid UTF-8 sequence (as vf_utf8_decode splits them) written \ufffd, so that the output is valid
 * UTF-8 for any strict reader whatever a file name holds. malloc'd; NULL when out of memory. */
char *vf_json_quote(const char *s);

/* The members of one object, walked without a loop of the caller's own:
 *     vf_json_iter it = {.c = cursor};              // cursor before the '{' (whitespace allowed)
 *     int r;
 *     while ((r = vf_json_iter_next(&it)) > 0) {    // it.raw/raw_len/escaped: the key as written;
 *         ... consume the value (vf_json_skip, vf_json_string, vf_json_number, ...) ...
 *     }                                             // r == 0: the closing '}' was consumed
 *     if (r < 0) return r;                          // a syntax error, recorded in the cursor
 * With decode set, the key is also decoded into key (klen its length; SIZE_MAX when it does not fit
 * in sizeof key, then it matches no key the caller knows). */
#define VF_JSON_KEY_MAX 64
typedef struct vf_json_iter {
    vf_json *c;
    bool decode;
    bool started;
    const uint8_t *raw;
    size_t raw_len;
    bool escaped;
    char key[VF_JSON_KEY_MAX];
    size_t klen;
} vf_json_iter;
int vf_json_iter_next(vf_json_iter *it);

/* ---- the thin tree (vf_json_tree.c) ------------------------------------------------------------ */

typedef enum vf_jtype {
    VF_JNULL,
    VF_JFALSE,
    VF_JTRUE,
    VF_JNUMBER,
    VF_JSTRING,
    VF_JARRAY,
    VF_JOBJECT
} vf_jtype;

typedef struct vf_jnode {
    const char *key;  /* member of an object: its key, decoded and NUL-terminated; else NULL */
    const char *str;  /* STRING: decoded and NUL-terminated; NUMBER: its text; else NULL */
    uint64_t u;       /* NUMBER with is_int: the magnitude */
    uint32_t len;     /* STRING: decoded length in bytes */
    uint32_t child;   /* ARRAY, OBJECT: first member as node index + 1 (0: empty) */
    uint32_t next;    /* next member of the enclosing container as node index + 1 (0: last) */
    uint32_t count;   /* ARRAY, OBJECT: number of members */
    uint8_t type;     /* vf_jtype */
    bool is_int;      /* NUMBER: an exact integer of magnitude <= 2^53 (in u) */
    bool neg;         /* NUMBER: below zero */
    bool nul;         /* STRING or key: holds U+0000 (str and key then end early) */
} vf_jnode;

typedef struct vf_jdoc vf_jdoc;

/* Reads len untrusted bytes as one JSON document into *out under the rules above. Errors name
 * `file`, have status `code` and start with `what`: "WHAT is not valid UTF-8 (byte N of LEN)",
 * "WHAT is not valid JSON (near byte N)", or (tensor field = the key) "key \"K\" appears twice";
 * VF_ERR_NOMEM. Memory is bounded by the input: at most one node per input byte. *out is NULL on
 * failure. */
int vf_jdoc_parse(const uint8_t *s, size_t len, const char *file, const char *what, int code,
                  vf_jdoc **out, vf_error *err);
void vf_jdoc_free(vf_jdoc *d); /* NULL-safe */
const vf_jnode *vf_jdoc_root(const vf_jdoc *d);
/* The first member of an array or object, or NULL (empty, or n is not a container). */
const vf_jnode *vf_jdoc_first(const vf_jdoc *d, const vf_jnode *n);
/* The member after n in its container, or NULL. */
const vf_jnode *vf_jdoc_next(const vf_jdoc *d, const vf_jnode *n);
/* Member `key` of object o (keys are unique), or NULL when absent or o is not an object (o may be
 * NULL). */
const vf_jnode *vf_jdoc_get(const vf_jdoc *d, const vf_jnode *o, const char *key);
/* The integer rule: true, with *out, when n is a number that is an exact integer in [0, 2^53]. */
bool vf_jnode_u64(const vf_jnode *n, uint64_t *out);
/* A finite number (as strtod reads the text in the C locale); false otherwise. */
bool vf_jnode_double(const vf_jnode *n, double *out);
/* Type tests; NULL is none of them. */
bool vf_jnode_is(const vf_jnode *n, vf_jtype t);
/* The string of a STRING node without U+0000, else NULL. */
const char *vf_jnode_string(const vf_jnode *n);

#endif
