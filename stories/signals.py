"""What story assignment announces. Listeners (tagging folds its topic listings by story) import
this module; `stories` imports none of them.

``story_changed`` is sent after the change has committed, with ``story_ids``: the stories whose
members or lead changed (including a story merged away, which then has no members).
"""

from django.dispatch import Signal

story_changed = Signal()
