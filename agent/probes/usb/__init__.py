"""The USB probe, self-contained: `backend` (the only pyusb import), `inventory`
(pure matching of what is attached against the expected kit) and `probe`."""
