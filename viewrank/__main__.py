import sys

from viewrank.cli import main

sys.exit(main())
