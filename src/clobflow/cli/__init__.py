"""The ``clobflow`` command line: one entry point with subcommands."""
