"""CLI commands (placeholder until its issue lands)."""


def register(commands, experiments) -> None:
    """Add this group's commands to the ``emolab`` parser."""
