/* vf_tool.h - what the project's tools (vfgen, vf_mkcorpus) share: fatal errors, allocation, paths.
 * Tools die on the first error with one line on stderr and exit status 1. */
#ifndef VF_TOOL_H
#define VF_TOOL_H

#include <stdbool.h>
#include <stddef.h>

#if defined(__GNUC__)
#define VF_TOOL_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define VF_TOOL_NORETURN __attribute__((noreturn))
#else
#define VF_TOOL_PRINTF(f, a)
#define VF_TOOL_NORETURN
#endif

/* The tool's name ("vfgen", "vf_mkcorpus"): each tool defines it; die() prefixes its messages. */
extern const char *const vf_tool_name;

/* Prints "NAME: MESSAGE" on stderr and exits 1 (I/O error, out of memory). */
VF_TOOL_NORETURN VF_TOOL_PRINTF(1, 2) void die(const char *fmt, ...);
/* realloc that dies when out of memory (n == 0 allocates 1 byte). */
void *xrealloc(void *p, size_t n);
bool ends_with(const char *s, const char *suffix);
/* malloc'd "a/b". */
char *path_join(const char *a, const char *b);
/* mkdir -p; dies when a component cannot be created or is not a directory. */
void mkdir_p(const char *path);

#endif
