"""Rows the synthetic partnership (``synthetic.seed_bench``) derives from the differences it has
just built, as the services write them when the workflow goes the same way: each person's part
in a difference (``_stages.involve``) and each agency's entry for its own record of an outcome
(``chronology.add_entries``)."""

import random
from datetime import datetime, timedelta
from types import SimpleNamespace

from escalate import chronology
from escalate.models import Side

# How far back the agencies had recorded their outcomes on their own systems: most, within days.
CONFIRMED_SHARE = 0.85
RECENT = timedelta(days=10)  # outcomes newer than this are still being recorded


def involvements(differences: list[dict], stages: list[dict], assignments: list[dict]) -> list:
    """Each person's part in the differences: the raiser, the named professional, everyone
    assigned at any stage; once each, the raiser's as raised."""
    by_id = {row["id"]: row for row in differences}
    of_stage = {row["id"]: by_id[row["difference_id"]] for row in stages}
    people = [(d["raiser_id"], d) for d in differences]
    people += [(d["named_professional_id"], d) for d in differences]
    people += [(a["user_id"], of_stage[a["stage_id"]]) for a in assignments]
    parts = {}
    for user_id, d in people:
        if user_id is not None and (user_id, d["id"]) not in parts:
            parts[(user_id, d["id"])] = {
                "user_id": user_id,
                "difference_id": d["id"],
                "raised": user_id == d["raiser_id"],
                "is_open": d["closed_at"] is None,
                "raised_at": d["raised_at"],
            }
    return list(parts.values())


def chronology_entries(
    events: list[SimpleNamespace],
    differences: list[dict],
    stages: list[dict],
    assignments: list[dict],
    *,
    take_id,
    now: datetime,
    rng: random.Random,
) -> list[dict]:
    """At every outcome, one entry for the raising agency (the raiser's to record) and one for
    the receiving agency (whoever answered, else the stage's responder, else the named
    professional). Most are confirmed within days; the newest are not yet, and each was
    reminded once two days on, as the sweep does."""
    by_id = {row["id"]: row for row in differences}
    stage_of = {(row["difference_id"], row["level"]): row["id"] for row in stages}
    responders: dict[int, list[int]] = {}
    for a in assignments:
        if a["side"] == Side.RESPONDER:
            responders.setdefault(a["stage_id"], []).append(a["user_id"])
    rows = []
    for event in events:
        if not chronology.is_outcome(event.kind):
            continue
        d = by_id[event.difference_id]
        stage_id = stage_of.get((d["id"], event.stage_level))
        answered = responders.get(stage_id, []) if event.stage_level < 4 else []
        receiving_owner = (
            event.actor_id
            if event.actor_id is not None and event.actor_id in answered
            else answered[0]
            if answered
            else d["named_professional_id"]
        )
        for agency_id, owner in (
            (d["raising_agency_id"], d["raiser_id"]),
            (d["receiving_agency_id"], receiving_owner),
        ):
            remind_at = event.at + timedelta(days=2)
            confirmed = now - event.at > RECENT and rng.random() < CONFIRMED_SHARE
            confirmed_at = event.at + timedelta(days=rng.uniform(0.2, 3)) if confirmed else None
            rows.append(
                {
                    "id": take_id(),
                    "difference_id": d["id"],
                    "event_id": event.id,
                    "agency_id": agency_id,
                    "owner_id": owner,
                    "created_at": event.at,
                    "remind_at": remind_at,
                    "reminded_at": remind_at if remind_at < now and not confirmed else None,
                    "confirmed_at": confirmed_at,
                    "confirmed_by_id": owner if confirmed else None,
                    "recorded_on": confirmed_at.date() if confirmed else None,
                }
            )
    return rows
