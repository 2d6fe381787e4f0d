"""Datasets in the LeRobot v3.0 layout: writer, reader, validation, expert and bus recording."""
