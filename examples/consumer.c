/* consumer.c - a program built against an installed vramfit: prints the library version and the
 * parameter count and layers of the checkpoint named on the command line. */
#include <stdio.h>
#include <string.h>

#include <vramfit/vramfit.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: consumer PATH\n");
        return 2;
    }
    if (strcmp(vf_version(), VF_VERSION_STRING_H) != 0) {
        fprintf(stderr, "consumer: header %s but library %s\n", VF_VERSION_STRING_H, vf_version());
        return 1;
    }
    vf_model *m = NULL;
    vf_error err = {0};
    if (vf_model_open(argv[1], NULL, &m, &err) != VF_OK) {
        char line[2048];
        fprintf(stderr, "consumer: %s\n", vf_error_format(&err, line, sizeof line));
        vf_model_free(m);
        return 1;
    }
    printf("vramfit %s: %llu parameters, %u layers\n", vf_version(),
           (unsigned long long)vf_model_totals(m)->parameters, vf_model_arch(m)->layers);
    vf_model_free(m);
    return 0;
}
