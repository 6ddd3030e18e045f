"""Every read from the outside world: drop files now, feeds later."""
