/* ctl_report.h - callhookctl report: the reporting views of 008_reports.sql. */
#ifndef CH_CTL_REPORT_H
#define CH_CTL_REPORT_H

#include <stdbool.h>

#include <sqlite3.h>

#include "ctl_output.h"
#include "error.h"

struct ctl_report;

/* calls, participants, dtmf, media or daily; NULL for any other name. */
const struct ctl_report *ctl_report_find(const char *name);
/* Whether --call narrows this report (daily sums over every call). */
bool ctl_report_takes_call(const struct ctl_report *r);
/* The report's rows within f (--since, --until on the call's start or the
 * row's event time, --call), printed as p says. */
int ctl_report_run(sqlite3 *db, const struct ctl_report *r, const struct ctl_filter *f,
                   const struct ctl_print *p, struct ch_error *err);

#endif
