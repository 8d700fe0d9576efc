"""The simulated fleet and its simulated hardware, for `pantau-agent simulate` and the demo.

Imported lazily: `pantau-agent run` and `probe` never load it.
"""
