/* vf_cli_args.c - the commands' option tables at work: the argument loop, the option rows of
 * --help and the `vramfit __options CMD` listing (see "commands and their options" in vf_cli.h). */
#include <stdio.h>
#include <string.h>

#include "vf_cli.h"
#include "vf_gpus.h"
#include "vramfit/vf_adapters.h"
#include "vramfit/vf_detailed.h"

/* ---- matching argv ------------------------------------------------------------------------------ */

static const vf_opt *find_long(const vf_opt *table, const char *name, size_t len)
{
    for (const vf_opt *o = table; o->name || o->help || o->column; o++)
        if (o->name && strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

static const vf_opt *find_short(const vf_opt *table, char c)
{
    for (const vf_opt *o = table; o->name || o->help || o->column; o++)
        if (o->name && o->shortc && o->shortc == c)
            return o;
    return NULL;
}

/* "unknown option '--jsn' (did you mean '--json'? see ...)": the long options of the table. */
static int unknown_option(const vf_command *cmd, const char *arg)
{
    const char *names[128];
    size_t n = 0;
    for (const vf_opt *o = cmd->options; (o->name || o->help || o->column) && n < 128; o++)
        if (o->name)
            names[n++] = o->name;
    char word[80];
    const char *hit = NULL;
    if (arg[1] == '-') {
        snprintf(word, sizeof word, "%.*s", (int)strcspn(arg + 2, "="), arg + 2);
        hit = vf_suggest(word, names, n);
    }
    if (hit)
        return vf_usage_error(cmd->name, "unknown option '%s' (did you mean '--%s'? see 'vramfit %s --help')",
                              arg, hit, cmd->name);
    return vf_usage_error(cmd->name, "unknown option '%s' (see 'vramfit %s --help')", arg, cmd->name);
}

/* The option arg names, with its value (inline after '=' or the next argument) in *val. NULL with
 * the exit code in *rc after a message. */
static const vf_opt *match_option(const vf_command *cmd, int argc, char **argv, int *i, const char *arg,
                                  const char **val, int *rc)
{
    const vf_opt *o;
    const char *inline_val = NULL;
    if (arg[1] == '-') {
        const char *eq = strchr(arg + 2, '=');
        o = find_long(cmd->options, arg + 2, eq ? (size_t)(eq - arg - 2) : strlen(arg + 2));
        inline_val = eq ? eq + 1 : NULL;
    } else {
        o = arg[2] == '\0' ? find_short(cmd->options, arg[1]) : NULL;
    }
    *rc = VF_EXIT_USAGE;
    if (!o)
        return *rc = unknown_option(cmd, arg), NULL;
    if (!o->meta && inline_val)
        return vf_usage_error(cmd->name, "option --%s takes no value", o->name), NULL;
    if (o->meta && !inline_val) {
        if (*i >= argc)
            return vf_usage_error(cmd->name, "option --%s needs a value", o->name), NULL;
        inline_val = argv[(*i)++];
    }
    *val = inline_val;
    return o;
}

/* The operand val: the first one is kept, a second is an error. */
static int store_operand(const vf_command *cmd, vf_cmdline *line, const char *val)
{
    if (!cmd->operand)
        return vf_usage_error(cmd->name, "takes no argument ('%s')", val);
    if (line->operand)
        return vf_usage_error(cmd->name, "more than one %s given ('%s')", cmd->operand, val);
    line->operand = val;
    return VF_EXIT_OK;
}

/* Options the loop stores itself; VF_CLI_CONTINUE for any other. */
static int store_common(const vf_command *cmd, vf_cmdline *line, const vf_opt *o, const char *val)
{
    switch (o->id) {
    case VF_OPT_REVISION: line->open.revision = val; return VF_EXIT_OK;
    case VF_OPT_HF_CACHE: line->open.hf_cache = val; return VF_EXIT_OK;
    case VF_OPT_QUIET:
    case VF_OPT_VERBOSE: return VF_EXIT_OK; /* vf_ui_global_opt has set the verbosity */
    case VF_OPT_HELP: vf_cli_help(cmd); return VF_EXIT_OK;
    default: return VF_CLI_CONTINUE;
    }
}

int vf_cli_parse(const vf_command *cmd, int argc, char **argv, vf_cmdline *line, void *opts,
                 vf_opt_handler store)
{
    vf_open_options open = VF_OPEN_OPTIONS_INIT;
    *line = (vf_cmdline){.open = open};
    bool only_operands = false; /* after "--" */
    for (int i = 1; i < argc;) {
        const char *arg = argv[i++], *val = NULL;
        int rc;
        if (only_operands || arg[0] != '-' || arg[1] == '\0') {
            rc = store_operand(cmd, line, arg);
        } else if (strcmp(arg, "--") == 0) {
            only_operands = true;
            continue;
        } else if (vf_ui_global_opt(arg)) {
            continue;
        } else {
            const vf_opt *o = match_option(cmd, argc, argv, &i, arg, &val, &rc);
            if (!o)
                return rc;
            if ((rc = store_common(cmd, line, o, val)) == VF_EXIT_OK && o->id == VF_OPT_HELP)
                return VF_EXIT_OK;
            if (rc == VF_CLI_CONTINUE)
                rc = store(opts, o, val);
        }
        if (rc != VF_EXIT_OK)
            return rc;
    }
    if (cmd->operand && !line->operand)
        return vf_usage_error(cmd->name, "missing %s (see 'vramfit %s --help')", cmd->operand, cmd->name);
    return VF_CLI_CONTINUE;
}

/* ---- values ------------------------------------------------------------------------------------- */

#define VALUES_MAX 256

/* The values opt offers, split into words[] (pointing into buf); returns the count. */
static size_t option_values(const vf_opt *opt, const char **words, char (*buf)[VF_GPU_NAME_MAX])
{
    size_t n = 0;
    for (const char *p = opt->values; p && *p && n < VALUES_MAX;) {
        size_t len = strcspn(p, " ");
        snprintf(buf[n], VF_GPU_NAME_MAX, "%.*s", (int)len, p);
        words[n] = buf[n], n++;
        p += len + (p[len] == ' ');
    }
    size_t count = 0;
    const vf_gpu_model *gpus = opt->complete == VF_VALUES_GPU ? vf_gpu_table(&count) : NULL;
    for (size_t i = 0; gpus && i < count && n < VALUES_MAX; i++)
        words[n++] = gpus[i].name;
    for (size_t i = 0; opt->complete == VF_VALUES_FAMILY && vf_family_name_at(i) && n < VALUES_MAX; i++)
        words[n++] = vf_family_name_at(i);
    for (int v = 0; opt->complete == VF_VALUES_LEVER && vf_dt_lever_name((vf_dt_lever)opt->lever, v) &&
                    n < VALUES_MAX; v++)
        words[n++] = vf_dt_lever_name((vf_dt_lever)opt->lever, v);
    return n;
}

int vf_opt_choice(const char *cmd, const vf_opt *opt, const char *val, size_t *index)
{
    const char *words[VALUES_MAX];
    char buf[VALUES_MAX][VF_GPU_NAME_MAX];
    size_t n = option_values(opt, words, buf);
    long k = vf_choice(val, words, n);
    if (k >= 0) {
        *index = (size_t)k;
        return VF_EXIT_OK;
    }
    char list[512] = "", hint[96];
    for (size_t i = 0, len = 0; i < n && len < sizeof list; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ",
                                words[i]);
    return vf_usage_error(cmd, "--%s must be %s, got '%s'%s", opt->name, list, val,
                          vf_did_you_mean(val, words, n, hint, sizeof hint));
}

int vf_cli_adapter_dtype(const char *cmd, const vf_opt *opt, const char *val, vf_dtype *out)
{
    size_t index;
    int rc = vf_opt_choice(cmd, opt, val, &index);
    if (rc == VF_EXIT_OK && !vf_adapter_dtype_from_name(val, out))
        return vf_usage_error(cmd, "--%s: '%s' is not an adapter dtype", opt->name, val);
    return rc;
}

/* ---- --help ------------------------------------------------------------------------------------- */

#define HELP_WIDTH 99 /* the values of "{values}" are wrapped before this column */

/* Prints the help text after `column` (the first line already positioned); continuation lines start
 * at the column. "{values}" becomes the values joined by ", ", wrapped. */
static void print_help_text(const vf_opt *o, int column, int at)
{
    const char *text = o->help, *token = strstr(text, "{values}");
    for (const char *p = text; *p && p != token; p++) {
        putchar(*p);
        at = *p == '\n' ? (printf("%*s", column, ""), column) : at + 1;
    }
    if (!token)
        return;
    const char *words[VALUES_MAX];
    char buf[VALUES_MAX][VF_GPU_NAME_MAX];
    size_t n = option_values(o, words, buf);
    for (size_t i = 0; i < n; i++) {
        int len = (int)strlen(words[i]) + (i + 1 < n ? 1 : 0);
        if (at + len + 1 > HELP_WIDTH)
            at = printf("\n%*s", column, "") - 1;
        else if (i)
            at += printf(" ");
        at += printf("%s%s", words[i], i + 1 < n ? "," : "");
    }
    print_help_text(&(vf_opt){.help = token + strlen("{values}")}, column, at);
}

/* "  -m, --method M" padded to the column (at least two spaces), then the help. */
static void print_option_row(const vf_opt *o, int column)
{
    char left[96], shortname[8] = "";
    if (o->shortc)
        snprintf(shortname, sizeof shortname, "-%c, ", o->shortc);
    int len = snprintf(left, sizeof left, "  %s--%s%s%s", shortname, o->name, o->meta ? " " : "",
                       o->meta ? o->meta : "");
    int pad = len + 2 <= column ? column - len : 2;
    printf("%s%*s", left, pad, "");
    print_help_text(o, column, len + pad);
    putchar('\n');
}

void vf_cli_help(const vf_command *cmd)
{
    printf("%s", cmd->synopsis);
    int column = 24;
    for (const vf_opt *o = cmd->options; o->name || o->help || o->column; o++) {
        if (o->column)
            column = o->column;
        else if (!o->name)
            printf("%s\n", o->help);
        else if (o->help)
            print_option_row(o, column);
    }
    printf("%s", cmd->footer ? cmd->footer : "");
    if (cmd->footer_more)
        cmd->footer_more();
}

/* ---- __options ---------------------------------------------------------------------------------- */

static const char *kind_name(const vf_opt *o)
{
    switch (o->complete) {
    case VF_VALUES_FILE: return "file";
    case VF_VALUES_DIR: return "dir";
    case VF_VALUES_NONE: return o->meta ? "value" : "flag";
    default: return "list";
    }
}

void vf_cli_list_options(const vf_opt *options)
{
    for (const vf_opt *o = options; o->name || o->help || o->column; o++) {
        if (!o->name)
            continue;
        const char *words[VALUES_MAX];
        char buf[VALUES_MAX][VF_GPU_NAME_MAX];
        size_t n = option_values(o, words, buf);
        char shortname[3] = {'-', o->shortc, '\0'};
        printf("--%s\t%s\t%s\t%s\t", o->name, o->shortc ? shortname : "-", o->meta ? o->meta : "-",
               kind_name(o));
        for (size_t i = 0; i < n; i++)
            printf("%s%s", i ? " " : "", words[i]);
        printf("\n");
    }
}
