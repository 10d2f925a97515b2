/* vf_regex.c - PEFT's module-name regular expressions, with PEFT's semantics and a budget.
 *
 * PEFT compiles target_modules (given as a string) and the keys of rank_pattern / alpha_pattern
 * with Python's `re`: check_target_module_exists uses re.fullmatch(target_modules, key), and
 * get_pattern_key re.match(rf"(.*\.)?({key})$", key_to_match) (peft/tuners/tuners_utils.py,
 * peft/utils/other.py). PCRE2 speaks that dialect ((?:...), (?P<name>...), \d, \w, lookarounds,
 * inline flags); with PCRE2_UCP, \d \w \s are Unicode-aware as in Python 3. Known differences: \Z
 * is PCRE2's "end or before a final newline" (Python's \Z is PCRE2's \z); module names never hold
 * a newline, so it does not matter here.
 *
 * A hostile pattern must not cost more than a fraction of a second or a few MiB: patterns are at
 * most VF_REGEX_MAX_PATTERN bytes and 64 nested parentheses; a match stops after VF_REGEX_MATCH_LIMIT
 * backtracking steps, VF_REGEX_DEPTH_LIMIT nested backtracks or VF_REGEX_HEAP_KIB of heap, and that
 * is an error (VF_ERR_UNSUPPORTED), never a silent "no match". No JIT: the limits then hold exactly. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vramfit/vf_adapters.h"

#define VF_REGEX_MAX_PATTERN 1024
#define VF_REGEX_MATCH_LIMIT 200000
#define VF_REGEX_DEPTH_LIMIT 2000
#define VF_REGEX_HEAP_KIB 4096

struct vf_name_regex {
    pcre2_code *code;
    pcre2_match_context *mctx;
    pcre2_match_data *md; /* reused by every match (so a regex serves one thread at a time) */
    char *pattern; /* as given, for messages */
};

/* PEFT's source: the pattern itself (fullmatch), or (.*\.)?(PATTERN)$ for pattern keys. */
static char *regex_source(const char *pattern, bool suffix)
{
    size_t n = strlen(pattern) + 16;
    char *src = malloc(n);
    if (src)
        snprintf(src, n, suffix ? "(.*\\.)?(%s)$" : "%s", pattern);
    return src;
}

static int compile(vf_name_regex *r, const char *pattern, bool suffix, vf_error *err)
{
    if (strlen(pattern) > VF_REGEX_MAX_PATTERN)
        return vf_error_set(err, VF_ERR_USAGE, NULL, NULL,
                            "regular expression of %zu bytes is longer than the %d accepted",
                            strlen(pattern), VF_REGEX_MAX_PATTERN);
    char *src = regex_source(pattern, suffix);
    pcre2_compile_context *cctx = pcre2_compile_context_create(NULL);
    if (!src || !cctx) {
        free(src);
        pcre2_compile_context_free(cctx);
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    pcre2_set_parens_nest_limit(cctx, 64);
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_ANCHORED |
                    (suffix ? 0 : PCRE2_ENDANCHORED);
    int code = 0;
    PCRE2_SIZE at = 0;
    r->code = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED, opts, &code, &at, cctx);
    pcre2_compile_context_free(cctx);
    free(src);
    if (!r->code) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        size_t shift = suffix ? strlen("(.*\\.)?(") : 0, pos = at > shift ? at - shift : 0;
        return vf_error_set(err, VF_ERR_USAGE, NULL, NULL,
                            "bad regular expression '%s' at character %zu: %s", pattern,
                            pos > strlen(pattern) ? strlen(pattern) : pos, (const char *)msg);
    }
    return VF_OK;
}

int vf_name_regex_new(const char *pattern, bool suffix, vf_name_regex **out, vf_error *err)
{
    *out = NULL;
    if (!pattern)
        return vf_error_set(err, VF_ERR_USAGE, NULL, NULL, "no regular expression");
    vf_name_regex *r = calloc(1, sizeof *r);
    if (!r || !(r->pattern = strdup(pattern)) || !(r->mctx = pcre2_match_context_create(NULL)) ||
        !(r->md = pcre2_match_data_create(1, NULL))) {
        vf_name_regex_free(r);
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    pcre2_set_match_limit(r->mctx, VF_REGEX_MATCH_LIMIT);
    pcre2_set_depth_limit(r->mctx, VF_REGEX_DEPTH_LIMIT);
    pcre2_set_heap_limit(r->mctx, VF_REGEX_HEAP_KIB);
    int rc = compile(r, pattern, suffix, err);
    if (rc != VF_OK) {
        vf_name_regex_free(r);
        return rc;
    }
    *out = r;
    return VF_OK;
}

int vf_name_regex_match(const vf_name_regex *re, const char *name, vf_error *err)
{
    if (!re || !name)
        return 0;
    int rc = pcre2_match(re->code, (PCRE2_SPTR)name, strlen(name), 0, 0, re->md, re->mctx);
    if (rc >= 0)
        return 1;
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    PCRE2_UCHAR msg[160];
    pcre2_get_error_message(rc, msg, sizeof msg);
    bool budget = rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT;
    return vf_error_set(err, VF_ERR_UNSUPPORTED, NULL, NULL, "regular expression '%s' %s on '%s' (%s)",
                        re->pattern, budget ? "exceeds its matching budget" : "failed to match", name,
                        (const char *)msg);
}

void vf_name_regex_free(vf_name_regex *re)
{
    if (!re)
        return;
    pcre2_code_free(re->code);
    pcre2_match_context_free(re->mctx);
    pcre2_match_data_free(re->md);
    free(re->pattern);
    free(re);
}
