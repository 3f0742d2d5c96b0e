/* cli.h -- the command line both daemons share:
 *
 *   PROG --config FILE [--check] [--verbose | --quiet] [--version] [--help]
 *
 * Each daemon gives what only it can say (what it does, its signals);
 * the options and their handling are the same for both. */

#ifndef IFMON_CLI_H
#define IFMON_CLI_H

struct ifmon_cli {
    const char *config_path; /* --config FILE (argv's string) */
    int check;               /* --check: validate FILE and exit */
    int log_level;           /* LOG_LEVEL_INFO, or DEBUG (--verbose), WARN (--quiet) */
};

/* What `--help` prints around the options. */
struct ifmon_cli_text {
    const char *prog;    /* "ifmon-collector" */
    const char *about;   /* paragraph(s) after the usage line */
    const char *signals; /* paragraph after the options */
};

/* Parse argv into *out. Returns -1 when the daemon should go on, or the
 * exit status to leave with: 0 after --help or --version (printed to
 * stdout), 2 after a usage error (reported on stderr with the usage). */
int ifmon_cli_parse(int argc, char **argv, const struct ifmon_cli_text *text,
                    struct ifmon_cli *out);

#endif
