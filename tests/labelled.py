"""A small invented labelled archive for the topic-model tests (no corpus text)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

COFFEE = [
    "Arabica growers in the highlands expect a smaller harvest after frost hit the bushes.",
    "Roasters raised the price of espresso blends as bean shipments from the port slowed.",
    "The cooperative said its robusta exports rose, with cafes in Europe buying more beans.",
    "Coffee futures climbed as traders weighed dry weather in the plantations.",
]
VOLCANO = [
    "Lava flows reached the outskirts of the village and ash closed the small airport.",
    "Seismologists recorded tremors under the crater and raised the eruption alert level.",
    "Residents fled as the volcano sent a plume of ash kilometres into the sky.",
    "The magma chamber is swelling, the observatory said, and the summit is off limits.",
]
OTHER = [
    "The city council approved a new budget for road repairs and school buildings.",
    "A local football club signed two young players from a rival team on Friday.",
    "Parliament debated a bill on pensions, with a vote expected next month.",
    "The museum opened an exhibition of paintings lent by a private collector.",
    "Bus drivers agreed a new contract after weeks of talks with the operator.",
]


def article(kind: str, rng: random.Random) -> tuple[str, str]:
    pool = {"coffee": COFFEE, "volcano": VOLCANO, "other": OTHER}[kind]
    body = " ".join(rng.sample(pool, 3) + rng.sample(OTHER, 2))
    title = {
        "coffee": "Bean prices move as harvest nears",
        "volcano": "Eruption warning raised on the island",
        "other": "Council news in brief",
    }[kind]
    return title, body


def records(n_each: int = 14, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)  # noqa: S311 - a reproducible fixture
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    kinds = ["coffee"] * n_each + ["volcano"] * n_each + ["other"] * (2 * n_each)
    rng.shuffle(kinds)
    for i, kind in enumerate(kinds):
        title, body = article(kind, rng)
        codes = {"coffee": ["cof"], "volcano": ["volc"], "other": []}[kind]
        if kind == "other" and i % 7 == 0:
            codes = ["misc-code"]
        rows.append(
            {
                "id": str(i + 1),
                "title": title,
                "body": body,
                "topics": codes,
                "date": (start + timedelta(days=i)).isoformat(),
            }
        )
    return rows


def write_jsonl(path, rows) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
