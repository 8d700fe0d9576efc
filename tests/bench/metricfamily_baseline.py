"""prometheus_client custom collector (MetricFamily style) over a rendered /metrics file."""
# ruff: noqa
import json, sys, time, re
from prometheus_client.core import CollectorRegistry, GaugeMetricFamily, CounterMetricFamily
from prometheus_client import generate_latest
families, types, order = {}, {}, []
line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
for raw in open(sys.argv[1], encoding="utf-8"):
    if raw.startswith("# TYPE "):
        _, _, name, kind = raw.split()
        types[name] = kind; order.append(name); families[name] = []
        continue
    if raw.startswith("#") or not raw.strip():
        continue
    name, labels, value = line_re.match(raw).groups()
    fam = name[:-len("_total")] if name.endswith("_total") and name not in families else name
    pairs = label_re.findall(labels or "")
    families.setdefault(fam, []).append(([k for k, _ in pairs], [v for _, v in pairs], float(value)))
class FleetCollector:
    def collect(self):
        for name in order:
            samples = families[name]
            keys = samples[0][0] if samples else []
            cls = CounterMetricFamily if types[name] == "counter" else GaugeMetricFamily
            base = name[:-len("_total")] if cls is CounterMetricFamily and name.endswith("_total") else name
            fam = cls(base, "help", labels=keys)
            for _, values, value in samples:
                fam.add_metric(values, value)
            yield fam
registry = CollectorRegistry()
registry.register(FleetCollector())
times = []
for _ in range(int(sys.argv[2])):
    t0 = time.perf_counter(); generate_latest(registry); times.append(time.perf_counter() - t0)
print(json.dumps({"baseline_s": sorted(times)[len(times) // 2]}))
