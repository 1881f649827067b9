"""Topic names that differ only in case, in a database made before the form refused them."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from tags import names
from tags.checks import check_case_clashing_names
from tags.models import Tag
from tests.factories import make_tag

migration = importlib.import_module("tags.migrations.0011_tag_name_unique_ignoring_case")


def test_clashes_are_grouped_and_only_merged_away_names_are_renamed():
    rows = [
        names.Named(1, "Hafnia"),
        names.Named(2, "hafnia"),
        names.Named(3, "EU"),
        names.Named(4, "eu", merged_into_id=3),
        names.Named(5, "Tin"),
    ]
    groups = names.case_clashes(rows)
    assert [[r.pk for r in g] for g in groups] == [[3, 4], [1, 2]]
    renames = names.safe_renames(groups)
    assert renames == {4: "eu (merged away, 4)"}
    assert [[r.pk for r in g] for g in names.unresolved(groups, renames)] == [[1, 2]]
    assert "“Hafnia” (id 1) and “hafnia” (id 2)" in names.describe(groups)


def test_a_long_merged_away_name_stays_within_the_column():
    renamed = names.safe_renames([[names.Named(1, "x" * 100), names.Named(2, "X" * 100, 1)]])
    assert len(renamed[2]) == names.NAME_MAX


@pytest.mark.django_db
def test_the_database_refuses_a_name_differing_only_in_case():
    make_tag("Hafnia")
    with pytest.raises(IntegrityError), transaction.atomic():
        Tag.objects.create(name="hafnia", slug="hafnia-2")


@pytest.mark.django_db
@pytest.mark.postgres
def test_an_old_database_with_clashes_is_reported_and_the_migration_stops_safely():
    # A database from before the constraint: drop it inside this test's transaction (rolled
    # back after), and make the clashes the old form let through.
    constraint = next(c for c in Tag._meta.constraints if c.name.endswith("ignoring_case"))
    with connection.schema_editor() as editor:
        editor.remove_constraint(Tag, constraint)
    live = make_tag("Hafnia")
    other = Tag.objects.create(name="hafnia", slug="hafnia-2")
    eu = make_tag("OPEC")
    merged = Tag.objects.create(name="opec", slug="opec-old", merged_into=eu)

    warnings = check_case_clashing_names(None, databases=["default"])
    assert [w.id for w in warnings] == ["tags.W001"]
    assert "“Hafnia”" in warnings[0].msg and "“opec”" not in warnings[0].msg

    with pytest.raises(RuntimeError, match=r"“Hafnia” .* and “hafnia”"):
        migration.resolve_or_refuse(apps, None)
    assert Tag.objects.get(pk=merged.pk).name == "opec", "nothing changed"

    # An editor merges (or renames) one of the live pair: the migration can go on.
    Tag.objects.filter(pk=other.pk).update(merged_into=live)
    migration.resolve_or_refuse(apps, None)
    assert Tag.objects.get(pk=merged.pk).name == f"opec (merged away, {merged.pk})"
    assert Tag.objects.get(pk=merged.pk).slug == "opec-old"
    assert Tag.objects.get(pk=other.pk).name == f"hafnia (merged away, {other.pk})"
    assert check_case_clashing_names(None, databases=["default"]) == []
    # The dropped constraint comes back with this test's rollback.


@pytest.mark.django_db
def test_the_check_stays_quiet_without_a_database_and_on_clean_data():
    assert check_case_clashing_names(None) == []
    assert check_case_clashing_names(None, databases=["default"]) == []
    call_command("check", "--database", "default", "--tag", "database", "--fail-level", "WARNING")
