"""``buckypaper-os demo``: the whole flow on one machine."""
