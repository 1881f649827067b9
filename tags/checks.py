"""System checks over the topics' data (run by `manage.py check --database default` and at
the start of `migrate`)."""

from __future__ import annotations

from django.core.checks import CheckMessage, Tags, Warning, register
from django.db import DatabaseError

from tags import names


@register(Tags.database)
def check_case_clashing_names(app_configs, databases=None, **kwargs) -> list[CheckMessage]:
    if not databases:
        return []
    from tags.models import Tag

    try:
        rows = [names.Named(*row) for row in Tag.objects.values_list("pk", "name", "merged_into")]
    except DatabaseError:  # before the first migrate: nothing to check yet
        return []
    groups = names.case_clashes(rows)
    left = names.unresolved(groups, names.safe_renames(groups))
    if not left:
        return []
    return [
        Warning(
            f"Topics whose names differ only in case: {names.describe(left)}. Readers see one "
            "name; the migration adding the case-insensitive unique name stops until they are "
            "resolved.",
            hint=names.HOW_TO_FIX,
            id="tags.W001",
        )
    ]
