/* cli.c -- see cli.h. */

#include "cli.h"

#include <getopt.h>
#include <stdio.h>

#include "log.h"

static void usage(FILE *f, const struct ifmon_cli_text *t)
{
    fprintf(f,
            "Usage: %s --config FILE [--check] [--verbose | --quiet]\n"
            "\n"
            "%s"
            "\n"
            "  -c, --config FILE   settings (YAML, see config/examples/)\n"
            "      --check         validate FILE, print every problem, and exit\n"
            "  -v, --verbose       debug logging\n"
            "  -q, --quiet         warnings and errors only\n"
            "  -V, --version       print the version and exit\n"
            "  -h, --help          this text\n"
            "\n"
            "%s",
            t->prog, t->about, t->signals);
}

int ifmon_cli_parse(int argc, char **argv, const struct ifmon_cli_text *text, struct ifmon_cli *out)
{
    /* clang-format off */
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 'k'},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    /* clang-format on */
    int opt;

    out->config_path = NULL;
    out->check = 0;
    out->log_level = LOG_LEVEL_INFO;
    while ((opt = getopt_long(argc, argv, "c:vqVh", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            out->config_path = optarg;
            break;
        case 'k':
            out->check = 1;
            break;
        case 'v':
            out->log_level = LOG_LEVEL_DEBUG;
            break;
        case 'q':
            out->log_level = LOG_LEVEL_WARN;
            break;
        case 'V':
            printf("%s %s\n", text->prog, IFMON_VERSION);
            return 0;
        case 'h':
            usage(stdout, text);
            return 0;
        default:
            usage(stderr, text);
            return 2;
        }
    }
    if (optind < argc || out->config_path == NULL) {
        fprintf(stderr, "%s: %s\n", text->prog,
                optind < argc ? "unexpected argument" : "--config FILE is required");
        usage(stderr, text);
        return 2;
    }
    return -1;
}
