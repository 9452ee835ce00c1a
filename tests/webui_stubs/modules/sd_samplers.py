"""Stand-in for modules/sd_samplers.py (v1.10.1): `all_samplers` (SamplerData with `.name`)
and `visible_samplers()` (the samplers not hidden in the settings)."""


class SamplerData:
    def __init__(self, name):
        self.name = name


all_samplers = [SamplerData(n) for n in ("DPM++ 2M", "Euler a", "Euler", "DDIM")]


def visible_samplers():
    return list(all_samplers)
