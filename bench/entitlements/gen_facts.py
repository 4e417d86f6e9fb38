#!/usr/bin/env python3
"""Synthetic facts for the entitlement benchmark (docs/benchmarks.md): N persons as JSON Lines,
deterministic for a seed. Mix: war invalids (rates 21-100, some type B, some especially severe),
sick soldiers (41-100), people imprisoned by the enemy, martyrs' relatives (1 or 2 martyrs), and
social-assistance beneficiaries (k4, k5b, k6 severe/especially severe, k8, and k4 with k8). About
a tenth of the records start during the year, so that monthly starts are exercised.

    bench/entitlements/gen_facts.py 1000000 > /tmp/ent/facts.jsonl
"""
import json
import random
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 2024)
out = sys.stdout
for i in range(n):
    start = "2021-07-01" if rng.random() < 0.9 else f"2024-{rng.randint(1, 12):02d}-01"
    kind = rng.random()
    p = {"person": f"P{i:07d}"}
    if kind < 0.30:
        rate = rng.randint(21, 100)
        m = {"category": "g", "from": start, "injury_rate": rate}
        if rng.random() < 0.05:
            m["type_b"] = True
        if rate >= 81 and rng.random() < 0.3:
            m["especially_severe"] = True
        p.update(birth_date=str(rng.randint(1940, 1970)), merit=[m])
    elif kind < 0.38:
        p.update(birth_date=str(rng.randint(1940, 1965)), merit=[{"category": "h", "from": start, "injury_rate": rng.randint(41, 100)}])
    elif kind < 0.42:
        p.update(birth_date=str(rng.randint(1935, 1960)), merit=[{"category": "k", "from": start}])
    elif kind < 0.62:
        p.update(birth_date=str(rng.randint(1930, 1975)), merit=[{"category": "relative", "from": start, "of_category": "c", "martyrs_count": 1 if rng.random() < 0.9 else 2}])
    else:
        g = rng.choice(["k4", "k5b", "k6s", "k6e", "k8", "k4k8"])
        year = {"k4": (1975, 2000), "k5b": (1945, 1950), "k6s": (1940, 2015), "k6e": (1940, 2015), "k8": (1960, 2000), "k4k8": (1975, 2000)}[g]
        born = f"{rng.randint(*year)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        if g == "k4k8":
            a = [{"group": "k4", "from": start}, {"group": "k8", "from": start}]
        elif g.startswith("k6"):
            a = [{"group": "k6", "from": start, "disability_level": "severe" if g == "k6s" else "especially_severe"}]
        else:
            a = [{"group": g, "from": start}]
        p.update(birth_date=born, assistance=a)
    out.write(json.dumps(p, separators=(",", ":")) + "\n")
