"""`amibot teleop --backend robot` wiring: which launch file and which overrides."""

from __future__ import annotations

from agent.runtime.graph import load_launch
from agent.teleop.cli import LAUNCH_ROBOT, LEADER_DRIVER, ROBOT_SCRIPT, build_parser, main, overrides


def test_robot_backend_overrides_and_graph() -> None:
    a = build_parser().parse_args(["--backend", "robot", "--emulate", "--device", "script"])
    items = overrides(a, "/dev/tty")
    assert "teleop.device=file" in items and f"teleop.script_file={ROBOT_SCRIPT}" in items  # no sim expert here
    assert "robot.emulate=true" in items and "robot.cameras.wrist.source=test_pattern" in items
    assert not any(x.startswith("sim.") for x in items)
    spec = load_launch(LAUNCH_ROBOT, items)  # validates every node's config, the hardware node's included
    names = [n.name for n in spec.nodes]
    assert names == ["robot", "safety", "teleop", "recorder"]
    safety = next(n for n in spec.nodes if n.name == "safety")
    assert "backend_rpc" not in safety.params and safety.params["collision"]["scene"] == ""
    a = build_parser().parse_args(["--backend", "robot", "--device", "leader"])
    items = overrides(a, "/dev/tty")
    assert f"teleop.leader_driver={LEADER_DRIVER}" in items and "robot.emulate=true" not in items


def test_emulate_needs_the_robot_backend() -> None:
    assert main(["--emulate"]) == 2


def test_no_canned_motion_on_a_real_robot(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--backend", "robot", "--device", "script"]) == 2
    assert "--device file --script-file" in capsys.readouterr().err
