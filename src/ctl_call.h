/* ctl_call.h - callhookctl call: create, hang up, play, cancel, invite and
 * remove, against the Call Automation REST API (the real service or
 * callhookd-emulator), signed with the configured connection string.
 *
 * It shares no option parsing with the journal commands: those read a
 * database, this one talks to a service, so it takes the whole command line
 * and parses it with its own option table (callhookctl(1), "call").
 */
#ifndef CH_CTL_CALL_H
#define CH_CTL_CALL_H

#include <stdbool.h>

/* Exit statuses: the same split as the rest of callhookctl. */
#define CTL_CALL_EXIT_FAILED 1 /* the request failed: unreachable, or an error answer */
#define CTL_CALL_EXIT_USAGE  2 /* bad arguments, configuration or connection string */

/* Whether the first command word of argv is "call" (options before it, with
 * their values, skipped). */
bool ctl_call_is_command(int argc, char **argv);
/* Run "callhookctl ... call SUBCOMMAND ..."; returns the exit status. */
int ctl_call_main(int argc, char **argv);

#endif
