"""How the pages poll live fragments (a run's progress, a catalog being stored): one place for
the apps that each poll (uploads and matcher may not import each other)."""

# How often a page polls a live fragment, in seconds.
POLL_SECONDS = 2
# htmx stops polling an element when its response has this status (and still swaps it).
HTMX_STOP_POLLING = 286
