/* vf_findings.c - an append-only list of one-line audit findings. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "vramfit/vf_parser.h"

struct vf_findings {
    vf_finding *items;
    size_t count, cap;
};

vf_findings *vf_findings_new(void)
{
    return calloc(1, sizeof(vf_findings));
}

void vf_findings_free(vf_findings *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->count; i++)
        free((char *)f->items[i].message);
    free(f->items);
    free(f);
}

int vf_findings_add(vf_findings *f, vf_severity sev, const char *fmt, ...)
{
    if (f->count == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        vf_finding *items = realloc(f->items, cap * sizeof *items);
        if (!items)
            return VF_ERR_NOMEM;
        f->items = items;
        f->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    char *msg = malloc(512);
    if (msg)
        vsnprintf(msg, 512, fmt, ap);
    va_end(ap);
    if (!msg)
        return VF_ERR_NOMEM;
    f->items[f->count].severity = sev;
    f->items[f->count].message = msg;
    f->count++;
    return VF_OK;
}

size_t vf_findings_count(const vf_findings *f)
{
    return f ? f->count : 0;
}

const vf_finding *vf_findings_get(const vf_findings *f, size_t i)
{
    return f && i < f->count ? &f->items[i] : NULL;
}
