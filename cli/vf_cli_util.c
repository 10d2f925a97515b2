/* vf_cli_util.c - output buffer, JSON writer, option parsing and formatting for the CLI. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vf_cli.h"

/* ---- output buffer ----------------------------------------------------------------------------- */

static bool buf_reserve(vf_buf *b, size_t extra)
{
    if (b->failed)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2) {
            b->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *d = realloc(b->data, cap);
    if (!d) {
        b->failed = true;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

void vf_buf_put(vf_buf *b, const char *s, size_t n)
{
    if (!buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void vf_buf_printf(vf_buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n >= 0 && buf_reserve(b, (size_t)n))
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2), b->len += (size_t)n;
    va_end(ap2);
}

void vf_buf_free(vf_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* Style markers: vf_sty() emits STYLE_MARK + digit, turned into an SGR sequence only on the way to a
 * terminal, so that every other control byte (from tensor names, paths) can be neutralised there. */
#define STYLE_MARK '\001'
static const char *const sgr[] = {"\033[0m", "\033[1m", "\033[32m", "\033[33m", "\033[31m"};
#define SGR_COUNT (sizeof sgr / sizeof sgr[0])

/* Rewrites b for a terminal: style markers become SGR sequences; any other control byte except
 * newline and tab becomes '?', so a hostile name cannot drive the terminal. Returns 0, or -1 when
 * out of memory (b unchanged). */
static int vf_buf_for_terminal(vf_buf *b)
{
    vf_buf t = {0};
    for (size_t i = 0; i < b->len; i++) {
        unsigned char c = (unsigned char)b->data[i];
        if (c == STYLE_MARK && i + 1 < b->len && (unsigned)(b->data[i + 1] - '0') < SGR_COUNT) {
            const char *seq = sgr[b->data[++i] - '0'];
            vf_buf_put(&t, seq, strlen(seq));
        } else if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
            vf_buf_put(&t, "?", 1);
        } else {
            vf_buf_put(&t, (const char *)&c, 1);
        }
    }
    if (t.failed) {
        vf_buf_free(&t);
        return -1;
    }
    vf_buf_free(b);
    *b = t;
    return 0;
}

int vf_buf_flush(vf_buf *b)
{
    if (b->failed) {
        fprintf(stderr, "vramfit: %s out of memory while building the output\n", vf_error_label());
        return VF_EXIT_INTERNAL;
    }
    if (isatty(STDOUT_FILENO) && vf_buf_for_terminal(b) != 0) {
        fprintf(stderr, "vramfit: %s out of memory while building the output\n", vf_error_label());
        return VF_EXIT_INTERNAL;
    }
    if (b->len && fwrite(b->data, 1, b->len, stdout) != b->len) {
        fprintf(stderr, "vramfit: %s cannot write to stdout: %s\n", vf_error_label(), strerror(errno));
        return VF_EXIT_IO;
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "vramfit: %s cannot write to stdout: %s\n", vf_error_label(), strerror(errno));
        return VF_EXIT_IO;
    }
    return VF_EXIT_OK;
}

/* ---- user interface ---------------------------------------------------------------------------- */

static struct {
    vf_verbosity verbosity;
    bool color_out, color_err;
} ui;

static bool color_wanted(int fd)
{
    const char *no = getenv("NO_COLOR");
    return isatty(fd) && !(no && *no);
}

void vf_ui_init(void)
{
    ui.color_out = color_wanted(STDOUT_FILENO);
    ui.color_err = color_wanted(STDERR_FILENO);
}

void vf_ui_set_verbosity(vf_verbosity v) { ui.verbosity = v; }
bool vf_ui_quiet(void) { return ui.verbosity == VF_QUIET; }
bool vf_ui_verbose(void) { return ui.verbosity == VF_VERBOSE; }

const char *vf_sty(vf_style s)
{
    static const char *const marks[] = {"\0010", "\0011", "\0012", "\0013", "\0014"};
    return ui.color_out && (unsigned)s < SGR_COUNT ? marks[s] : "";
}

const char *vf_error_label(void)
{
    return ui.color_err ? "\033[31merror:\033[0m" : "error:";
}

bool vf_ui_global_opt(const char *arg)
{
    if (strcmp(arg, "-q") == 0 || strcmp(arg, "--quiet") == 0)
        vf_ui_set_verbosity(VF_QUIET);
    else if (strcmp(arg, "-v") == 0 || strcmp(arg, "--verbose") == 0)
        vf_ui_set_verbosity(VF_VERBOSE);
    else
        return false;
    return true;
}

void vf_print_global_help(void)
{
    printf("  -q, --quiet           results only: no notes, findings or progress on stderr\n"
           "  -v, --verbose         more detail (files, target family, formulas)\n"
           "  -h, --help            this help\n");
}

/* ---- JSON -------------------------------------------------------------------------------------- */

static void json_string(vf_buf *b, const char *s)
{
    vf_buf_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            vf_buf_put(b, esc, 2);
        } else if (*p < 0x20) {
            vf_buf_printf(b, "\\u%04x", *p);
        } else {
            vf_buf_put(b, (const char *)p, 1);
        }
    }
    vf_buf_put(b, "\"", 1);
}

/* Comma and key before a value. */
static void json_pre(vf_json *j, const char *key)
{
    if (j->depth > 0) {
        if (!j->first[j->depth])
            vf_buf_put(j->b, ",", 1);
        j->first[j->depth] = false;
    }
    if (key) {
        json_string(j->b, key);
        vf_buf_put(j->b, ":", 1);
    }
}

static void json_open(vf_json *j, const char *key, char c)
{
    json_pre(j, key);
    vf_buf_put(j->b, &c, 1);
    if (j->depth + 1 < VF_JSON_MAX_DEPTH)
        j->depth++;
    j->first[j->depth] = true;
}

static void json_close(vf_json *j, char c)
{
    vf_buf_put(j->b, &c, 1);
    if (j->depth > 0)
        j->depth--;
    if (j->depth == 0)
        vf_buf_put(j->b, "\n", 1);
}

void vf_json_obj(vf_json *j, const char *key) { json_open(j, key, '{'); }
void vf_json_obj_end(vf_json *j) { json_close(j, '}'); }
void vf_json_arr(vf_json *j, const char *key) { json_open(j, key, '['); }
void vf_json_arr_end(vf_json *j) { json_close(j, ']'); }

void vf_json_u64(vf_json *j, const char *key, uint64_t v)
{
    json_pre(j, key);
    vf_buf_printf(j->b, "%llu", (unsigned long long)v);
}

void vf_json_i64(vf_json *j, const char *key, int64_t v)
{
    json_pre(j, key);
    vf_buf_printf(j->b, "%lld", (long long)v);
}

void vf_json_double(vf_json *j, const char *key, double v)
{
    json_pre(j, key);
    if (!isfinite(v)) {
        vf_buf_put(j->b, "null", 4);
        return;
    }
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    vf_buf_printf(j->b, "%s", tmp);
}

void vf_json_str(vf_json *j, const char *key, const char *s)
{
    json_pre(j, key);
    if (s)
        json_string(j->b, s);
    else
        vf_buf_put(j->b, "null", 4);
}

void vf_json_bool(vf_json *j, const char *key, bool v)
{
    json_pre(j, key);
    vf_buf_printf(j->b, "%s", v ? "true" : "false");
}

void vf_json_null(vf_json *j, const char *key)
{
    json_pre(j, key);
    vf_buf_put(j->b, "null", 4);
}

void vf_json_shape(vf_json *j, const char *key, const uint64_t *dims, uint32_t ndim)
{
    vf_json_arr(j, key);
    for (uint32_t i = 0; i < ndim; i++)
        vf_json_u64(j, NULL, dims[i]);
    vf_json_arr_end(j);
}

void vf_json_findings(vf_json *j, const char *key, const vf_findings *f)
{
    vf_json_arr(j, key);
    for (size_t i = 0; i < vf_findings_count(f); i++) {
        const vf_finding *x = vf_findings_get(f, i);
        vf_json_obj(j, NULL);
        vf_json_str(j, "severity", x->severity == VF_SEV_WARNING ? "warning" : "info");
        vf_json_str(j, "message", x->message);
        vf_json_obj_end(j);
    }
    vf_json_arr_end(j);
}

void vf_json_doc(vf_json *j)
{
    vf_json_obj(j, NULL);
    vf_json_str(j, "schema", VF_JSON_SCHEMA);
}

void vf_json_origin(vf_json *j, const vf_checkpoint *cp)
{
    vf_json_str(j, "model", vf_checkpoint_name(cp));
    vf_json_str(j, "repo_id", vf_checkpoint_repo_id(cp));
    vf_json_str(j, "revision", vf_checkpoint_revision(cp));
    vf_json_str(j, "path", vf_checkpoint_dir(cp));
}

/* ---- options ----------------------------------------------------------------------------------- */

static const vf_opt *find_long(const vf_opt *opts, const char *name, size_t len)
{
    for (; opts->name; opts++)
        if (strlen(opts->name) == len && strncmp(opts->name, name, len) == 0)
            return opts;
    return NULL;
}

static const vf_opt *find_short(const vf_opt *opts, char c)
{
    for (; opts->name; opts++)
        if (opts->shortc && opts->shortc == c)
            return opts;
    return NULL;
}

int vf_args_next(vf_args *a, const char **val)
{
    if (a->i >= a->argc)
        return -1;
    const char *s = a->argv[a->i++];
    *val = NULL;
    if (a->only_positional || s[0] != '-' || s[1] == '\0') {
        *val = s;
        return 0;
    }
    if (strcmp(s, "--") == 0) {
        a->only_positional = true;
        return vf_args_next(a, val);
    }
    if (vf_ui_global_opt(s))
        return vf_args_next(a, val);
    const vf_opt *o;
    const char *inline_val = NULL;
    if (s[1] == '-') {
        const char *eq = strchr(s + 2, '=');
        o = find_long(a->opts, s + 2, eq ? (size_t)(eq - s - 2) : strlen(s + 2));
        inline_val = eq ? eq + 1 : NULL;
    } else {
        o = s[2] == '\0' ? find_short(a->opts, s[1]) : NULL;
    }
    if (!o)
        return vf_usage_error(a->cmd, "unknown option '%s' (see 'vramfit %s --help')", s, a->cmd), -2;
    if (!o->arg) {
        if (inline_val)
            return vf_usage_error(a->cmd, "option --%s takes no value", o->name), -2;
        return o->id;
    }
    if (!inline_val) {
        if (a->i >= a->argc)
            return vf_usage_error(a->cmd, "option --%s needs a value", o->name), -2;
        inline_val = a->argv[a->i++];
    }
    *val = inline_val;
    return o->id;
}

bool vf_parse_u64(const char *cmd, const char *opt, const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    if (!s || !*s || *s == '-' || *s == '+') {
        vf_usage_error(cmd, "--%s expects a non-negative integer, got '%s'", opt, s ? s : "");
        return false;
    }
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) {
        vf_usage_error(cmd, "--%s expects a non-negative integer, got '%s'", opt, s);
        return false;
    }
    *out = v;
    return true;
}

bool vf_parse_double(const char *cmd, const char *opt, const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = s && *s ? strtod(s, &end) : NAN;
    if (!s || !*s || errno || *end || !isfinite(v)) {
        vf_usage_error(cmd, "--%s expects a number, got '%s'", opt, s ? s : "");
        return false;
    }
    *out = v;
    return true;
}

bool vf_common_opt(int id, const char *val, vf_open_options *o)
{
    if (id == VF_OPT_REVISION)
        o->revision = val;
    else if (id == VF_OPT_HF_CACHE)
        o->hf_cache = val;
    else
        return false;
    return true;
}

/* ---- formatting -------------------------------------------------------------------------------- */

const char *vf_fmt_count(uint64_t v, char *buf)
{
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

const char *vf_fmt_size(uint64_t bytes, char *buf)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024) {
        snprintf(buf, 32, "%llu B", (unsigned long long)bytes);
        return buf;
    }
    double v = (double)bytes;
    size_t u = 0;
    while (v >= 1024.0 && u + 1 < sizeof unit / sizeof unit[0])
        v /= 1024.0, u++;
    int decimals = v < 9.995 ? 2 : v < 99.95 ? 1 : 0; /* three significant digits */
    if (u + 1 < sizeof unit / sizeof unit[0] && v >= 1023.5) /* 1023.7 KiB rounds to 1.00 MiB */
        v /= 1024.0, u++, decimals = 2;
    snprintf(buf, 32, "%.*f %s", decimals, v, unit[u]);
    return buf;
}

const char *vf_fmt_shape(const uint64_t *dims, uint32_t ndim, char *buf, size_t n)
{
    size_t o = (size_t)snprintf(buf, n, "[");
    for (uint32_t i = 0; i < ndim && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%llu", i ? "," : "", (unsigned long long)dims[i]);
    if (o < n)
        snprintf(buf + o, n - o, "]");
    return buf;
}

/* ---- errors ------------------------------------------------------------------------------------ */

int vf_exit_code(int status)
{
    switch (vf_status_class(status)) {
    case 'o':
        return VF_EXIT_OK;
    case 'u':
        return VF_EXIT_USAGE;
    case 'i':
        return VF_EXIT_IO;
    case 'd':
        return VF_EXIT_INVALID;
    case 'x':
        return VF_EXIT_MISMATCH;
    default:
        return VF_EXIT_INTERNAL;
    }
}

int vf_cli_fail(const vf_error *err)
{
    char line[VF_ERROR_FILE_MAX + VF_ERROR_TENSOR_MAX + VF_ERROR_MESSAGE_MAX + 32];
    fprintf(stderr, "vramfit: %s %s\n", vf_error_label(), vf_error_format(err, line, sizeof line));
    return vf_exit_code(err->code);
}

int vf_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "vramfit%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return VF_EXIT_USAGE;
}
