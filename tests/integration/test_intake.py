"""Intake over HTTP: every envelope form, handshakes, validation, dedupe, routing."""

import glob
import json
import os
import uuid

import chtest
from chtest import Daemon, error_of, expect, fixture



def preview_event(call="531f3600-481f-41c8-8a75-3e8b2e8e6200", state="Established",
                  time="2021-05-05T20:08:59.5783985Z"):
    return {"id": None, "topic": None, "subject": "callLeg/%s/callState" % call,
            "data": {"ConversationId": None, "CallLegId": call, "CallState": state},
            "eventType": "Microsoft.Communication.CallLegStateChanged", "eventTime": time,
            "metadataVersion": None, "dataVersion": None}


def cloud_event(type_="Microsoft.Communication.CallConnected", conn=None, eid=None):
    conn = conn or str(uuid.uuid4())
    return {"id": eid or str(uuid.uuid4()), "source": "calling/callConnections/" + conn,
            "type": type_, "specversion": "1.0", "datacontenttype": "application/json",
            "time": "2025-06-16T20:52:32.9896642+00:00",
            "subject": "calling/callConnections/" + conn,
            "data": {"callConnectionId": conn, "serverCallId": "c2VydmVy",
                     "correlationId": str(uuid.uuid4())}}


def eventgrid_event(type_="Microsoft.Communication.IncomingCall", eid=None):
    return {"id": eid or str(uuid.uuid4()),
            "topic": "/subscriptions/0000/resourceGroups/rg/providers/"
                     "Microsoft.Communication/communicationServices/acs",
            "subject": "/caller/4:+15551234567/recipient/8:acs:abc",
            "data": {"to": {"rawId": "8:acs:abc"}, "from": {"rawId": "4:+15551234567"},
                     "serverCallId": "c2VydmVy", "incomingCallContext": "eyJhbGciOi"},
            "eventType": type_, "dataVersion": "1.0", "metadataVersion": "1",
            "eventTime": "2025-06-16T20:52:32.123Z"}


def accepted(status, body, n, dupes=0):
    expect(status == 200, "status %s body %r" % (status, body))
    doc = json.loads(body)
    expect(doc.get("accepted") == n and doc.get("duplicates") == dupes,
           "expected accepted=%d duplicates=%d, got %r" % (n, dupes, doc))
    return doc


def test_every_seed_event_is_journaled_as_sent():
    files = sorted(glob.glob(os.path.join(chtest.FIXTURES, "seed", "*.json")))
    expect(len(files) >= 9, "seed fixtures missing: %r" % files)
    with Daemon() as d:
        for path in files:
            raw = open(path, "rb").read()
            status, _, body = d.post(raw)
            accepted(status, body, 1)
            sent = json.loads(raw)
            row = d.query("SELECT * FROM events ORDER BY id DESC LIMIT 1")[0]
            expect(row["format"] == "preview", row)
            expect(row["event_type"] == sent["eventType"], row)
            expect(row["call_id"] == sent["data"]["CallLegId"], row)
            expect(row["subject"] == sent["subject"], row)
            expect(json.loads(row["raw"]) == sent, "raw differs for %s" % path)
            expect(row["raw"].encode() == raw.strip(), "raw not byte-identical: %s" % path)
            expect(row["remote_addr"].startswith("127.0.0.1:"), row)
            expect(row["endpoint"] == "/events", row)
        expect(d.count() == len(files), "row count")
        # the seed's cancelled play keeps its result code for handlers
        cancelled = d.query("SELECT raw FROM events WHERE raw LIKE '%8508%'")
        expect(len(cancelled) == 1, cancelled)


def test_event_time_is_normalised_to_utc_microseconds():
    with Daemon() as d:
        ev = cloud_event()
        ev["time"] = "2025-06-16T22:52:32.9896642+02:00"
        accepted(*d.post([ev])[::2], 1)
        row = d.query("SELECT event_time, event_time_us FROM events")[0]
        expect(row["event_time"] == "2025-06-16T20:52:32.989664Z", row)
        expect(row["event_time_us"] == 1750107152989664, row)


def test_cloudevents_array_structured_and_batch_modes():
    with Daemon() as d:
        batch = [cloud_event(), cloud_event("Microsoft.Communication.ParticipantsUpdated")]
        accepted(*d.post(batch)[::2], 2)
        accepted(*d.post(cloud_event(), content_type="application/cloudevents+json")[::2], 1)
        accepted(*d.post([cloud_event(), cloud_event()],
                         content_type="application/cloudevents-batch+json")[::2], 2)
        rows = d.query("SELECT format, event_type, call_id, source FROM events ORDER BY id")
        expect(len(rows) == 5 and all(r["format"] == "cloudevents" for r in rows), rows)
        expect(rows[0]["call_id"] == batch[0]["data"]["callConnectionId"], rows[0])
        expect(rows[0]["source"] == batch[0]["source"], rows[0])


def test_cloudevents_binary_mode():
    with Daemon() as d:
        conn = str(uuid.uuid4())
        data = {"callConnectionId": conn, "serverCallId": "c2VydmVy"}
        headers = {"ce-specversion": "1.0", "ce-id": "bin-1", "ce-type":
                   "Microsoft.Communication.CallDisconnected",
                   "ce-source": "calling/callConnections/" + conn,
                   "ce-time": "2025-06-16T20:52:33Z", "ce-subject": "calling/x"}
        accepted(*d.post(json.dumps(data), headers=headers)[::2], 1)
        row = d.query("SELECT * FROM events")[0]
        expect(row["event_type"] == "Microsoft.Communication.CallDisconnected", row)
        expect(row["call_id"] == conn and row["event_id"] == "bin-1", row)
        stored = json.loads(row["raw"])
        expect(stored["data"] == data and stored["specversion"] == "1.0", stored)
        # missing ce-id: rejected, naming the header
        del headers["ce-id"]
        status, _, body = d.post(json.dumps(data), headers=headers)
        expect(status == 400 and "ce-id" in error_of(body)["message"], body)


def test_eventgrid_batch_and_subscription_validation():
    with Daemon() as d:
        accepted(*d.post([eventgrid_event(), eventgrid_event()])[::2], 2)
        rows = d.query("SELECT format, source FROM events")
        expect(all(r["format"] == "eventgrid" for r in rows), rows)
        validation = [{"id": str(uuid.uuid4()), "topic": "/subscriptions/x", "subject": "",
                       "data": {"validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6",
                                "validationUrl": "https://rp-eastus2.eventgrid.azure.net/x"},
                       "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
                       "eventTime": "2025-06-16T20:52:32Z", "metadataVersion": "1",
                       "dataVersion": "1"}]
        status, _, body = d.post(validation, headers={"aeg-event-type": "SubscriptionValidation"})
        expect(status == 200, body)
        expect(json.loads(body)["validationResponse"] == "512d38b6-c7b8-40c8-89fe-f46f9e9622b6",
               body)
        expect(d.count() == 2, "the handshake must not be journaled")


def test_cloudevents_webhook_handshake():
    with Daemon() as d:
        status, headers, _ = d.request("OPTIONS", "/events",
                                       headers={"WebHook-Request-Origin": "eventgrid.azure.net",
                                                "WebHook-Request-Rate": "120"})
        expect(status == 200, status)
        expect(headers.get("webhook-allowed-origin") == "eventgrid.azure.net", headers)
        expect(headers.get("webhook-allowed-rate") == "*", headers)
        expect("POST" in headers.get("allow", ""), headers)
    config = "[endpoint /events]\nallowed_origin = eventgrid.azure.net\nallowed_rate = 100\n"
    with Daemon(config=config) as d:
        status, headers, body = d.request("OPTIONS", "/events",
                                          headers={"WebHook-Request-Origin": "evil.example"})
        expect(status == 403 and "webhook-allowed-origin" not in headers, headers)
        error_of(body)
        status, headers, _ = d.request("OPTIONS", "/events",
                                       headers={"WebHook-Request-Origin": "EventGrid.Azure.net"})
        expect(status == 200 and headers.get("webhook-allowed-rate") == "100", headers)


def test_unknown_future_event_type_is_accepted():
    with Daemon() as d:
        ev = cloud_event("Microsoft.Communication.SomethingNew2031")
        ev["data"]["brandNewField"] = {"nested": [1, 2, 3]}
        accepted(*d.post([ev])[::2], 1)
        expect(d.count("event_type = ?", (ev["type"],)) == 1, "not stored")


def test_redelivery_is_acknowledged_and_stored_once():
    with Daemon() as d:
        ce = cloud_event()
        accepted(*d.post([ce])[::2], 1)
        ce2 = dict(ce, data=dict(ce["data"], extra=1))  # same source+id, other bytes
        accepted(*d.post([ce2])[::2], 0, 1)
        eg = eventgrid_event()
        accepted(*d.post([eg, eg])[::2], 1, 1)
        pv = preview_event()
        accepted(*d.post(pv)[::2], 1)
        accepted(*d.post(pv)[::2], 0, 1)
        accepted(*d.post(preview_event(state="Terminated"))[::2], 1)
        expect(d.count() == 4, "rows: %d" % d.count())


def test_invalid_event_rejects_the_whole_batch():
    with Daemon() as d:
        bad = cloud_event()
        del bad["source"]
        status, _, body = d.post([cloud_event(), cloud_event(), bad])
        expect(status == 400, status)
        err = error_of(body)
        expect(err["code"] == "InvalidEvent", err)
        expect("event 2" in err["message"] and "source" in err["message"], err)
        bad_time = preview_event(time="2021-13-45T99:00:00Z")
        status, _, body = d.post([preview_event(), bad_time])
        err = error_of(body)
        expect(status == 400 and "event 1" in err["message"] and "eventTime" in err["message"],
               err)
        expect(d.count() == 0, "nothing from a rejected batch may be stored")


def test_malformed_fixtures_get_clear_errors():
    files = sorted(glob.glob(os.path.join(chtest.FIXTURES, "malformed", "*")))
    expect(len(files) >= 10, "malformed fixtures missing")
    with Daemon() as d:
        for path in files:
            status, _, body = d.post(open(path, "rb").read())
            expect(status in (400, 413), "%s: status %s" % (path, status))
            err = error_of(body)
            expect(err["message"], path)
        expect(d.count() == 0, "a malformed request stored something")
        expect(d.alive(), "daemon died")


def test_bodies_that_are_not_events():
    with Daemon() as d:
        for body, code in [(b"", "EmptyBody"), (b"   ", "EmptyBody"), (b"42", "InvalidEnvelope"),
                           (b'"x"', "InvalidEnvelope"), (b"[]", "EmptyBatch"),
                           (b"{\"a\":", "InvalidJson"), (b"[1, 2]", "InvalidEvent"),
                           (b'{"eventType": "\xff\xfe"}', "InvalidUtf8")]:
            status, _, resp = d.post(body)
            err = error_of(resp)
            expect(status == 400 and err["code"] == code, "%r -> %s %r" % (body, status, err))
        status, _, resp = d.post(b"a=b", content_type="application/x-www-form-urlencoded")
        expect(status == 415 and error_of(resp)["code"] == "UnsupportedMediaType", resp)
        status, _, resp = d.post(json.dumps(cloud_event()), content_type=None)
        expect(status == 200, "a missing Content-Type is treated as JSON: %r" % resp)


def test_routing_methods_and_health():
    with Daemon() as d:
        status, _, body = d.request("GET", "/nope?code=secret")
        err = error_of(body)
        expect(status == 404 and "secret" not in err["message"], err)
        status, headers, body = d.request("GET", "/events")
        expect(status == 405 and "POST" in headers.get("allow", ""), headers)
        error_of(body)
        status, headers, body = d.request("DELETE", "/healthz")
        expect(status == 405, status)
        status, _, body = d.request("GET", "/healthz")
        expect(status == 200 and json.loads(body) == {"status": "ok"}, body)
        status, _, body = d.request("GET", "/readyz")
        expect(status == 200 and json.loads(body) == {"status": "ready"}, body)
        status, headers, body = d.request("HEAD", "/healthz")
        expect(status == 200 and body == b"", body)
        expect("x-request-id" in headers, headers)


def test_several_endpoints_each_with_its_own_path():
    config = "[endpoint /acs/callbacks]\n\n[endpoint /eventgrid]\n"
    with Daemon(config=config) as d:
        accepted(*d.post([cloud_event()], path="/acs/callbacks")[::2], 1)
        accepted(*d.post([eventgrid_event()], path="/eventgrid")[::2], 1)
        status, _, _ = d.post([cloud_event()], path="/events")
        expect(status == 404, "the default path must be gone once endpoints are configured")
        rows = d.query("SELECT endpoint FROM events ORDER BY id")
        expect([r["endpoint"] for r in rows] == ["/acs/callbacks", "/eventgrid"], rows)


def test_keep_alive_and_pipelining():
    with Daemon() as d:
        one = json.dumps(cloud_event()).encode()
        two = json.dumps(cloud_event()).encode()
        req = b""
        for body in (one, two):
            req += (b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(body)) + body
        req += b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        out = d.raw(req)
        expect(out.count(b"HTTP/1.1 200 OK") == 3, out)
        expect(d.count() == 2, "pipelined events stored")


if __name__ == "__main__":
    chtest.run(globals())
