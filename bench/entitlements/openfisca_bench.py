#!/usr/bin/env python3
"""The same entitlement rules in OpenFisca (openfisca-core), on the same facts and the same
policy packs, for the benchmark of docs/benchmarks.md. Run by bench/entitlements/run.sh, which
installs openfisca-core into a virtualenv.

Covers the rules the generated facts exercise (gen_facts.py): war invalids by rate (Appendices
II and III) with the >= 81 % supplements, sick soldiers by band with the supplement, people
imprisoned by the enemy, martyrs' relatives (1 or 2 martyrs), and social assistance (k4, k5b,
k6 by age and level, k8; the highest coefficient, k4 on top). Amounts and dates are read from
the policy pack CSV/TOML files, as OpenFisca parameters with their dates.

    openfisca_bench.py FACTS.jsonl POLICIES_DIR 2024-01 2024-12
"""
import csv
import json
import sys
import time
import tomllib

import numpy as np
from openfisca_core import periods
from openfisca_core.entities import build_entity
from openfisca_core.parameters import ParameterNode
from openfisca_core.simulation_builder import SimulationBuilder
from openfisca_core.taxbenefitsystems import TaxBenefitSystem
from openfisca_core.variables import Variable

facts_path, policies, first, last = sys.argv[1:5]

# ---- parameters from the packs ----
def dated(rows):
    return {"values": {f"{from_}-01": {"value": value} for from_, value in rows}}

merit_pack = tomllib.load(open(f"{policies}/nguoi-co-cong/pack.toml", "rb"))
assist_pack = tomllib.load(open(f"{policies}/tro-giup-xa-hoi/pack.toml", "rb"))
params = {"tgxh": {}, "items": {}, "invalid": {"tb": {}, "b": {}}}
for p in assist_pack["parameter"]:
    if p["name"] == "muc_chuan_tro_giup":
        params["tgxh"]["muc_chuan"] = dated([(r["from"], r["value"]) for r in p["rows"]])
items = {}
for r in csv.DictReader(open(f"{policies}/nguoi-co-cong/monthly_amounts.csv", encoding="utf-8")):
    items.setdefault(r["item"].replace(".", "_"), []).append((r["applies_from"], int(r["amount_vnd"])))
for k, rows in items.items():
    params["items"]["i" + k] = dated(rows)
inv = {}
for r in csv.DictReader(open(f"{policies}/nguoi-co-cong/war_invalid_by_rate.csv", encoding="utf-8")):
    s = "tb" if r["series"] == "thuong_binh" else "b"
    inv.setdefault((s, r["injury_rate_pct"]), []).append((r["applies_from"], int(r["amount_vnd"])))
for (s, rate), rows in inv.items():
    params["invalid"][s][f"r{rate}"] = dated(rows)
coef = {}
for r in csv.DictReader(open(f"{policies}/tro-giup-xa-hoi/coefficients.csv", encoding="utf-8")):
    coef[(r["group"], r["condition"], r["disability_level"])] = float(r["coefficient"])

# ---- the tax-benefit system ----
Person = build_entity(key="person", plural="persons", label="Person", is_person=True)
tbs = TaxBenefitSystem([Person])
tbs.parameters = ParameterNode("", data=params)
ETERNITY, MONTH = periods.DateUnit.ETERNITY, periods.DateUnit.MONTH


def var(name, dtype, period=ETERNITY, formula=None, default=0):
    attrs = {"value_type": dtype, "entity": Person, "definition_period": period, "label": name, "default_value": default}
    if formula is not None:
        attrs["formula"] = formula
    tbs.add_variable(type(name, (Variable,), attrs))


for name in ["category", "injury_rate", "martyrs", "start", "born_y", "born_m", "born_d", "k6_level"]:
    var(name, int)
for name in ["type_b", "esp", "k4", "k5b", "k8"]:
    var(name, bool, default=False)


def month_of(period):
    return period.start.year * 12 + period.start.month - 1


def merit(person, period, parameters):
    p = parameters(period)
    cat = person("category", period)
    rate = person("injury_rate", period)
    active = person("start", period) <= month_of(period)
    keys = np.char.add("r", np.clip(rate, 21, 100).astype(str))
    tb = p.invalid.tb[keys]
    b = p.invalid.b[keys]
    it = p.items
    g = np.where(person("type_b", period), b, tb) + np.where(
        rate >= 81, np.where(person("esp", period), it.i6_1ps, it.i6_1p), 0)
    band = np.select(
        [rate <= 50, rate <= 60, rate <= 70, rate <= 80, rate <= 90],
        [it.i7_1a, it.i7_1b, it.i7_1c, it.i7_1d, it.i7_1e], it.i7_1f)
    h = band + np.where(rate >= 81, it.i7_1p, 0)
    rel = np.where(person("martyrs", period) >= 2, it.i3_2, it.i3_1)
    amount = np.select([cat == 1, cat == 2, cat == 3, cat == 4], [g, h, it.i9, rel], 0)
    return np.where(active, amount, 0)


def assistance(person, period, parameters):
    level = parameters(period).tgxh.muc_chuan
    y, m = period.start.year, period.start.month
    by, bm, bd = person("born_y", period), person("born_m", period), person("born_d", period)
    age = y - by - ((m < bm) | ((m == bm) & (1 < bd)))
    active = person("start", period) <= month_of(period)
    k6 = person("k6_level", period)
    adult = (age >= 16) & (age < 60)
    c6 = np.select(
        [k6 == 1, k6 == 2],
        [np.where(adult, coef[("k6", "adult", "severe")], coef[("k6", "child_or_elderly", "severe")]),
         np.where(adult, coef[("k6", "adult", "especially_severe")], coef[("k6", "child_or_elderly", "especially_severe")])], 0)
    c5b = np.where(person("k5b", period), coef[("k5b", "any", "")], 0)
    c8 = np.where(person("k8", period), coef[("k8", "any", "")], 0)
    best = np.maximum(np.maximum(c6, c5b), c8)
    c4 = np.where(person("k4", period), coef[("k4", "any", "")], 0)
    # standard level x coefficient, rounded half-up to 1,000 dong
    amount = np.floor((level * best) / 1000 + 0.5) * 1000 + np.floor((level * c4) / 1000 + 0.5) * 1000
    return np.where(active, amount, 0)


# integer đồng (OpenFisca's float is float32, which loses đồng on sums)
var("merit_allowance", int, MONTH, lambda person, period, parameters: merit(person, period, parameters).astype(np.int32))
var("assistance_allowance", int, MONTH, lambda person, period, parameters: assistance(person, period, parameters).astype(np.int32))
var("total_allowance", int, MONTH, lambda person, period: person("merit_allowance", period) + person("assistance_allowance", period))

# ---- the facts ----
t0 = time.time()
rows = [json.loads(line) for line in open(facts_path, encoding="utf-8")]
n = len(rows)
cols = {k: np.zeros(n, dtype=np.int32) for k in ["category", "injury_rate", "martyrs", "start", "born_y", "born_m", "born_d", "k6_level"]}
flags = {k: np.zeros(n, dtype=bool) for k in ["type_b", "esp", "k4", "k5b", "k8"]}
CAT = {"g": 1, "h": 2, "k": 3, "relative": 4}
for i, r in enumerate(rows):
    b = r["birth_date"].split("-")
    cols["born_y"][i] = int(b[0])
    cols["born_m"][i] = int(b[1]) if len(b) > 1 else 7
    cols["born_d"][i] = int(b[2]) if len(b) > 2 else 1
    rec = (r.get("merit") or r.get("assistance"))[0]
    y, mo = rec["from"].split("-")[:2]
    cols["start"][i] = int(y) * 12 + int(mo) - 1
    for mrec in r.get("merit", []):
        cols["category"][i] = CAT[mrec["category"]]
        cols["injury_rate"][i] = mrec.get("injury_rate", 0)
        cols["martyrs"][i] = mrec.get("martyrs_count", 0)
        flags["type_b"][i] = mrec.get("type_b", False)
        flags["esp"][i] = mrec.get("especially_severe", False)
    for a in r.get("assistance", []):
        if a["group"] == "k6":
            cols["k6_level"][i] = 1 if a["disability_level"] == "severe" else 2
        else:
            flags[a["group"]][i] = True
del rows
load = time.time() - t0

t0 = time.time()
sim = SimulationBuilder().build_default_simulation(tbs, n)
for k, v in {**cols, **flags}.items():
    sim.set_input(k, periods.period(periods.DateUnit.ETERNITY), v)
setup = time.time() - t0

t0 = time.time()
y0, m0 = map(int, first.split("-"))
y1, m1 = map(int, last.split("-"))
totals = []
y, m = y0, m0
while (y, m) <= (y1, m1):
    totals.append((f"{m:02d}/{y}", int(sim.calculate("total_allowance", f"{y}-{m:02d}").sum(dtype=np.int64))))
    y, m = (y + 1, 1) if m == 12 else (y, m + 1)
compute = time.time() - t0
print(f"persons {n}  months {len(totals)}")
print(f"read facts {load:.2f} s  build simulation {setup:.2f} s")
print(f"openfisca compute: {compute:.2f} s ({n * len(totals) / compute:.0f} person-months/s)")
for mm, t in totals:
    print(f"total {mm}: {t}")
print(f"total: {sum(t for _, t in totals)}")
