"""Teleoperation: command sources (keyboard, scripted, leader arm) behind one teleop node."""
