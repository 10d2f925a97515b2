/* vf_atomic.c - whole-file writes that readers never see half done. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vramfit/vf_parser.h"

static int write_all(int fd, const unsigned char *buf, size_t len, const char *path, vf_error *err)
{
    while (len) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return vf_error_set(err, VF_ERR_IO, path, NULL, "cannot write: %s",
                                w < 0 ? strerror(errno) : "no progress");
        buf += w;
        len -= (size_t)w;
    }
    return VF_OK;
}

/* Writes, makes world-readable (as a normal file would be), syncs and closes fd. */
static int fill_temp(int fd, const void *data, size_t len, const char *path, vf_error *err)
{
    int rc = write_all(fd, data, len, path, err);
    if (rc == VF_OK && fchmod(fd, 0644) != 0)
        rc = vf_error_set(err, VF_ERR_IO, path, NULL, "cannot set permissions: %s", strerror(errno));
    if (rc == VF_OK && fsync(fd) != 0)
        rc = vf_error_set(err, VF_ERR_IO, path, NULL, "cannot sync: %s", strerror(errno));
    if (close(fd) != 0 && rc == VF_OK)
        rc = vf_error_set(err, VF_ERR_IO, path, NULL, "cannot close: %s", strerror(errno));
    return rc;
}

int vf_write_file_atomic(const char *path, const void *data, size_t len, vf_error *err)
{
    if (!path || !*path)
        return vf_error_set(err, VF_ERR_USAGE, NULL, NULL, "no output file name given");
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp)
        return vf_error_set(err, VF_ERR_NOMEM, path, NULL, "out of memory");
    snprintf(tmp, n, "%s.tmp.XXXXXX", path);
    int rc = VF_OK, fd = mkstemp(tmp);
    if (fd < 0)
        rc = vf_error_set(err, VF_ERR_IO, path, NULL, "cannot create a temporary file beside it: %s",
                          strerror(errno));
    else
        rc = fill_temp(fd, data, len, path, err);
    if (fd >= 0 && rc == VF_OK && rename(tmp, path) != 0)
        rc = vf_error_set(err, VF_ERR_IO, path, NULL, "cannot rename the temporary file onto it: %s",
                          strerror(errno));
    if (fd >= 0 && rc != VF_OK)
        unlink(tmp);
    free(tmp);
    return rc;
}
