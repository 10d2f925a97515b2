/* vf_name_scan.c - a fixed set of substring patterns found in one pass over a name: an Aho-Corasick
 * automaton (vf_estimator_internal.h). The family detection and the Training Hub family rule ask
 * up to ~30 patterns of every tensor name; this reads each name once instead of once per pattern. */
#include <string.h>

#include "vf_common_internal.h"
#include "vf_estimator_internal.h"

void vf_scan_init(vf_scan *s)
{
    memset(s, 0, sizeof *s);
    s->states = 1; /* the root */
    s->classes = 1; /* class 0: every byte no pattern holds */
}

/* The class of byte c, given one when c is new; 0 when the classes are used up. */
static unsigned class_of(vf_scan *s, unsigned char c)
{
    if (s->cls[c] == 0 && s->classes < VF_SCAN_CLASSES_MAX)
        s->cls[c] = (uint8_t)s->classes++;
    return s->cls[c];
}

int vf_scan_add(vf_scan *s, const char *p)
{
    size_t n = strlen(p), st = 0;
    if (n == 0 || n > UINT8_MAX)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned k = class_of(s, (unsigned char)p[i]);
        if (k == 0)
            return -1;
        if (s->next[st][k] == 0) {
            if (s->states == VF_SCAN_STATES_MAX)
                return -1;
            s->next[st][k] = (uint8_t)s->states++;
        }
        st = s->next[st][k];
    }
    if (s->out[st]) /* before vf_scan_finish, out holds the one pattern ending here */
        return __builtin_ctzll(s->out[st]);
    if (s->patterns == VF_SCAN_PATTERNS_MAX)
        return -1;
    s->out[st] = 1ull << s->patterns;
    s->len[s->patterns] = (uint8_t)n;
    return (int)s->patterns++;
}

/* Breadth first: each state's failure link (its longest proper suffix that is a trie state) and
 * every missing transition taken from it, so that a scan is one table step per byte. */
void vf_scan_finish(vf_scan *s)
{
    uint8_t fail[VF_SCAN_STATES_MAX] = {0}, queue[VF_SCAN_STATES_MAX];
    size_t head = 0, tail = 0;
    for (size_t c = 0; c < s->classes; c++)
        if (s->next[0][c])
            queue[tail++] = s->next[0][c];
    while (head < tail) {
        size_t u = queue[head++];
        for (size_t c = 0; c < s->classes; c++) {
            uint8_t v = s->next[u][c];
            if (!v) {
                s->next[u][c] = s->next[fail[u]][c];
                continue;
            }
            fail[v] = s->next[fail[u]][c];
            s->out[v] |= s->out[fail[v]];
            queue[tail++] = v;
        }
    }
}

/* One step: the state after byte i of name; the patterns ending there into *a and *b. */
static size_t step(const vf_scan *s, const char *name, size_t i, size_t st, uint64_t *a, uint64_t *b)
{
    st = s->next[st][s->cls[(unsigned char)name[i]]];
    uint64_t o = s->out[st];
    if (!o)
        return st;
    *a |= o;
    if (name[i + 1] != '\0' && name[i + 1] != '.')
        return st;
    for (; o; o &= o - 1) { /* the occurrences ending here: which start on a boundary */
        size_t k = (size_t)__builtin_ctzll(o), start = i + 1 - s->len[k];
        if (start == 0 || name[start - 1] == '.')
            *b |= 1ull << k;
    }
    return st;
}

void vf_scan_cursor_init(vf_scan_cursor *c, const vf_scan *s)
{
    memset(c, 0, sizeof *c);
    c->s = s;
}

void vf_scan_next(vf_scan_cursor *c, const char *name, uint64_t *any, uint64_t *bounded)
{
    size_t n = strlen(name), from = 0, st = 0;
    uint64_t a = 0, b = 0;
    if (c->prev) { /* resume before the last '.' both names share (the byte after it too) */
        size_t l = vf_common_prefix(name, c->prev, n < c->prev_len ? n : c->prev_len);
        while (c->marks && c->mark[c->marks - 1].at >= l)
            c->marks--;
        if (c->marks) { /* taken off: the scan below records it again */
            const struct vf_scan_mark *k = &c->mark[--c->marks];
            from = k->at, st = k->state, a = k->any, b = k->bounded;
        }
    }
    for (size_t i = from; i < n; i++) {
        if (name[i] == '.' && c->marks < VF_SCAN_MARKS)
            c->mark[c->marks++] = (struct vf_scan_mark){i, st, a, b};
        st = step(c->s, name, i, st, &a, &b);
    }
    c->prev = name;
    c->prev_len = n;
    *any = a;
    *bounded = b;
}
