/* vf_adapt_match.c - rank_pattern parsing and the small name/enum helpers of vf_adapters.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vramfit/vf_adapters.h"
#include "vramfit/vf_checked.h"

const char *vf_lora_bias_name(vf_lora_bias b)
{
    switch (b) {
    case VF_LORA_BIAS_NONE:
        return "none";
    case VF_LORA_BIAS_ALL:
        return "all";
    case VF_LORA_BIAS_LORA_ONLY:
        return "lora_only";
    }
    return NULL;
}

bool vf_lora_bias_from_name(const char *s, vf_lora_bias *out)
{
    static const vf_lora_bias all[] = {VF_LORA_BIAS_NONE, VF_LORA_BIAS_ALL, VF_LORA_BIAS_LORA_ONLY};
    for (size_t i = 0; s && i < sizeof all / sizeof all[0]; i++)
        if (strcmp(s, vf_lora_bias_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    return false;
}

const char *vf_adapter_kind_name(vf_adapter_kind k)
{
    static const char *const names[] = {"lora", "lora_embedding", "osft", "modules_to_save", "bias"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

bool vf_adapter_kind_is_target(vf_adapter_kind k)
{
    return k == VF_ADAPTER_KIND_LORA || k == VF_ADAPTER_KIND_LORA_EMBED || k == VF_ADAPTER_KIND_OSFT;
}

const char *vf_audit_kind_name(vf_audit_kind k)
{
    static const char *const names[] = {"lora", "lora_embedding", "dora_magnitude", "modules_to_save",
                                        "bias"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

/* Length of the entry starting at s: up to the first "=<digits>" followed by ',' or the end.
 * *eq receives the offset of that '='; returns 0 when there is none. */
static size_t rule_extent(const char *s, size_t *eq)
{
    for (const char *p = strchr(s, '='); p; p = strchr(p + 1, '=')) {
        size_t d = strspn(p + 1, "0123456789");
        if (d > 0 && (p[1 + d] == ',' || p[1 + d] == '\0')) {
            *eq = (size_t)(p - s);
            return (size_t)(p - s) + 1 + d;
        }
    }
    return 0;
}

/* Parses the decimal digits s[0..n) into *out (1..VF_ADAPTER_RANK_MAX); false when out of range. */
static bool parse_rank(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        if (vf_mul_u64_overflow(&v, v, 10) || vf_add_u64_overflow(&v, v, (uint64_t)(s[i] - '0')))
            return false;
    if (v == 0 || v > VF_ADAPTER_RANK_MAX)
        return false;
    *out = v;
    return true;
}

int vf_rank_rules_parse(const char *s, vf_rank_rule **rules, size_t *count, vf_error *err)
{
    *rules = NULL;
    *count = 0;
    if (!s || !*s)
        return VF_OK;
    size_t n = 0, len = strlen(s);
    for (const char *p = s; *p;) {
        size_t eq = 0, ext = rule_extent(p, &eq);
        if (ext == 0 || eq == 0)
            return vf_error_set(err, VF_ERR_USAGE, NULL, "--rank-pattern",
                                "expected 'REGEX=RANK[,REGEX=RANK...]' at '%s'", p);
        n++;
        p += ext + (p[ext] == ',');
    }
    /* One block: the rules, then a copy of s whose '=' and ',' separators become NULs. */
    vf_rank_rule *r = malloc(n * sizeof *r + len + 1);
    if (!r)
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    char *text = (char *)(r + n);
    memcpy(text, s, len + 1);
    size_t i = 0;
    for (char *p = text; *p; i++) {
        size_t eq = 0, ext = rule_extent(p, &eq);
        bool more = p[ext] == ',';
        r[i].pattern = p;
        if (!parse_rank(p + eq + 1, ext - eq - 1, &r[i].rank)) {
            vf_error_set(err, VF_ERR_USAGE, NULL, "--rank-pattern", "rank of '%.*s' must be 1..%llu",
                         (int)eq, p, (unsigned long long)VF_ADAPTER_RANK_MAX);
            free(r);
            return VF_ERR_USAGE;
        }
        p[eq] = '\0';
        p += ext + more;
    }
    *rules = r;
    *count = n;
    return VF_OK;
}

/* ---- PEFT name matching ------------------------------------------------------------------------ */

bool vf_peft_match(const char *module, const char *entry)
{
    size_t n = strlen(module), k = strlen(entry);
    return k > 0 && k <= n && strcmp(module + n - k, entry) == 0 && (k == n || module[n - k - 1] == '.');
}

bool vf_peft_list_match(const char *module, const char *list)
{
    for (const char *p = list; p && *p;) {
        size_t k = strcspn(p, ","), n = strlen(module);
        if (k > 0 && k <= n && strncmp(module + n - k, p, k) == 0 && (k == n || module[n - k - 1] == '.'))
            return true;
        p += k + (p[k] == ',');
    }
    return false;
}

