/* vf_error.c - status names and the caller-owned error record. */
#include <stdio.h>
#include <string.h>

#include "vramfit/vf_error.h"

/* Copies src into dst (size bytes), truncating, and replaces control characters by '?'. */
static void copy_line(char *dst, size_t size, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < size; i++)
        dst[i] = ((unsigned char)src[i] < 0x20 || src[i] == 0x7f) ? '?' : src[i];
    dst[i] = '\0';
}

int vf_error_setv(vf_error *err, int code, const char *file, const char *tensor, const char *fmt,
                  va_list ap)
{
    if (!err)
        return code;
    char msg[VF_ERROR_MESSAGE_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    err->code = code;
    if (file)
        copy_line(err->file, sizeof err->file, file);
    copy_line(err->tensor, sizeof err->tensor, tensor ? tensor : "");
    copy_line(err->message, sizeof err->message, msg);
    return code;
}

int vf_error_set(vf_error *err, int code, const char *file, const char *tensor, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vf_error_setv(err, code, file, tensor, fmt, ap);
    va_end(ap);
    return code;
}

#define VF_X_NAME(name, value, cls, doc)                                                           \
    case name:                                                                                     \
        return #name;
const char *vf_status_name(int code)
{
    switch (code) {
        VF_STATUS_LIST(VF_X_NAME)
    default:
        return "VF_ERR_UNKNOWN";
    }
}
#undef VF_X_NAME

#define VF_X_CLASS(name, value, cls, doc)                                                          \
    case name:                                                                                     \
        return cls;
char vf_status_class(int code)
{
    switch (code) {
        VF_STATUS_LIST(VF_X_CLASS)
    default:
        return '?';
    }
}
#undef VF_X_CLASS

const char *vf_error_format(const vf_error *err, char *buf, size_t size)
{
    if (!buf || size == 0)
        return buf;
    buf[0] = '\0';
    if (!err)
        return buf;
    size_t n = 0;
    if (err->file[0])
        n += (size_t)snprintf(buf + n, size - n, "%s: ", err->file);
    if (n < size && err->tensor[0])
        n += (size_t)snprintf(buf + n, size - n, "tensor '%s': ", err->tensor);
    if (n < size)
        snprintf(buf + n, size - n, "%s", err->message[0] ? err->message : vf_status_name(err->code));
    return buf;
}
