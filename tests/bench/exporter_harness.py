"""Runs mqtt-exporter (PyPI) in its own venv, counting handled messages; see collector.py."""
# ruff: noqa
import json, os, sys, time, types, functools
import paho.mqtt.client as paho
from mqtt_exporter import main as m
expected, deadline = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
state = {"n": 0, "first": 0.0}
original = m.expose_metrics
def counted(client, userdata, msg):
    now = time.perf_counter()
    state["first"] = state["first"] or now
    original(client, userdata, msg)
    state["n"] += 1
    if state["n"] >= expected or time.monotonic() > deadline:
        print(json.dumps({"count": state["n"], "rate": state["n"] / max(now - state["first"], 1e-9)}), flush=True)
        os._exit(0)
m.expose_metrics = counted
# Only change: a persistent session, so it drains the same queued stream.
m.mqtt = types.SimpleNamespace(**{**vars(paho), "Client": functools.partial(paho.Client, clean_session=False)})
m.run()
