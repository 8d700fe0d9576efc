"""The collector's MQTT side: `paho_loop` (the only paho import) and `session`."""
