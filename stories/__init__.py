"""Stories: articles about one event, from any number of outlets, grouped as one."""
