/* ctl_report.c - callhookctl report: read the views of schema/008_reports.sql.
 *
 * Each report names its columns instead of SELECT *: the JSON keys and CSV
 * headers are an interface scripts rely on, so a column added to a view for
 * sqlite3 users must not change them.  The *_us columns only filter and
 * order.
 */
#include "ctl_report.h"

#include <string.h>

struct ctl_report {
	const char *name;
	bool takes_call;
	const char *sql;
};

/* --since/--until: the call's start (calls), the row's event time
 * (participants), the call's first tone (dtmf), the operation's start
 * (media), days that overlap the range (daily). */
static const struct ctl_report reports[] = {
    {"calls", true,
     "SELECT call_id, started_at, established_at, ended_at, duration_s, final_state,"
     " peak_participants, conversation_id, correlation_id FROM report_calls"
     " WHERE (:since IS NULL OR started_us >= :since)"
     "   AND (:until IS NULL OR started_us < :until)"
     "   AND (:call IS NULL OR call_id = :call)"
     " ORDER BY started_us, call_id"},
    {"participants", true,
     "SELECT call_id, event_time, participant_key, kind, action, event_id"
     " FROM report_participants"
     " WHERE (:since IS NULL OR event_time_us >= :since)"
     "   AND (:until IS NULL OR event_time_us < :until)"
     "   AND (:call IS NULL OR call_id = :call)"
     " ORDER BY call_id, event_time_us, event_id, participant_key, action"},
    {"dtmf", true,
     "SELECT call_id, tones, tone_count, first_at, last_at FROM report_dtmf"
     " WHERE (:since IS NULL OR first_us >= :since)"
     "   AND (:until IS NULL OR first_us < :until)"
     "   AND (:call IS NULL OR call_id = :call)"
     " ORDER BY first_us, call_id"},
    {"media", true,
     "SELECT call_id, operation_context, kind, outcome, code, subcode, message, started_at,"
     " ended_at, event_type FROM report_media"
     " WHERE (:since IS NULL OR started_us >= :since)"
     "   AND (:until IS NULL OR started_us < :until)"
     "   AND (:call IS NULL OR call_id = :call)"
     " ORDER BY started_us, call_id, operation_context"},
    {"daily", false,
     "SELECT day, calls, completed, avg_duration_s, tones, failed_media FROM report_daily"
     " WHERE (:since IS NULL OR day_us + 86400000000 > :since)"
     "   AND (:until IS NULL OR day_us < :until)"
     " ORDER BY day_us"},
};

const struct ctl_report *ctl_report_find(const char *name)
{
	for (size_t i = 0; i < sizeof(reports) / sizeof(reports[0]); i++) {
		if (strcmp(reports[i].name, name) == 0)
			return &reports[i];
	}
	return NULL;
}

bool ctl_report_takes_call(const struct ctl_report *r)
{
	return r->takes_call;
}

int ctl_report_run(sqlite3 *db, const struct ctl_report *r, const struct ctl_filter *f,
                   const struct ctl_print *p, struct ch_error *err)
{
	sqlite3_stmt *st;
	int rc;

	if (ctl_prepare(db, r->sql, &st, err) < 0)
		return -1;
	rc = ctl_bind(st, f, err);
	if (rc == 0)
		rc = ctl_print_rows(st, p, NULL, err);
	sqlite3_finalize(st);
	return rc;
}
