from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tags", "0006_content_changed_at"),
    ]

    operations = [
        migrations.AlterField(
            model_name="articletag",
            name="origin",
            field=models.CharField(
                choices=[
                    ("rule", "Matched rule"),
                    ("feed", "Feed default"),
                    ("category", "Article's own categories or hashtags"),
                    ("parent", "Child topic"),
                    ("editor", "Editor"),
                    ("model", "Topic model"),
                    ("vetoed", "Rule match vetoed by the topic model"),
                ],
                max_length=10,
            ),
        ),
    ]
