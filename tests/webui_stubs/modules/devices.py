"""Stand-in for modules/devices.py (v1.10.1): `cpu`, `device`, `device_interrogate`,
`torch_gc()` (counted, so tests see the host's memory being freed)."""
cpu = "cpu"
device = "cpu"
device_interrogate = "cpu"
gc_calls = 0


def torch_gc():
    global gc_calls
    gc_calls += 1
