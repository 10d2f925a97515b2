/* vf_hfcache.c - Hugging Face model ids resolved offline in the local hub cache, the way
 * huggingface_hub lays it out and finds it (src/huggingface_hub/constants.py, file_download.py):
 *
 *   root = $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE (legacy), else $HF_HOME/hub, else
 *          $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub; "~" and $VAR / ${VAR}
 *          expanded as os.path.expanduser / os.path.expandvars do (unknown variables left as is).
 *          A variable set to the empty string counts as unset here (huggingface_hub would use "").
 *   repo = root/models--ORG--NAME (REPO_ID_SEPARATOR "--"; an id without organisation, "gpt2", is
 *          models--gpt2), holding refs/REV (a 40-hex commit), snapshots/COMMIT/ and blobs/ (where a
 *          download in progress is BLOB.incomplete).
 *
 * A revision is a ref (branch or tag) under refs/, a full commit, or a commit prefix of at least 5
 * hex digits (REGEX_COMMIT_OID = [A-Fa-f0-9]{5,40}) matching one snapshot. Nothing is downloaded. */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "vf_checkpoint_internal.h"

#define VF_HF_PATH_MAX 4096u

void vf_hf_location_free(vf_hf_location *loc)
{
    if (!loc)
        return;
    free(loc->repo_id);
    free(loc->revision);
    free(loc->commit);
    free(loc->snapshot_dir);
    free(loc->repo_dir);
    free(loc->cache_root);
    *loc = (vf_hf_location){0};
}

/* ---- ids --------------------------------------------------------------------------------------- */


/* huggingface_hub's validate_repo_id: [ORG/]NAME of [A-Za-z0-9_.-], at most 96 characters, no
 * "--" or "..", not starting or ending with '-' or '.'. A bare NAME that ends like a file vramfit
 * reads is taken for a missing file, not an id. */
bool vf_hf_is_model_id(const char *s)
{
    size_t n = strlen(s);
    const char *slash = strchr(s, '/');
    if (n == 0 || n > 96 || strstr(s, "--") || strstr(s, ".."))
        return false;
    if (slash && (slash == s || !slash[1] || strchr(slash + 1, '/')))
        return false;
    for (const char *p = s; *p; p++) {
        bool edge = p == s || p[1] == '\0' || p[1] == '/' || p[-1] == '/';
        if (edge && (*p == '-' || *p == '.'))
            return false;
        if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.' || *p == '/'))
            return false;
    }
    static const char *const file_like[] = {".safetensors", ".json", ".vfsnap", ".bin", ".pt", ".pth",
                                            ".gguf", ".onnx", ".h5", ".npz", ".npy", NULL};
    for (size_t i = 0; !slash && file_like[i]; i++)
        if (vf_has_suffix(s, file_like[i]))
            return false;
    return true;
}

/* "models--ORG--NAME" (or "models--NAME"). */
static char *repo_folder(const char *id)
{
    size_t n = strlen(id);
    char *f = malloc(n + 16);
    if (!f)
        return NULL;
    char *o = f + sprintf(f, "models--");
    for (const char *p = id; *p; p++)
        if (*p == '/')
            o += sprintf(o, "--");
        else
            *o++ = *p;
    *o = '\0';
    return f;
}

/* ---- cache root -------------------------------------------------------------------------------- */

/* os.path.expandvars then os.path.expanduser ("~" and "~/..." only), bounded to VF_HF_PATH_MAX. */
char *vf_hf_expand_path(const char *s)
{
    char out[VF_HF_PATH_MAX];
    size_t o = 0;
    bool ok = true;
    const char *home = getenv("HOME");
    if (s[0] == '~' && (s[1] == '\0' || s[1] == '/') && home && *home) {
        o = (size_t)snprintf(out, sizeof out, "%s", home);
        ok = o < sizeof out;
        s++;
    }
    while (ok && *s) {
        const char *name = NULL;
        size_t len = 0, skip = 1;
        if (s[0] == '$' && s[1] == '{') {
            const char *end = strchr(s + 2, '}');
            if (end && end > s + 2)
                name = s + 2, len = (size_t)(end - name), skip = len + 3;
        } else if (s[0] == '$') {
            while (isalnum((unsigned char)s[1 + len]) || s[1 + len] == '_')
                len++;
            if (len)
                name = s + 1, skip = len + 1;
        }
        char var[256];
        const char *val = NULL;
        if (name && len < sizeof var) {
            memcpy(var, name, len);
            var[len] = '\0';
            val = getenv(var);
        }
        const char *put = val ? val : s; /* an unknown variable stays as written */
        size_t put_len = val ? strlen(val) : skip;
        ok = o + put_len < sizeof out;
        if (ok) {
            memcpy(out + o, put, put_len);
            o += put_len;
        }
        s += skip;
    }
    if (!ok)
        return NULL;
    out[o] = '\0';
    return strdup(out);
}

static const char *env_set(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* Joins the expansion of base with tail (NULL: none). */
static char *expanded_join(const char *base, const char *tail)
{
    char *e = vf_hf_expand_path(base);
    if (!e || !tail)
        return e;
    char *j = vf_path_join(e, tail);
    free(e);
    return j;
}

char *vf_hf_cache_root(const vf_open_options *opts, const char **source)
{
    const char *v, *src;
    char *root;
    if (opts && opts->hf_cache)
        src = "--hf-cache", root = expanded_join(opts->hf_cache, NULL);
    else if ((v = env_set("HF_HUB_CACHE")))
        src = "HF_HUB_CACHE", root = expanded_join(v, NULL);
    else if ((v = env_set("HUGGINGFACE_HUB_CACHE")))
        src = "HUGGINGFACE_HUB_CACHE", root = expanded_join(v, NULL);
    else if ((v = env_set("HF_HOME")))
        src = "HF_HOME", root = expanded_join(v, "hub");
    else if ((v = env_set("XDG_CACHE_HOME")))
        src = "XDG_CACHE_HOME", root = expanded_join(v, "huggingface/hub");
    else
        src = "the default", root = expanded_join("~/.cache/huggingface/hub", NULL);
    if (source)
        *source = src;
    return root;
}

/* ---- revisions --------------------------------------------------------------------------------- */

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_hex(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* Revision names come from the user; they may name refs like "main" or "refs/pr/1" but never escape. */
static bool safe_revision(const char *rev)
{
    return rev && *rev && rev[0] != '/' && !strstr(rev, "..") && !strchr(rev, '\\') &&
           strlen(rev) < 256;
}

/* refs/REV holds a commit hash: VF_OK with it in hash, VF_ERR_NOT_FOUND when there is no such ref. */
static int read_ref(const char *repo, const char *rev, char hash[41], vf_error *err)
{
    char *refs = vf_path_join(repo, "refs"), *path = refs ? vf_path_join(refs, rev) : NULL;
    free(refs);
    if (!path)
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    uint8_t *data = NULL;
    size_t len = 0;
    struct stat st;
    bool exists = lstat(path, &st) == 0;
    int rc = !exists ? VF_ERR_NOT_FOUND
             : S_ISLNK(st.st_mode)
                 ? vf_error_set(err, VF_ERR_UNSAFE_PATH, repo, NULL, /* the Hub writes refs as files */
                                "refs/%s is a symlink; a ref must be a plain file holding a commit hash",
                                rev)
                 : vf_read_small_file(path, path, 256, &data, &len, err); /* a FIFO: refused */
    free(path);
    if (rc != VF_OK)
        return rc;
    while (len && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' '))
        data[--len] = 0;
    bool ok = is_hex((char *)data, 40, 40);
    if (ok)
        memcpy(hash, data, 41);
    free(data);
    return ok ? VF_OK
              : vf_error_set(err, VF_ERR_UNSAFE_PATH, repo, NULL,
                             "refs/%s does not hold a 40-hex commit hash", rev);
}

/* Appends "a, b, c" of the entries of dir (files when files, else directories; hidden ones left
 * out) to list of size n; the count. Commit names are shortened to 12 characters. */
static size_t list_entries(const char *dir, bool files, char *list, size_t n)
{
    DIR *d = opendir(dir);
    size_t count = 0;
    if (!d)
        return 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.')
            continue;
        char *p = vf_path_join(dir, de->d_name);
        struct stat st;
        bool want = p && stat(p, &st) == 0 && (files ? S_ISREG(st.st_mode) : S_ISDIR(st.st_mode));
        free(p);
        if (!want)
            continue;
        size_t o = strlen(list);
        int w = is_hex(de->d_name, 40, 40) ? 12 : 64;
        if (o + 80 < n)
            snprintf(list + o, n - o, "%s%.*s", count ? ", " : "", w, de->d_name);
        count++;
    }
    closedir(d);
    return count;
}

/* The one snapshot whose commit starts with prefix; VF_ERR_NOT_FOUND when none, VF_ERR_USAGE when
 * several do. */
static int match_commit_prefix(const char *snaps, const char *prefix, char hash[41], vf_error *err)
{
    DIR *d = opendir(snaps);
    size_t hits = 0, n = strlen(prefix);
    if (!d)
        return VF_ERR_NOT_FOUND;
    for (struct dirent *de; (de = readdir(d));)
        if (is_hex(de->d_name, 40, 40) && strncasecmp(de->d_name, prefix, n) == 0 && hits++ == 0)
            memcpy(hash, de->d_name, 41);
    closedir(d);
    if (hits > 1)
        return vf_error_set(err, VF_ERR_USAGE, NULL, NULL,
                            "revision '%s' matches %zu cached commits: give more digits", prefix, hits);
    return hits ? VF_OK : VF_ERR_NOT_FOUND;
}

static int missing_revision(const vf_hf_location *loc, const char *rev, vf_error *err)
{
    char refs[320] = "", snaps[320] = "";
    char *rdir = vf_path_join(loc->repo_dir, "refs"), *sdir = vf_path_join(loc->repo_dir, "snapshots");
    size_t nr = rdir ? list_entries(rdir, true, refs, sizeof refs) : 0;
    size_t ns = sdir ? list_entries(sdir, false, snaps, sizeof snaps) : 0;
    free(rdir);
    free(sdir);
    return vf_error_set(err, VF_ERR_NOT_FOUND, loc->repo_id, NULL,
                        "revision '%s' is not in the local cache; cached refs: %s; snapshots: %s "
                        "(vramfit never downloads: 'hf download %s --revision %s' fetches it)",
                        rev, nr ? refs : "none", ns ? snaps : "none", loc->repo_id, rev);
}

/* Sets loc->commit for the revision rev. */
static int resolve_revision(vf_hf_location *loc, const char *rev, vf_error *err)
{
    char hash[41] = {0};
    int rc = read_ref(loc->repo_dir, rev, hash, err);
    char *snaps = vf_path_join(loc->repo_dir, "snapshots");
    if (!snaps)
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    if (rc == VF_ERR_NOT_FOUND && is_hex(rev, 5, 40))
        rc = match_commit_prefix(snaps, rev, hash, err);
    free(snaps);
    if (rc == VF_ERR_NOT_FOUND)
        return missing_revision(loc, rev, err);
    if (rc == VF_OK && !(loc->commit = strdup(hash)))
        rc = vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    return rc;
}

/* ---- resolution -------------------------------------------------------------------------------- */

/* The repository is not under root: says so (after `lead`), with a hint when root looks like HF_HOME
 * (it has a hub/ directory holding the model). */
static int missing_repo(const char *lead, const char *id, const char *root, const char *source,
                        const char *folder, vf_error *err)
{
    char *hub = vf_path_join(root, "hub"), *there = hub ? vf_path_join(hub, folder) : NULL;
    bool home_given = there && is_dir(there);
    int rc = home_given
                 ? vf_error_set(err, VF_ERR_NOT_FOUND, id, NULL,
                                "%snot in the Hugging Face cache at %s (from %s), but in %s: that is "
                                "HF_HOME; the hub cache is its hub/ directory (--hf-cache %s)",
                                lead, root, source, hub, hub)
                 : vf_error_set(err, VF_ERR_NOT_FOUND, id, NULL,
                                "%snot in the Hugging Face cache at %s (from %s; vramfit never "
                                "downloads: 'hf download %s' fetches it)",
                                lead, root, source, id);
    free(hub);
    free(there);
    return rc;
}

/* vf_hf_resolve, a missing repository's message starting with `lead`. */
static int resolve(const char *lead, const char *id, const vf_open_options *opts, vf_hf_location *loc,
                   vf_error *err)
{
    *loc = (vf_hf_location){0};
    const char *rev = opts && opts->revision ? opts->revision : "main";
    if (!vf_hf_is_model_id(id))
        return vf_error_set(err, VF_ERR_USAGE, id, NULL, "not a Hugging Face model id (ORG/NAME or NAME)");
    if (!safe_revision(rev))
        return vf_error_set(err, VF_ERR_USAGE, NULL, NULL, "revision '%s' is not a safe name", rev);
    const char *source = NULL;
    char *folder = repo_folder(id);
    loc->cache_root = vf_hf_cache_root(opts, &source);
    loc->repo_id = strdup(id);
    loc->revision = strdup(rev);
    loc->repo_dir = folder && loc->cache_root ? vf_path_join(loc->cache_root, folder) : NULL;
    int rc = loc->repo_dir && loc->repo_id && loc->revision
                 ? VF_OK
                 : vf_error_set(err, VF_ERR_NOMEM, id, NULL, "out of memory or cache path too long");
    if (rc == VF_OK && !is_dir(loc->repo_dir))
        rc = missing_repo(lead, id, loc->cache_root, source, folder, err);
    free(folder);
    if (rc == VF_OK)
        rc = resolve_revision(loc, rev, err);
    char *snaps = rc == VF_OK ? vf_path_join(loc->repo_dir, "snapshots") : NULL;
    loc->snapshot_dir = snaps ? vf_path_join(snaps, loc->commit) : NULL;
    free(snaps);
    if (rc == VF_OK && !loc->snapshot_dir)
        rc = vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    if (rc == VF_OK && !is_dir(loc->snapshot_dir))
        rc = vf_hf_download_hint(loc, vf_error_set(err, VF_ERR_NOT_FOUND, id, NULL,
                                                   "snapshot %s is missing from the cache", loc->commit),
                                 err);
    if (rc != VF_OK)
        vf_hf_location_free(loc);
    return rc;
}

/* ---- interrupted downloads --------------------------------------------------------------------- */

/* Number of blobs/ *.incomplete files: a download huggingface_hub has not finished. */
static size_t incomplete_blobs(const char *repo_dir)
{
    char *blobs = vf_path_join(repo_dir, "blobs");
    DIR *d = blobs ? opendir(blobs) : NULL;
    size_t n = 0;
    free(blobs);
    if (!d)
        return 0;
    for (struct dirent *de; (de = readdir(d));)
        n += vf_has_suffix(de->d_name, ".incomplete");
    closedir(d);
    return n;
}

int vf_hf_download_hint(const vf_hf_location *loc, int rc, vf_error *err)
{
    if (rc == VF_OK || rc == VF_ERR_NOMEM || !err || !loc->repo_dir)
        return rc;
    size_t partial = incomplete_blobs(loc->repo_dir);
    if (!partial && rc != VF_ERR_NOT_FOUND && rc != VF_ERR_NO_TENSORS)
        return rc;
    char rev[300] = "";
    if (loc->revision && strcmp(loc->revision, "main") != 0)
        snprintf(rev, sizeof rev, " --revision %s", loc->revision);
    char msg[VF_ERROR_MESSAGE_MAX];
    snprintf(msg, sizeof msg, "%s; an interrupted download of %s%s: complete it with "
                              "'huggingface-cli download %s%s' (or 'hf download %s%s')",
             err->message, loc->repo_id, partial ? " (.incomplete blobs in the cache)" : "",
             loc->repo_id, rev, loc->repo_id, rev);
    snprintf(err->message, sizeof err->message, "%s", msg);
    return rc;
}

int vf_hf_resolve(const char *id, const vf_open_options *opts, vf_hf_location *loc, vf_error *err)
{
    return resolve("", id, opts, loc, err);
}

int vf_hf_resolve_path(const char *id, const vf_open_options *opts, vf_hf_location *loc, vf_error *err)
{
    return resolve("not a local path and ", id, opts, loc, err);
}
