"""Create the Editors and Operators groups with least privilege, and the starter topics."""

from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.utils.text import slugify

# Editors curate topics and articles; they never touch feeds or jobs' machinery.
EDITOR_PERMISSIONS = {
    "tags": {
        "tag": ["add", "change", "delete", "view"],
        "alias": ["add", "change", "delete", "view"],
        "exclusion": ["add", "change", "delete", "view"],
        "articletag": ["add", "change", "delete", "view"],
        "tagdecision": ["add", "change", "delete", "view"],
        "retagjob": ["view"],
    },
    "articles": {"article": ["change", "view"], "source": ["view"]},
}
# Operators run ingestion: feeds, sources, polls, stored pages, re-extraction, retag jobs.
OPERATOR_PERMISSIONS = {
    "articles": {
        "feed": ["add", "change", "delete", "view"],
        "source": ["add", "change", "delete", "view"],
        "polllog": ["view"],
        "rawpage": ["view"],
        "article": ["view", "delete"],
        "articlefeed": ["view"],
    },
    "tags": {"tag": ["view"], "retagjob": ["add", "view"]},
}

# (name, parent, aliases, exclusions); an alias given as (phrase, True) is case-sensitive.
STARTER_TAGS = [
    (
        "critical minerals",
        None,
        ["critical mineral", "strategic minerals", "critical raw materials", "battery metals"],
        [],
    ),
    (
        "rare earths",
        "critical minerals",
        [
            "rare earth",
            "rare earth elements",
            "REE",
            "neodymium",
            "dysprosium",
            "terbium",
            "lanthanides",
            "praseodymium",
        ],
        [],
    ),
    ("lithium", "critical minerals", ["lithium carbonate", "lithium hydroxide", "spodumene"], []),
    ("gallium and germanium", "critical minerals", ["gallium", "germanium"], []),
    ("graphite", "critical minerals", ["graphite anode", "natural graphite"], []),
    (
        "export controls",
        None,
        [
            "export control",
            "export ban",
            "export restrictions",
            "export licence",
            "export license",
            "entity list",
            "export curbs",
        ],
        [],
    ),
    (
        "semiconductors",
        None,
        [
            "semiconductor",
            "chipmaker",
            "chip maker",
            "microchip",
            "chip export",
            "TSMC",
            "advanced chips",
            "lithography",
        ],
        [],
    ),
    ("tariffs", None, ["tariff", "import duties", "customs duties", "trade war", "levies"], []),
    (
        "deep-sea mining",
        None,
        [
            "deep sea mining",
            "seabed mining",
            "seabed minerals",
            "polymetallic nodules",
            "International Seabed Authority",
            "seabed deposit",
        ],
        [],
    ),
    (
        "supply chains",
        None,
        ["supply chain", "supply disruption", "reshoring", "friend-shoring", "chokepoint"],
        [],
    ),
    ("mining", None, ["mining company", "miners", "open-pit", "ore processing", "refinery"], []),
    ("magnets", None, ["permanent magnet", "magnet maker", "NdFeB"], ["magnet school"]),
    ("batteries", None, ["battery maker", "EV battery", "cathode", "battery cell"], []),
    ("electric vehicles", None, ["electric vehicle", "EVs", "electric car"], []),
    (
        "trade policy",
        None,
        ["trade deal", "trade talks", "trade agreement", "World Trade Organization", "WTO"],
        [],
    ),
    (
        "defence industry",
        None,
        [
            "defense industry",
            "defence contractor",
            "defense contractor",
            "arms maker",
            "military supply",
        ],
        [],
    ),
    ("China", None, ["Chinese", "Beijing", "PRC"], ["fine china", "china clay"]),
    ("Japan", None, ["Japanese", "Tokyo"], []),
    (
        "United States",
        None,
        ["U.S.", "USA", "American", "White House", "Washington"],
        ["Washington state"],
    ),
    ("Taiwan", None, ["Taiwanese", "Taipei"], []),
    ("European Union", None, [("EU", True), "Brussels", "European Commission"], []),
    ("Australia", None, ["Australian", "Canberra"], []),
]


def grant(apps, group_name, spec):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=group_name)
    for app_label, models in spec.items():
        for model, actions in models.items():
            codenames = [f"{action}_{model}" for action in actions]
            perms = Permission.objects.filter(
                content_type__app_label=app_label, codename__in=codenames
            )
            group.permissions.add(*perms)


def create_groups(apps, schema_editor):
    # Permissions are normally created after all migrations; these groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    grant(apps, "Editors", EDITOR_PERMISSIONS)
    grant(apps, "Operators", OPERATOR_PERMISSIONS)


def create_starter_tags(apps, schema_editor):
    Tag = apps.get_model("tags", "Tag")
    Alias = apps.get_model("tags", "Alias")
    Exclusion = apps.get_model("tags", "Exclusion")
    by_name = {}
    for name, parent, aliases, exclusions in STARTER_TAGS:
        tag, _ = Tag.objects.get_or_create(
            name=name,
            defaults={
                "slug": slugify(name),
                "description": f"Latest news and articles about {name}",
                "parent": by_name.get(parent),
            },
        )
        by_name[name] = tag
        for alias in aliases:
            phrase, case_sensitive = alias if isinstance(alias, tuple) else (alias, False)
            Alias.objects.get_or_create(
                tag=tag, phrase=phrase, defaults={"case_sensitive": case_sensitive}
            )
        for phrase in exclusions:
            Exclusion.objects.get_or_create(tag=tag, phrase=phrase)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("articles", "0002_initial"),
        ("tags", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_groups, migrations.RunPython.noop),
        migrations.RunPython(create_starter_tags, migrations.RunPython.noop),
    ]
