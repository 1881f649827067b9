"""A GIN index over the weighted English tsvector that `articles.search` queries.

The expression must stay identical to the one `articles.search._postgres_matches` builds, or
PostgreSQL will not use the index. SQLite has no such index and searches by substring.
"""

from django.db import migrations

INDEX_NAME = "article_search_idx"
CREATE = f"""
CREATE INDEX IF NOT EXISTS {INDEX_NAME} ON articles_article USING gin ((
    setweight(to_tsvector('english'::regconfig, COALESCE(title, '')), 'A')
    || setweight(to_tsvector('english'::regconfig, COALESCE(summary, '')), 'B')
    || setweight(to_tsvector('english'::regconfig, COALESCE(LEFT(text, 100000), '')), 'C')
))
"""
DROP = f"DROP INDEX IF EXISTS {INDEX_NAME}"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("articles", "0002_initial"),
    ]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
