"""World-model tests."""

import os

# Tests train on the CPU whatever the machine has, unless asked: AMIBOT_TEST_DEVICE=cuda runs them on the GPU.
DEVICE = os.environ.get("AMIBOT_TEST_DEVICE", "cpu")
