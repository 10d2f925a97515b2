/* vf_json.h - strict JSON scanner shared by the safetensors header and index parsers (private to the
 * parser layer). A vf_json cursor walks bytes that are valid UTF-8 without NUL; every function
 * validates what it consumes and, on a syntax error, records it in err (code `code`, message
 * "WHAT is not valid JSON (near byte N)"), sets failed and returns `code`. */
#ifndef VRAMFIT_VF_JSON_H
#define VRAMFIT_VF_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vramfit/vf_error.h"

#define VF_JSON_MAX_DEPTH 1000 /* as cJSON's CJSON_NESTING_LIMIT */

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

#endif
