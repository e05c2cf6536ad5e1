/* dgram serve: the daemon (serve.c) and its manual (serve_help.c). */
#ifndef DGRAM_TOOL_SERVE_H
#define DGRAM_TOOL_SERVE_H

enum {
    SERVE_OK = 0,
    SERVE_FAIL = 1,    /* a service could not start, or a runtime failure */
    SERVE_USAGE = 2,   /* bad command line */
    SERVE_CONFIG = 78  /* the configuration file has errors (sysexits' EX_CONFIG) */
};

/* argv[0] is "serve"; argv[-1] must be the program as run (re-executed on
 * SIGUSR2). Returns the exit status. */
int serve_main(int argc, char **argv);

/* The manual: a NULL-terminated list of sections. */
const char *const *serve_help(void);

#endif
