"""What story assignment announces. Listeners (tagging folds its topic listings by story) import
this module; `stories` imports none of them.

``story_changed`` is sent after the change has committed, with
- ``story_ids``: the stories whose members or lead changed (including a story merged away,
  which then has no members);
- ``moved``: the articles that joined or left a story (a merge moves every member of the story
  merged away; a new article joins its story);
- ``leads``: the articles that became or stopped being a story's lead.

A listener can then redo only what depends on those articles, at a cost that does not grow with
the stories' size. ``moved`` is None when the sender does not know (a restory chunk): a
listener must then take every member of ``story_ids`` as moved.
"""

from django.dispatch import Signal

story_changed = Signal()
