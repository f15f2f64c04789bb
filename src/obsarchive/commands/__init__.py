"""Subcommands of the ``obsarchive`` command that span layers."""
