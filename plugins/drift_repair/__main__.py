import sys

from drift_repair.cli import main

sys.exit(main())
