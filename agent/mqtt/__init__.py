"""The agent's MQTT side; `publisher` is the agent's only paho import."""
