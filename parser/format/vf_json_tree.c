/* vf_json_tree.c - a thin tree over the strict scanner, for the small documents that are read as a
 * whole (config.json, adapter_config.json, verify manifests): the same UTF-8, syntax, depth and
 * integer rules as the streaming readers, and duplicate keys refused in every object.
 *
 * Nodes live in one array (at most one per input byte), strings in one arena; members are linked by
 * index, so the array may grow while the tree is built. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_common_internal.h"
#include "vf_json.h"

struct vf_jdoc {
    vf_jnode *nodes; /* nodes[0] is the root */
    size_t count, cap;
    vf_arena strings;
};

typedef struct tree_ctx {
    vf_json j;
    vf_jdoc *d;
} tree_ctx;

static int tree_nomem(tree_ctx *t)
{
    t->j.failed = true;
    return vf_error_set(t->j.err, VF_ERR_NOMEM, t->j.file, NULL, "out of memory");
}

/* A new zeroed node; its index in *at. */
static int new_node(tree_ctx *t, vf_jtype type, uint32_t *at)
{
    vf_jdoc *d = t->d;
    if (d->count == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 64;
        vf_jnode *n = cap < UINT32_MAX ? realloc(d->nodes, cap * sizeof *n) : NULL;
        if (!n)
            return tree_nomem(t);
        d->nodes = n;
        d->cap = cap;
    }
    *at = (uint32_t)d->count;
    d->nodes[d->count++] = (vf_jnode){.type = (uint8_t)type};
    return VF_OK;
}

/* Decoded raw string bytes in the arena. */
static int own(tree_ctx *t, const uint8_t *raw, size_t n, bool escaped, const char **out, uint32_t *len,
               bool *nul)
{
    uint8_t *dst = vf_arena_alloc_raw(&t->d->strings, n + 1);
    if (!dst)
        return tree_nomem(t);
    size_t k = n;
    *nul = false;
    if (escaped) {
        k = vf_json_decode(raw, n, dst, nul);
    } else {
        memcpy(dst, raw, n);
        dst[n] = '\0';
    }
    *out = (const char *)dst;
    if (len)
        *len = (uint32_t)k;
    return VF_OK;
}

static int tree_value(tree_ctx *t, unsigned depth, uint32_t *at);

static int cmp_key(const void *a, const void *b)
{
    const vf_jnode *x = *(const vf_jnode *const *)a, *y = *(const vf_jnode *const *)b;
    return strcmp(x->key, y->key);
}

/* Refuses an object whose members repeat a key (keys holding U+0000 compare by their prefix, which
 * can only refuse more). */
static int check_unique(tree_ctx *t, uint32_t obj)
{
    const vf_jdoc *d = t->d;
    size_t n = d->nodes[obj].count;
    if (n < 2)
        return VF_OK;
    const vf_jnode **v = malloc(n * sizeof *v);
    if (!v)
        return tree_nomem(t);
    size_t k = 0;
    for (uint32_t i = d->nodes[obj].child; i; i = d->nodes[i - 1].next)
        v[k++] = &d->nodes[i - 1];
    qsort(v, k, sizeof *v, cmp_key);
    int rc = VF_OK;
    for (size_t i = 1; i < k && rc == VF_OK; i++)
        if (strcmp(v[i - 1]->key, v[i]->key) == 0) {
            t->j.failed = true;
            rc = vf_error_set(t->j.err, t->j.code, t->j.file, v[i]->key, "key \"%.64s\" appears twice",
                              v[i]->key);
        }
    free(v);
    return rc;
}

/* Links child `c` after `last` (0: first member) of container `at`. */
static void link_member(vf_jdoc *d, uint32_t at, uint32_t *last, uint32_t c)
{
    if (*last)
        d->nodes[*last - 1].next = c + 1;
    else
        d->nodes[at].child = c + 1;
    *last = c + 1;
    d->nodes[at].count++;
}

static int tree_object(tree_ctx *t, unsigned depth, uint32_t at)
{
    vf_json_iter it = {.c = &t->j};
    uint32_t last = 0;
    int r;
    while ((r = vf_json_iter_next(&it)) > 0) {
        const char *key = NULL;
        bool nul;
        int rc = own(t, it.raw, it.raw_len, it.escaped, &key, NULL, &nul);
        uint32_t c = 0;
        if (rc == VF_OK)
            rc = tree_value(t, depth + 1, &c);
        if (rc != VF_OK)
            return rc;
        t->d->nodes[c].key = key;
        t->d->nodes[c].nul |= nul;
        link_member(t->d, at, &last, c);
    }
    return r < 0 ? r : check_unique(t, at);
}

static int tree_array(tree_ctx *t, unsigned depth, uint32_t at)
{
    vf_json *j = &t->j;
    j->p++; /* '[' */
    if (vf_json_eat(j, ']'))
        return VF_OK;
    uint32_t last = 0;
    do {
        uint32_t c = 0;
        int rc = tree_value(t, depth + 1, &c);
        if (rc != VF_OK)
            return rc;
        link_member(t->d, at, &last, c);
    } while (vf_json_eat(j, ','));
    return vf_json_eat(j, ']') ? VF_OK : vf_json_fail(j);
}

/* A number: its text kept, and the integer rule applied to its magnitude. */
static int tree_number(tree_ctx *t, uint32_t at)
{
    vf_json *j = &t->j;
    const uint8_t *start = j->p;
    uint64_t v = 0;
    bool ok = false;
    int rc = vf_json_number(j, &v, &ok);
    if (rc != VF_OK)
        return rc;
    bool neg = *start == '-';
    if (neg) { /* the magnitude: the same digits without the sign */
        vf_json m = *j;
        m.p = start + 1;
        rc = vf_json_number(&m, &v, &ok);
        if (rc != VF_OK)
            return rc;
    }
    vf_jnode *n = &t->d->nodes[at];
    n->is_int = ok;
    n->neg = neg && !(ok && v == 0); /* -0 is 0 */
    n->u = ok ? v : 0;
    bool nul;
    return own(t, start, (size_t)(j->p - start), false, &n->str, NULL, &nul);
}

static int tree_value(tree_ctx *t, unsigned depth, uint32_t *at)
{
    vf_json *j = &t->j;
    vf_json_ws(j);
    if (j->p >= j->end)
        return vf_json_fail(j);
    uint8_t ch = *j->p;
    vf_jtype type = ch == '{' ? VF_JOBJECT : ch == '[' ? VF_JARRAY : ch == '"' ? VF_JSTRING
                    : ch == 't' ? VF_JTRUE : ch == 'f' ? VF_JFALSE : ch == 'n' ? VF_JNULL : VF_JNUMBER;
    if ((type == VF_JOBJECT || type == VF_JARRAY) && depth >= VF_JSON_MAX_DEPTH)
        return vf_json_fail(j);
    int rc = new_node(t, type, at);
    if (rc != VF_OK)
        return rc;
    switch (type) {
    case VF_JOBJECT: return tree_object(t, depth, *at);
    case VF_JARRAY: return tree_array(t, depth, *at);
    case VF_JSTRING: {
        const uint8_t *raw;
        size_t n;
        bool esc, nul;
        if ((rc = vf_json_string(j, &raw, &n, &esc)) != VF_OK)
            return rc;
        vf_jnode *node = &t->d->nodes[*at];
        rc = own(t, raw, n, esc, &node->str, &node->len, &nul);
        node->nul = nul;
        return rc;
    }
    case VF_JTRUE: return vf_json_word(j, "true", 4) ? VF_OK : vf_json_fail(j);
    case VF_JFALSE: return vf_json_word(j, "false", 5) ? VF_OK : vf_json_fail(j);
    case VF_JNULL: return vf_json_word(j, "null", 4) ? VF_OK : vf_json_fail(j);
    default: return tree_number(t, *at);
    }
}

void vf_jdoc_free(vf_jdoc *d)
{
    if (!d)
        return;
    free(d->nodes);
    vf_arena_free(&d->strings);
    free(d);
}

int vf_jdoc_parse(const uint8_t *s, size_t len, const char *file, const char *what, int code,
                  vf_jdoc **out, vf_error *err)
{
    *out = NULL;
    if (!s)
        s = (const uint8_t *)"";
    vf_jdoc *d = calloc(1, sizeof *d);
    if (!d)
        return vf_error_set(err, VF_ERR_NOMEM, file, NULL, "out of memory");
    vf_arena_init(&d->strings, len < 65536 ? len + 64 : 65536);
    tree_ctx t = {.j = {s, s, s + len, file, what, code, err, false}, .d = d};
    uint32_t root = 0;
    int rc = tree_value(&t, 0, &root);
    if (rc == VF_OK) {
        vf_json_ws(&t.j);
        if (t.j.p != t.j.end)
            rc = vf_json_fail(&t.j);
    }
    if (rc != VF_OK) {
        vf_jdoc_free(d);
        return rc == VF_ERR_NOMEM ? rc : vf_json_failed_input(s, len, file, what, code, rc, err);
    }
    *out = d;
    return VF_OK;
}

const vf_jnode *vf_jdoc_root(const vf_jdoc *d)
{
    return d && d->count ? &d->nodes[0] : NULL;
}

const vf_jnode *vf_jdoc_first(const vf_jdoc *d, const vf_jnode *n)
{
    return n && (n->type == VF_JARRAY || n->type == VF_JOBJECT) && n->child ? &d->nodes[n->child - 1] : NULL;
}

const vf_jnode *vf_jdoc_next(const vf_jdoc *d, const vf_jnode *n)
{
    return n && n->next ? &d->nodes[n->next - 1] : NULL;
}

const vf_jnode *vf_jdoc_get(const vf_jdoc *d, const vf_jnode *o, const char *key)
{
    if (!o || o->type != VF_JOBJECT)
        return NULL;
    for (const vf_jnode *m = vf_jdoc_first(d, o); m; m = vf_jdoc_next(d, m))
        if (!m->nul && strcmp(m->key, key) == 0)
            return m;
    return NULL;
}

bool vf_jnode_u64(const vf_jnode *n, uint64_t *out)
{
    if (!n || n->type != VF_JNUMBER || !n->is_int || n->neg)
        return false;
    *out = n->u;
    return true;
}

bool vf_jnode_double(const vf_jnode *n, double *out)
{
    if (!n || n->type != VF_JNUMBER)
        return false;
    char *end = NULL;
    double v = strtod(n->str, &end);
    if (!end || *end || !(v - v == 0)) /* v - v is NaN for an infinity */
        return false;
    *out = v;
    return true;
}

bool vf_jnode_is(const vf_jnode *n, vf_jtype t)
{
    return n && n->type == t;
}

const char *vf_jnode_string(const vf_jnode *n)
{
    return n && n->type == VF_JSTRING && !n->nul ? n->str : NULL;
}
