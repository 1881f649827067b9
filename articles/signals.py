"""What ingestion announces. Other apps (tagging) listen; `articles` imports none of them.

Each signal is sent with `article=` (the saved Article) once its state has moved on.
"""

from django.dispatch import Signal

# The extraction step stored its result: the article is extracted (ok), a duplicate, or failed
# extraction. Listeners place it (tags, counts) and may raise: the article then stays
# "extracted, not tagged" and the sweep announces it again.
article_extracted = Signal()
# Fetching gave up on the article (it is failed): listeners hide whatever it had.
article_failed = Signal()
# An editor hid or showed the article again (`is_hidden` saved): listeners list or unlist it.
article_visibility_changed = Signal()
# `manage.py run` reports a stage ("set up" after migrating, "ingested" after the first
# ingest): listeners add their own lines through `say` (one line each).
run_report = Signal()
