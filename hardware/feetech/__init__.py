"""Feetech STS/SMS serial-bus servos: control table, bus driver, calibration, emulator, leader arm."""
