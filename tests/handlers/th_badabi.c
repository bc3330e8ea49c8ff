/* th_badabi.c - a module built for a future ABI major: the host must refuse it. */
#include <callhookd/handler.h>

static enum ch_result handle(void *state, const struct ch_event *ev)
{
	(void)state;
	(void)ev;
	return CH_OK;
}

static const char *const patterns[] = {"*", NULL};

static const struct ch_handler descriptor = {
    .abi_major = CH_ABI_MAJOR + 1,
    .abi_minor = 0,
    .size = sizeof(struct ch_handler),
    .name = "th_badabi",
    .event_types = patterns,
    .handle = handle,
};

const struct ch_handler *ch_handler_entry(uint32_t host_major, uint32_t host_minor)
{
	(void)host_major;
	(void)host_minor;
	return &descriptor;
}
