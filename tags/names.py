"""Topic names that differ only in case ("Magnets" beside "magnets"). Pure.

Readers and the matcher treat them as one name, and the topic form refuses a new one; a
database made before that check may still hold some. ``tags.checks`` reports them, and the
migration that adds the case-insensitive unique constraint resolves what is safe to resolve
by itself (a merged-away topic's name: readers never see it, its address redirects by slug)
and refuses, listing them, while two topics readers can reach still clash: merging or renaming
those is an editor's choice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

NAME_MAX = 100


@dataclass(frozen=True)
class Named:
    pk: int
    name: str
    merged_into_id: int | None = None


def case_clashes(rows: Iterable[Named]) -> list[list[Named]]:
    """Groups of two or more topics whose names are equal ignoring case, oldest (lowest id)
    first, groups in name order."""
    groups: dict[str, list[Named]] = {}
    for row in rows:
        # lower(), as PostgreSQL's Lower() in the constraint folds it.
        groups.setdefault(row.name.lower(), []).append(row)
    return [sorted(g, key=lambda r: r.pk) for _, g in sorted(groups.items()) if len(g) > 1]


def safe_renames(groups: list[list[Named]]) -> dict[int, str]:
    """New names for merged-away topics that clash: each keeps its slug (so its redirect) and
    gets a name no reader sees. A group with one topic left that is not merged away is then
    resolved; one with two or more is not."""
    renames: dict[int, str] = {}
    for group in groups:
        for row in group:
            if row.merged_into_id is not None:
                suffix = f" (merged away, {row.pk})"
                renames[row.pk] = row.name[: NAME_MAX - len(suffix)] + suffix
    return renames


def unresolved(groups: list[list[Named]], renames: dict[int, str]) -> list[list[Named]]:
    left = [[row for row in group if row.pk not in renames] for group in groups]
    return [group for group in left if len(group) > 1]


def describe(groups: list[list[Named]]) -> str:
    return "; ".join(
        " and ".join(f"“{row.name}” (id {row.pk})" for row in group) for group in groups
    )


HOW_TO_FIX = (
    "In the admin, merge one topic into the other (Topics → select → Merge), or rename one "
    "(its address stays: the slug does not change)."
)
