"""The subcommands of `mallocsim`, one module each (see mallocsim.cli)."""
