"""Safety monitor: constraint set, watchdog, latched e-stop, and the node that owns cmd.safe."""
