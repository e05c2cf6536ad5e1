/* Error text: negative errno values, and per-reactor messages naming what failed. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include "reactor.h"

const char *dg_strerror(int err)
{
    switch (err) {
    case DG_ERR_NAME_NOT_FOUND: return "name not found";
    case DG_ERR_NAME_TEMPORARY: return "temporary failure in name resolution";
    case DG_ERR_NAME_FAILED: return "name resolution failed";
    default: break;
    }
    /* strerror() may share a static buffer between threads; the table
     * behind strerrordesc_np() does not. */
    const char *s = err == INT_MIN ? NULL : strerrordesc_np(err < 0 ? -err : err);
    if (s)
        return s;
    static _Thread_local char unknown[32];
    snprintf(unknown, sizeof unknown, "Unknown error %d", err);
    return unknown;
}

const char *dg_reactor_last_error(const dg_reactor *r)
{
    return r ? r->last_error : "";
}

static int record(dg_reactor *r, int err, const char *why, const char *fmt, va_list ap)
{
    int n = vsnprintf(r->last_error, sizeof r->last_error, fmt, ap);
    if (n >= 0 && (size_t)n < sizeof r->last_error)
        snprintf(r->last_error + n, sizeof r->last_error - (size_t)n, "%s%s.", why ? ": " : "",
                 why ? why : "");
    return err;
}

int dg__fail(dg_reactor *r, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(r, err, dg_strerror(err), fmt, ap);
    va_end(ap);
    return err;
}

int dg__refuse(dg_reactor *r, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(r, err, NULL, fmt, ap);
    va_end(ap);
    return err;
}

void dg__log(dg_reactor *r, const char *fmt, ...)
{
    if (!r->log)
        return;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    r->log(r, line, r->log_arg);
}
