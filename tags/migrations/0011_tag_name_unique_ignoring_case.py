"""Topic names unique ignoring case, after resolving what is safe to resolve (tags.names).

A merged-away topic whose name clashes is renamed (its slug, and so its redirect, stay). Two
topics readers can reach whose names differ only in case are an editor's call (merge or
rename): the migration stops, changing nothing, and names them; `manage.py check --database
default` names them too (tags.W001). Run `migrate` again once they are resolved.
"""

import django.db.models.functions.text
from django.db import migrations, models

from tags import names


def resolve_or_refuse(apps, schema_editor):
    Tag = apps.get_model("tags", "Tag")
    rows = [names.Named(*row) for row in Tag.objects.values_list("pk", "name", "merged_into")]
    groups = names.case_clashes(rows)
    renames = names.safe_renames(groups)
    left = names.unresolved(groups, renames)
    if left:
        raise RuntimeError(
            "Cannot make topic names unique ignoring case while these topics clash: "
            f"{names.describe(left)}. {names.HOW_TO_FIX} Then run migrate again; nothing "
            "was changed."
        )
    for pk, name in renames.items():
        Tag.objects.filter(pk=pk).update(name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("tags", "0010_retag_job_changes"),
    ]

    operations = [
        migrations.RunPython(resolve_or_refuse, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="tag",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("name"),
                name="tag_name_unique_ignoring_case",
                violation_error_message="Another topic already has this name in another case.",
            ),
        ),
    ]
