"""A private central stack on loopback ports: Mosquitto, the collector, Prometheus,
Alertmanager and a simulated fleet. `make demo` and the end-to-end tests use it."""
