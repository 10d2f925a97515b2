/* vf_atomic.c - output files: never one of the inputs, never half written, never left behind by a
 * command that failed. A regular file (or a new one) is written to a temporary file beside it and
 * renamed onto it at commit; a character device or a FIFO is written through at commit; anything
 * else (directory, socket, block device, dangling symlink) is refused. */
#define _DEFAULT_SOURCE /* realpath */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vf_checkpoint_internal.h"

struct vf_output {
    char *target;  /* the file renamed onto (symlinks resolved); NULL when written through */
    char *temp;    /* the temporary file beside target, until committed */
    int fd;        /* write-through descriptor, or -1 */
    uint8_t *data; /* write-through copy of the bytes */
    size_t len;
    char *display; /* the path as given, for messages */
};

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

/* Writes, sets the mode, syncs and closes fd. */
static int fill_temp(int fd, const void *data, size_t len, mode_t mode, const char *path, vf_error *err)
{
    int rc = write_all(fd, data, len, path, err);
    if (rc == VF_OK && fchmod(fd, mode) != 0)
        rc = vf_error_set(err, VF_ERR_IO, path, NULL, "cannot set permissions: %s", strerror(errno));
    if (rc == VF_OK && fsync(fd) != 0)
        rc = vf_error_set(err, VF_ERR_IO, path, NULL, "cannot sync: %s", strerror(errno));
    if (close(fd) != 0 && rc == VF_OK)
        rc = vf_error_set(err, VF_ERR_IO, path, NULL, "cannot close: %s", strerror(errno));
    return rc;
}

/* "DIR/.vramfit-XXXXXX" beside target: a short name, so a target name at the file system's limit
 * (NAME_MAX) still has a temporary file. */
static char *temp_name(const char *target)
{
    const char *slash = strrchr(target, '/');
    int dir_len = slash ? (int)(slash - target) : 1;
    const char *dir = slash ? target : ".";
    if (slash == target)
        dir_len = 0; /* "/x": the root directory */
    size_t n = (size_t)dir_len + 32;
    char *tmp = malloc(n);
    if (tmp)
        snprintf(tmp, n, "%.*s/.vramfit-XXXXXX", dir_len, dir);
    return tmp;
}

/* VF_ERR_USAGE when st is the file of one of the inputs. */
static int check_not_input(const char *display, const struct stat *st, const vf_checkpoint *cp,
                           const char *const *inputs, vf_error *err)
{
    const char *which = cp ? vf_checkpoint_file_like(cp, st) : NULL;
    for (size_t i = 0; !which && inputs && inputs[i]; i++) {
        struct stat in;
        if (stat(inputs[i], &in) == 0 && vf_same_file(st, &in))
            which = inputs[i];
    }
    if (which)
        return vf_error_set(err, VF_ERR_USAGE, display, NULL,
                            "is an input of this run (%s); refusing to write over it", which);
    return VF_OK;
}

/* Existing target: how to write it. Sets o->target (regular file: write beside and rename) or o->fd
 * (character device or FIFO: written through), or refuses. */
static int classify(vf_output *o, const char *path, const struct stat *st, vf_error *err)
{
    if (S_ISREG(st->st_mode)) {
        o->target = realpath(path, NULL); /* a symlink is followed: its target is replaced */
        return o->target ? VF_OK
                         : vf_error_set(err, VF_ERR_IO, path, NULL, "cannot resolve: %s", strerror(errno));
    }
    if (!S_ISCHR(st->st_mode) && !S_ISFIFO(st->st_mode))
        return vf_error_set(err, VF_ERR_USAGE, path, NULL, "is %s; refusing to write to it",
                            vf_file_kind((unsigned)st->st_mode));
    /* O_NONBLOCK: a FIFO without a reader is ENXIO at once instead of a wait */
    o->fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    int flags = o->fd >= 0 ? fcntl(o->fd, F_GETFL) : -1;
    if (o->fd < 0 || flags < 0 || fcntl(o->fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
        return vf_error_set(err, VF_ERR_IO, path, NULL, "cannot open %s for writing: %s",
                            vf_file_kind((unsigned)st->st_mode),
                            errno == ENXIO ? "no process is reading it" : strerror(errno));
    return VF_OK;
}

/* Writes the temporary file of a regular (or new) target. */
static int write_temp(vf_output *o, const void *data, size_t len, const struct stat *old, vf_error *err)
{
    if (!(o->temp = temp_name(o->target)))
        return vf_error_set(err, VF_ERR_NOMEM, o->display, NULL, "out of memory");
    int fd = mkstemp(o->temp);
    if (fd < 0) {
        int e = errno;
        free(o->temp);
        o->temp = NULL;
        return vf_error_set(err, VF_ERR_IO, o->display, NULL,
                            "cannot create a temporary file beside it: %s", strerror(e));
    }
    mode_t mode = old ? old->st_mode & 07777 : 0644; /* a replaced file keeps its permissions */
    return fill_temp(fd, data, len, mode, o->display, err);
}

static int prepare(vf_output *o, const char *path, const vf_checkpoint *cp, const char *const *inputs,
                   const void *data, size_t len, vf_error *err)
{
    struct stat lst, st;
    bool exists = lstat(path, &lst) == 0;
    if (!exists && errno != ENOENT)
        return vf_error_set(err, VF_ERR_IO, path, NULL, "cannot examine: %s", strerror(errno));
    if (exists && stat(path, &st) != 0)
        return vf_error_set(err, S_ISLNK(lst.st_mode) ? VF_ERR_USAGE : VF_ERR_IO, path, NULL,
                            "%s: %s", S_ISLNK(lst.st_mode) ? "is a symlink that leads nowhere"
                                                           : "cannot examine",
                            strerror(errno));
    int rc = exists ? check_not_input(path, &st, cp, inputs, err) : VF_OK;
    if (rc == VF_OK && exists)
        rc = classify(o, path, &st, err);
    else if (rc == VF_OK && !(o->target = strdup(path)))
        rc = vf_error_set(err, VF_ERR_NOMEM, path, NULL, "out of memory");
    if (rc == VF_OK && o->fd >= 0) {
        o->data = malloc(len ? len : 1);
        if (!o->data)
            return vf_error_set(err, VF_ERR_NOMEM, path, NULL, "out of memory");
        memcpy(o->data, data, len);
        o->len = len;
        return VF_OK;
    }
    return rc == VF_OK ? write_temp(o, data, len, exists ? &st : NULL, err) : rc;
}

int vf_output_prepare(const char *path, const vf_checkpoint *cp, const char *const *inputs,
                      const void *data, size_t len, vf_output **out, vf_error *err)
{
    *out = NULL;
    if (!path || !*path)
        return vf_error_set(err, VF_ERR_USAGE, NULL, NULL, "no output file name given");
    vf_output *o = calloc(1, sizeof *o);
    if (!o || !(o->display = strdup(path))) {
        free(o);
        return vf_error_set(err, VF_ERR_NOMEM, path, NULL, "out of memory");
    }
    o->fd = -1;
    int rc = prepare(o, path, cp, inputs, data ? data : "", len, err);
    if (rc != VF_OK) {
        vf_output_free(o);
        return rc;
    }
    *out = o;
    return VF_OK;
}

int vf_output_commit(vf_output *o, vf_error *err)
{
    int rc = VF_OK;
    if (o->fd >= 0) {
        rc = write_all(o->fd, o->data, o->len, o->display, err);
        if (close(o->fd) != 0 && rc == VF_OK)
            rc = vf_error_set(err, VF_ERR_IO, o->display, NULL, "cannot close: %s", strerror(errno));
        o->fd = -1;
    } else if (o->temp && rename(o->temp, o->target) != 0) {
        rc = vf_error_set(err, VF_ERR_IO, o->display, NULL,
                          "cannot rename the temporary file onto it: %s", strerror(errno));
    } else {
        free(o->temp);
        o->temp = NULL; /* committed: nothing to remove */
    }
    return rc;
}

void vf_output_free(vf_output *o)
{
    if (!o)
        return;
    if (o->temp)
        unlink(o->temp);
    if (o->fd >= 0)
        close(o->fd);
    free(o->temp);
    free(o->target);
    free(o->data);
    free(o->display);
    free(o);
}
