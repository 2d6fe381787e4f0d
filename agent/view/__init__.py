"""Live view: a node that logs what the robot sees, does and is stopped for to rerun."""
