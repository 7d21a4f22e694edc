"""Sub-commands of `wavenet`: each module registers its own with ``cli.command``."""
