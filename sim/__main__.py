"""`python -m sim --task fetch --seed N [--gui] [--video out.mp4]`."""

import sys

from sim.run_episode import main

sys.exit(main())
