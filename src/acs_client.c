/* acs_client.c - see acs_client.h.
 *
 * The request is signed over exactly what httpc sends: the path and query
 * and the Host value both come from the one parsed URL, so a port in the
 * endpoint is signed the way it appears on the wire.
 */
#include "acs_client.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int ch_acs_request(const struct ch_acs_credentials *creds, const char *method,
                   const char *path_and_query, const char *body, size_t body_len, int timeout_ms,
                   size_t max_response, struct ch_http_response *resp, struct ch_error *err)
{
	char full[sizeof(creds->endpoint) + 2048];
	char date[CH_ACS_DATE_LEN], hash[CH_ACS_HASH_LEN], auth[CH_ACS_AUTH_LEN];
	char h_date[16 + CH_ACS_DATE_LEN], h_hash[24 + CH_ACS_HASH_LEN];
	char h_auth[16 + CH_ACS_AUTH_LEN];
	const char *headers[6];
	struct ch_url url;
	struct ch_http_request req;
	int n;

	if (path_and_query[0] != '/')
		return ch_error_set(err, 500, "InternalError", "request path must start with '/'");
	n = snprintf(full, sizeof(full), "%s%s", creds->endpoint, path_and_query);
	if (n < 0 || (size_t)n >= sizeof(full))
		return ch_error_set(err, 500, "InternalError", "request URL is too long");
	if (ch_url_parse(full, &url, err) < 0)
		return -1;
	if (body == NULL)
		body_len = 0;
	ch_acs_date(time(NULL), date);
	ch_acs_content_hash(body, body_len, hash);
	if (ch_acs_authorization(creds->key, creds->key_len, method, url.path, date,
	                         url.host_header, hash, auth, sizeof(auth)) < 0)
		return ch_error_set(err, 500, "InternalError", "could not sign the request");
	snprintf(h_date, sizeof(h_date), "x-ms-date: %s", date);
	snprintf(h_hash, sizeof(h_hash), "x-ms-content-sha256: %s", hash);
	snprintf(h_auth, sizeof(h_auth), "Authorization: %s", auth);
	headers[0] = h_date;
	headers[1] = h_hash;
	headers[2] = h_auth;
	headers[3] = "Content-Type: application/json";
	headers[4] = "Accept: application/json";
	headers[5] = NULL;

	memset(&req, 0, sizeof(req));
	req.method = method;
	req.url = &url;
	req.headers = headers;
	req.body = body;
	req.body_len = body_len;
	req.timeout_ms = timeout_ms;
	return ch_http_send(&req, max_response, resp, err);
}
