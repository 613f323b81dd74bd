"""The generating process of the apartment-rent data set (hidden: the notebook describes it in
words only).

``python apartments.py`` (re)writes ``../data/apartments.csv`` (800 rows, seed 2026); the graders
draw fresh held-out apartments from the same process with other seeds.

Per apartment, in this order (``rng = np.random.default_rng(seed)``):

* ``district`` one of DISTRICTS with probabilities DISTRICT_P;
* ``distance`` to the city centre (km): uniform in the district's range DISTANCE;
* ``rooms`` 1..6: 1 + Binomial(5, 0.35);
* ``area`` (m^2): 18 + 17 * rooms * LogNormal(0, 0.18), one decimal;
* ``age`` of the building (years): 0..130, a mix of new (Exp(8)), post-war (U(40, 75)) and
  old (U(90, 130)) buildings, whole years;
* ``floor`` 0..12: Poisson(2.2), capped at 12;
* ``balcony`` 0/1: Bernoulli(0.35 + 0.2 * (floor > 0));
* ``rent`` (EUR per month), two decimals:
  BASE[district] * area**0.9 * exp(-0.035 * distance) * (1 + 0.15 * balcony)
  * (1 + 0.30 * exp(-age / 8) + 0.18 * sigmoid((age - 95) / 4)) * (1 + 0.03 * min(floor, 5))
  * (1 - 0.06 * (floor == 0)) * LogNormal(0, 0.07).

Then values go missing at random: ``area`` 5 %, ``age`` 12 %, ``district`` 4 % (empty cells in
the CSV). ``rooms``, ``floor``, ``distance``, ``balcony`` and ``rent`` are always present.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

DISTRICTS = ["centre", "harbour", "north", "south", "west"]
DISTRICT_P = [0.18, 0.17, 0.25, 0.22, 0.18]
BASE = {"centre": 24.0, "harbour": 21.0, "north": 15.0, "south": 13.5, "west": 18.0}
DISTANCE = {"centre": (0.2, 2.5), "harbour": (1.5, 5.0), "north": (3.0, 12.0),
            "south": (3.0, 15.0), "west": (2.0, 8.0)}
MISSING = {"area": 0.05, "age": 0.12, "district": 0.04}
COLUMNS = ["district", "area", "rooms", "age", "floor", "distance", "balcony", "rent"]


def make_apartments(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    district = rng.choice(DISTRICTS, size=n, p=DISTRICT_P)
    low = np.array([DISTANCE[d][0] for d in district])
    high = np.array([DISTANCE[d][1] for d in district])
    distance = np.round(rng.uniform(low, high), 2)
    rooms = 1 + rng.binomial(5, 0.35, size=n)
    area = np.round(18 + 17 * rooms * rng.lognormal(0.0, 0.18, size=n), 1)
    kind = rng.choice(3, size=n, p=[0.3, 0.4, 0.3])
    age = np.where(kind == 0, rng.exponential(8.0, size=n),
                   np.where(kind == 1, rng.uniform(40, 75, size=n), rng.uniform(90, 130, size=n)))
    age = np.clip(np.round(age), 0, 130)
    floor = np.minimum(rng.poisson(2.2, size=n), 12)
    balcony = (rng.uniform(size=n) < 0.35 + 0.2 * (floor > 0)).astype(np.int64)
    base = np.array([BASE[d] for d in district])
    rent = (base * area ** 0.9 * np.exp(-0.035 * distance) * (1 + 0.15 * balcony)
            * (1 + 0.30 * np.exp(-age / 8) + 0.18 / (1 + np.exp(-(age - 95) / 4)))
            * (1 + 0.03 * np.minimum(floor, 5)) * (1 - 0.06 * (floor == 0))
            * rng.lognormal(0.0, 0.07, size=n))
    df = pd.DataFrame({"district": district.astype(object), "area": area, "rooms": rooms,
                       "age": age, "floor": floor, "distance": distance, "balcony": balcony,
                       "rent": np.round(rent, 2)})
    for column, fraction in MISSING.items():
        df.loc[rng.uniform(size=n) < fraction, column] = np.nan
    return df[COLUMNS]


if __name__ == "__main__":
    out = Path(__file__).resolve().parent.parent / "data" / "apartments.csv"
    make_apartments(800, seed=2026).to_csv(out, index=False)
    print(f"wrote {out}")
