#!/usr/bin/env python3
"""List what a page asked the network for: `netlog_page_requests.py NET.json`.

Reads a Chromium net log (--log-net-log) and prints every URL request the
page started (its network isolation key names the file:// page) other than
file:// URLs; the browser's own background requests (component updater,
time check: initiator "not an origin") are not the page's and are skipped.
Exits 1 if the page requested anything.
"""
import json
import sys

log = json.load(open(sys.argv[1]))
names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
found = set()
for event in log["events"]:
    params = event.get("params") or {}
    if names.get(event["type"]) != "URL_REQUEST_START_JOB":
        continue
    url = params.get("url", "")
    from_page = "file://" in str(params.get("network_isolation_key", "")) or params.get(
        "initiator"
    ) not in (None, "not an origin")
    if from_page and not url.startswith("file:"):
        found.add(url)
for url in sorted(found):
    print(f"page requested {url}")
sys.exit(1 if found else 0)
