/* vf_report_internal.h - what the document writers of the report layer share (private). */
#ifndef VF_REPORT_INTERNAL_H
#define VF_REPORT_INTERNAL_H

#include "vramfit/vf_report.h"

/* The end of a document function: hands b's text to the caller as *out (b is emptied), or frees b
 * and returns VF_ERR_NOMEM when it is incomplete. */
int vf_report_finish(vf_buf *b, char **out, vf_error *err);

/* VF_ERR_USAGE for a NULL argument of a document function (out, when not NULL, set to NULL). */
int vf_report_null_arg(const char *fn, char **out, vf_error *err);

#endif
