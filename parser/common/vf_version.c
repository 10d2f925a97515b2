/* vf_version.c - the library version, from the generated vf_version.h. */
#include "vramfit/vf_version.h"

const char *vf_version(void)
{
    return VF_VERSION_STRING_H;
}
