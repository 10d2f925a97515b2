/* vf_fuzz_util.c - invariants shared by the harnesses (see vf_fuzz.h). */
#include <string.h>

#include "vf_fuzz.h"

void vf_fuzz_error_init(vf_error *err)
{
    memset(err, 0x5a, sizeof *err);
    err->code = 12345;
}

static void check_terminated(const char *s, size_t cap)
{
    VF_FUZZ_CHECK(memchr(s, '\0', cap) != NULL);
}

void vf_fuzz_check_error(int rc, const vf_error *err, const char *classes)
{
    VF_FUZZ_CHECK(rc < 0);
    VF_FUZZ_CHECK(strcmp(vf_status_name(rc), "VF_ERR_UNKNOWN") != 0);
    VF_FUZZ_CHECK(strchr(classes, vf_status_class(rc)) != NULL);
    VF_FUZZ_CHECK(err->code == rc);
    check_terminated(err->file, sizeof err->file);
    check_terminated(err->tensor, sizeof err->tensor);
    check_terminated(err->message, sizeof err->message);
    VF_FUZZ_CHECK(err->message[0] != '\0');
    char line[VF_ERROR_FILE_MAX + VF_ERROR_TENSOR_MAX + VF_ERROR_MESSAGE_MAX + 32];
    vf_error_format(err, line, sizeof line);
    VF_FUZZ_CHECK(strchr(line, '\n') == NULL && strchr(line, '\r') == NULL);
}
