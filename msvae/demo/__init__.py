"""The README's main command: every stage in turn on the embedded services."""
