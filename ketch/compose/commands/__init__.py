"""One module per command family; each command is ``(ctx, args, path) -> exit code``."""
